// Package signature checks Twilio's X-Twilio-Signature on webhook requests
// (Room status callbacks, Debugger webhooks) in time linear in the request
// and with work bounded before any HMAC is computed.
//
// # The signed string
//
// Twilio signs "the exact URL your application supplied" followed by every
// POST parameter, sorted by name, as name+value with no separators; the
// signature is base64(HMAC-SHA1(auth token, string))
// (https://www.twilio.com/docs/usage/webhooks/webhooks-security). A GET
// webhook carries its parameters in the URL's query and is signed over the
// URL alone. A JSON body is signed over the URL, whose bodySHA256 query
// parameter holds the hex SHA-256 of the body.
//
// A [Validator] never builds that string: it sorts the parameters once
// (O(n log n)), appends them once into a reused buffer (linear), and
// writes each URL form and that buffer into a reused HMAC state. A check
// that matches one of the URL forms (1) to (3) below allocates nothing but
// the [net/url.Values] that [Validator.ValidateForm] returns.
//
// # Bounded work
//
// Before any HMAC a [Validator] rejects, in constant or linear time:
//   - a header that is not the base64 of a 20-byte HMAC-SHA1
//     ([ErrNoSignature], [ErrMalformedSignature]);
//   - more parameters than [DefaultMaxParams] or more bytes than
//     [DefaultMaxBytes] (a [*LimitError]; both adjustable with
//     [WithMaxParams] and [WithMaxBytes]);
//   - a form body that is not valid application/x-www-form-urlencoded
//     (a [*FormError]).
//
// # URL variants
//
// Twilio does not always sign the URL byte for byte as it arrives, so a
// signature is accepted if it matches any of these forms of the URL, tried
// in this order and each at most once:
//
//  1. the URL as given;
//  2. the URL with its port removed if it has one, or with the scheme's
//     default port (:443 for https, :80 otherwise) added if it has none,
//     changing only the authority: Twilio signs with or without the port
//     inconsistently, and Twilio's helper libraries (twilio-go's
//     client.RequestValidator, twilio-node's validateRequest) accept both;
//  3. with [WithSchemeVariants], the URL with the other of http and https,
//     with and without that scheme's default port;
//  4. the form twilio-go's RequestValidator tries for (2), which re-encodes
//     the URL through net/url, so that every request twilio-go accepts is
//     accepted here too;
//  5. forms (1) to (3) with only their query re-encoded, in the three ways
//     twilio-node tries or Twilio is known to sign: %3A and %40 decoded to
//     ":" and "@" (Twilio signs those unescaped in the parameters it adds
//     to a GET query but sends them escaped, twilio/twilio-node#621); as a
//     WHATWG URL parser serialises it ("'", '"', "<", ">", space, controls
//     and non-ASCII escaped); and round-tripped through Node's querystring
//     (decoded, then all but A-Z a-z 0-9 - _ . ! ~ * ' ( ) escaped), for
//     back ends that signed an escaped form (twilio/twilio-node#1059).
//
// A form is built only if the forms before it did not match, and forms
// (1) to (3) are built without allocating. Every form differs
// from the URL as given only in its port, its scheme (3), or the encoding
// of its query, never in the decoded names and values of the query: a
// signature over one form vouches for what the handler reads from another.
// The path and host are never re-encoded except in (4).
//
// HMAC-SHA1 hashes its input in order and the URL comes first, so the
// parameters are hashed again for each form tried; they are written once
// into a reused buffer, so each further form costs one HMAC over the
// request and no allocation. A forged request pays for every form.
//
// # Repeated parameters
//
// A parameter given several times is signed as Twilio's helper libraries for
// Node.js and Python sign it: its distinct values in sorted order, each as
// name+value. twilio-go's RequestValidator instead signs the first value
// only and ignores the others, which accepts values nobody signed; this
// package does not follow it there.
//
// # Errors
//
// Every error is one of the sentinels below (test with [errors.Is]) or a
// [*LimitError] or [*FormError] (test with [errors.As]; they also match
// [ErrLimit] and [ErrMalformedForm]). No error ever contains the auth token,
// the signature, or a parameter's value.
package signature
