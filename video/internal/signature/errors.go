package signature

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by [Validator] methods, alone or inside a
// [*LimitError] or [*FormError].
var (
	// ErrNoSignature: the X-Twilio-Signature header is empty or absent.
	ErrNoSignature = errors.New("signature: no X-Twilio-Signature")
	// ErrMalformedSignature: the header is not the standard, padded base64
	// of a 20-byte HMAC-SHA1 (28 characters). No HMAC was computed.
	ErrMalformedSignature = errors.New("signature: X-Twilio-Signature is not base64 of a 20-byte HMAC-SHA1")
	// ErrMismatch: the header is well formed but matches none of the URL
	// forms tried with the parameters given (see the package doc).
	ErrMismatch = errors.New("signature: X-Twilio-Signature does not match the URL and parameters")
	// ErrLimit is matched by every [*LimitError].
	ErrLimit = errors.New("signature: request over a limit")
	// ErrMalformedForm is matched by every [*FormError].
	ErrMalformedForm = errors.New("signature: malformed form body")
	// ErrNoBodyHash: [Validator.ValidateJSON] was given a URL without a
	// bodySHA256 query parameter.
	ErrNoBodyHash = errors.New("signature: URL has no bodySHA256 parameter")
	// ErrBodyHash: the URL's signature is valid but the body's SHA-256 is
	// not the one its bodySHA256 parameter gives.
	ErrBodyHash = errors.New("signature: body does not match the URL's bodySHA256")
)

// LimitError reports a request rejected, before any HMAC, for being larger
// than the [Validator] accepts. It matches [ErrLimit] with [errors.Is].
type LimitError struct {
	// Limit names the limit: "params" (parameter count, or for a raw form
	// body the count of "&"-separated fields) or "bytes" (URL plus
	// parameter names and values, or plus the raw body).
	Limit string
	// Max is the configured limit; Got is what the request had.
	Max, Got int
}

// Error names the limit and both counts.
func (e *LimitError) Error() string {
	return fmt.Sprintf("signature: %d %s, over the limit of %d", e.Got, e.Limit, e.Max)
}

// Is reports whether target is [ErrLimit].
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// FormError reports a form body that is not valid
// application/x-www-form-urlencoded, with the same rules as
// [net/url.ParseQuery]. It matches [ErrMalformedForm] with [errors.Is].
type FormError struct {
	// Offset is the byte offset in the body of the malformed field.
	Offset int
	// Reason says what is wrong, without quoting the body.
	Reason string
}

// Error gives the offset and the reason.
func (e *FormError) Error() string {
	return fmt.Sprintf("signature: malformed form body at byte %d: %s", e.Offset, e.Reason)
}

// Is reports whether target is [ErrMalformedForm].
func (e *FormError) Is(target error) bool { return target == ErrMalformedForm }
