package signature

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Limits applied by [New] unless changed with [WithMaxParams] and
// [WithMaxBytes].
const (
	// DefaultMaxParams bounds the parameters of a request (for a raw form
	// body, its "&"-separated fields). Twilio's Room status callbacks carry
	// at most about 25 fields
	// (https://www.twilio.com/docs/video/api/status-callbacks) and Debugger
	// webhooks 7 (https://www.twilio.com/docs/usage/troubleshooting/debugging-event-webhooks),
	// so 256 leaves ten times the room while keeping the sort of a forged
	// request short.
	DefaultMaxParams = 256
	// DefaultMaxBytes bounds the size of a request: the URL plus the
	// parameters' names and values, or plus the raw body. Each URL form
	// hashed is at most three times the URL (a re-encoded query) plus the
	// parameters. Room callbacks are a few hundred bytes and a Debugger
	// event with its webhook excerpt a few KiB; 64 KiB matches the webhook
	// handlers' default body limit.
	DefaultMaxBytes = 64 << 10
)

// sigLen is the length of the padded standard base64 of a SHA-1 sum.
var sigLen = base64.StdEncoding.EncodedLen(sha1.Size)

// sigEncoding decodes the header: standard alphabet, padded, and strict, so
// that only the one encoding Twilio (and twilio-go) produce is accepted.
var sigEncoding = base64.StdEncoding.Strict()

// Validator checks X-Twilio-Signature headers against one auth token. It
// holds no per-request state and is safe for simultaneous use by multiple
// goroutines; each check borrows a reusable HMAC state and buffers from a
// pool.
type Validator struct {
	key       []byte
	maxParams int
	maxBytes  int
	schemes   bool
	pool      sync.Pool // of *state

	// matched, if set (tests only), is called with the URL form that
	// matched.
	matched func(url []byte)
}

// Option configures a [Validator] in [New]. An invalid value makes New
// return an error naming the option.
type Option func(*Validator) error

// WithMaxParams sets the most parameters a request may carry (default
// [DefaultMaxParams]); n must be positive. For [Validator.ValidateForm] the
// "&"-separated fields of the body are counted, empty ones included.
func WithMaxParams(n int) Option {
	return func(v *Validator) error {
		if n <= 0 {
			return fmt.Errorf("signature: WithMaxParams(%d): want n > 0", n)
		}
		v.maxParams = n
		return nil
	}
}

// WithMaxBytes sets the largest request accepted (default
// [DefaultMaxBytes]): the bytes of the URL plus the parameters' names and
// values, or plus the raw body. n must be positive.
func WithMaxBytes(n int) Option {
	return func(v *Validator) error {
		if n <= 0 {
			return fmt.Errorf("signature: WithMaxBytes(%d): want n > 0", n)
		}
		v.maxBytes = n
		return nil
	}
}

// WithSchemeVariants also accepts a signature made over the URL with the
// other of http and https (with and without that scheme's default port):
// for a server behind a proxy that terminates TLS and builds the URL from
// the request it received. It doubles the work spent on a forged request.
// Prefer passing the URL exactly as configured at Twilio when it is known.
func WithSchemeVariants() Option {
	return func(v *Validator) error {
		v.schemes = true
		return nil
	}
}

// New returns a Validator for signatures made with authToken, the account's
// Auth Token (https://www.twilio.com/docs/usage/webhooks/webhooks-security).
// An empty token is an error: anyone could sign with it.
func New(authToken string, opts ...Option) (*Validator, error) {
	if authToken == "" {
		return nil, errors.New("signature: New: empty auth token")
	}
	v := &Validator{
		key:       []byte(authToken),
		maxParams: DefaultMaxParams,
		maxBytes:  DefaultMaxBytes,
	}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("signature: New: option %d is nil", i)
		}
		if err := o(v); err != nil {
			return nil, err
		}
	}
	v.pool.New = func() any { return &state{mac: hmac.New(sha1.New, v.key)} }
	return v, nil
}

// state is one check's scratch space, reused through Validator.pool.
type state struct {
	mac    hash.Hash
	sum    [sha1.Size]byte
	want   [sha1.Size + 1]byte // decoded header (one spare byte)
	suffix []byte              // the sorted name+value pairs
	urls   []byte              // the URL forms tried, back to back
	ends   []int               // end offset of each form in urls
	keys   []string            // sorted names (Validate)
	vals   []string            // sorted values of one name (Validate)
	dec    []byte              // decoded form body (ValidateForm)
	fields []field             // form fields in body order (ValidateForm)
	sorted []field             // form fields sorted by name, value
}

// field locates one decoded form field: name dec[k0:k1], value dec[k1:v1].
type field struct{ k0, k1, v1 int }

// maxKeep bounds the buffers a state keeps when returned to the pool, so
// that one large request does not pin memory.
const (
	maxKeep       = 64 << 10
	maxKeepFields = 4 * DefaultMaxParams
)

func (v *Validator) get() *state { return v.pool.Get().(*state) }

func (v *Validator) put(st *state) {
	if cap(st.suffix) > maxKeep || cap(st.dec) > maxKeep || cap(st.urls) > maxKeep ||
		cap(st.fields) > maxKeepFields || cap(st.sorted) > maxKeepFields || cap(st.keys) > maxKeepFields {
		return
	}
	clear(st.keys[:cap(st.keys)]) // drop references to callers' strings
	clear(st.vals[:cap(st.vals)])
	v.pool.Put(st)
}

// decodeSig checks the header's form and decodes it into st.want.
func (st *state) decodeSig(sig string) error {
	if sig == "" {
		return ErrNoSignature
	}
	if len(sig) != sigLen {
		return ErrMalformedSignature
	}
	var src [32]byte
	n, err := sigEncoding.Decode(st.want[:], append(src[:0], sig...))
	if err != nil || n != sha1.Size {
		return ErrMalformedSignature
	}
	return nil
}

// Validate checks sig, the X-Twilio-Signature header, against rawURL, the
// full URL Twilio requested (with its query string), and params, the POST
// form parameters (nil for a GET webhook, whose parameters are in rawURL).
// Every parameter received must be passed: Twilio may add new ones
// without notice and signs them all.
//
// It returns nil if the signature is valid for one of the URL forms in the
// package doc; otherwise [ErrNoSignature], [ErrMalformedSignature], a
// [*LimitError] (more than the allowed parameter values, or bytes in rawURL
// and the names and values), or [ErrMismatch].
func (v *Validator) Validate(rawURL string, params url.Values, sig string) error {
	st := v.get()
	defer v.put(st)
	if err := st.decodeSig(sig); err != nil {
		return err
	}
	if len(params) > v.maxParams {
		return &LimitError{Limit: "params", Max: v.maxParams, Got: len(params)}
	}
	n := 0
	for _, vs := range params {
		n += len(vs)
	}
	if n > v.maxParams {
		return &LimitError{Limit: "params", Max: v.maxParams, Got: n}
	}
	size := len(rawURL)
	for k, vs := range params {
		size += len(vs) * len(k)
		for _, s := range vs {
			size += len(s)
		}
	}
	if size > v.maxBytes {
		return &LimitError{Limit: "bytes", Max: v.maxBytes, Got: size}
	}

	st.keys = st.keys[:0]
	for k := range params {
		st.keys = append(st.keys, k)
	}
	slices.Sort(st.keys)
	st.suffix = st.suffix[:0]
	for _, k := range st.keys {
		vs := params[k]
		if len(vs) == 1 {
			st.suffix = append(append(st.suffix, k...), vs[0]...)
			continue
		}
		st.vals = append(st.vals[:0], vs...)
		slices.Sort(st.vals)
		for i, s := range st.vals {
			if i > 0 && s == st.vals[i-1] {
				continue
			}
			st.suffix = append(append(st.suffix, k...), s...)
		}
	}
	return v.match(st, rawURL)
}

// ValidateForm checks sig, the X-Twilio-Signature header, against rawURL,
// the full URL Twilio requested, and body, an
// application/x-www-form-urlencoded POST body, and returns the body's
// parameters (as [net/url.ParseQuery] would) if the signature is valid.
//
// Its size is checked before the body is parsed: it returns
// [ErrNoSignature] or [ErrMalformedSignature]; a [*LimitError] if rawURL and
// body exceed the byte limit or body has more "&"-separated fields than the
// parameter limit; a [*FormError] if body is not valid form encoding
// (ParseQuery's rules: a ";" in a field or a malformed %-escape is an
// error); or [ErrMismatch]. On error the returned Values is nil.
func (v *Validator) ValidateForm(rawURL string, body []byte, sig string) (url.Values, error) {
	st := v.get()
	defer v.put(st)
	if err := v.validateForm(st, rawURL, body, sig); err != nil {
		return nil, err
	}
	return st.values(), nil
}

// ValidateFormTo is [Validator.ValidateForm] that sets *f to the body's
// fields instead of building url.Values: one allocation (the decoded body)
// when f is reused. On error *f is unchanged.
func (v *Validator) ValidateFormTo(rawURL string, body []byte, sig string, f *Form) error {
	st := v.get()
	defer v.put(st)
	if err := v.validateForm(st, rawURL, body, sig); err != nil {
		return err
	}
	f.s = string(st.dec)
	f.fields = append(f.fields[:0], st.fields...)
	return nil
}

func (v *Validator) validateForm(st *state, rawURL string, body []byte, sig string) error {
	if err := st.decodeSig(sig); err != nil {
		return err
	}
	if size := len(rawURL) + len(body); size > v.maxBytes {
		return &LimitError{Limit: "bytes", Max: v.maxBytes, Got: size}
	}
	if n := bytes.Count(body, []byte{'&'}) + 1; n > v.maxParams {
		return &LimitError{Limit: "params", Max: v.maxParams, Got: n}
	}
	if err := st.parseForm(body); err != nil {
		return err
	}

	st.sorted = append(st.sorted[:0], st.fields...)
	dec := st.dec
	slices.SortFunc(st.sorted, func(a, b field) int {
		if c := bytes.Compare(dec[a.k0:a.k1], dec[b.k0:b.k1]); c != 0 {
			return c
		}
		return bytes.Compare(dec[a.k1:a.v1], dec[b.k1:b.v1])
	})
	st.suffix = st.suffix[:0]
	for i, f := range st.sorted {
		if i > 0 {
			p := st.sorted[i-1]
			if bytes.Equal(dec[f.k0:f.v1], dec[p.k0:p.v1]) && f.k1-f.k0 == p.k1-p.k0 {
				continue // the same name and value again: signed once
			}
		}
		st.suffix = append(st.suffix, dec[f.k0:f.v1]...)
	}
	return v.match(st, rawURL)
}

// ValidateJSON checks a request whose body is not form-encoded (JSON):
// Twilio then adds bodySHA256, the hex SHA-256 of the body, to the URL's
// query and signs the URL alone
// (https://www.twilio.com/docs/usage/webhooks/webhooks-security).
//
// It returns [ErrNoSignature] or [ErrMalformedSignature]; a [*LimitError]
// if rawURL and body exceed the byte limit; [ErrNoBodyHash] if rawURL has
// no bodySHA256; [ErrMismatch] if the URL's signature is wrong; or
// [ErrBodyHash] if the body is not the one signed.
func (v *Validator) ValidateJSON(rawURL string, body []byte, sig string) error {
	st := v.get()
	defer v.put(st)
	if err := st.decodeSig(sig); err != nil {
		return err
	}
	if size := len(rawURL) + len(body); size > v.maxBytes {
		return &LimitError{Limit: "bytes", Max: v.maxBytes, Got: size}
	}
	want := bodyHashParam(rawURL)
	if want == "" {
		return ErrNoBodyHash
	}
	st.suffix = st.suffix[:0]
	if err := v.match(st, rawURL); err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	var got [2 * sha256.Size]byte
	hex.Encode(got[:], sum[:])
	if subtle.ConstantTimeCompare(got[:], []byte(want)) != 1 {
		return ErrBodyHash
	}
	return nil
}

// bodyHashParam returns the first bodySHA256 value of rawURL's query, as
// net/url reads it, or "".
func bodyHashParam(rawURL string) string {
	if !strings.Contains(rawURL, "bodySHA256") {
		return ""
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("bodySHA256")
}

// match reports whether st.want is the HMAC of one of rawURL's forms
// followed by st.suffix. Each form is tried as soon as it is built, the
// cheap ones first.
func (v *Validator) match(st *state, rawURL string) error {
	st.urls = append(st.urls[:0], rawURL...)
	st.ends = append(st.ends[:0], len(st.urls))
	tried := 0
	for stage := range 3 {
		switch stage {
		case 1:
			st.nearForms(rawURL, v.schemes)
		case 2:
			st.farForms(rawURL)
		}
		for ; tried < len(st.ends); tried++ {
			start := 0
			if tried > 0 {
				start = st.ends[tried-1]
			}
			if v.try(st, st.urls[start:st.ends[tried]]) {
				return nil
			}
		}
	}
	return ErrMismatch
}

// try reports whether st.want is the HMAC of u followed by st.suffix.
func (v *Validator) try(st *state, u []byte) bool {
	st.mac.Reset()
	st.mac.Write(u)
	st.mac.Write(st.suffix)
	if !hmac.Equal(st.mac.Sum(st.sum[:0]), st.want[:sha1.Size]) {
		return false
	}
	if v.matched != nil {
		v.matched(u)
	}
	return true
}
