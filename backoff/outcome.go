package backoff

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Twilio error codes the classification speaks of
// (https://www.twilio.com/docs/api/errors).
const (
	codeTooManyRequests      = 20429 // "never processed and always safe to retry"
	codeRoomsExceeded        = 53119 // a quota condition, not a rate limit
	codeParticipantsExceeded = 53206 // a quota condition, not a rate limit
)

// Outcome is what one attempt produced, as seen by the HTTP RoundTripper.
type Outcome struct {
	// Method is the request's HTTP method.
	Method string
	// StatusCode is the response's HTTP status, 0 when there was no response.
	StatusCode int
	// Code is the Twilio error code from the response body (e.g. 20429), or 0.
	Code int
	// Err is the attempt's error. With StatusCode 0 it is the transport error;
	// with a response it may carry the decoded API error (for example a
	// *client.TwilioRestError) so that it becomes the cause reported by
	// [MaxAttemptsError]. A nil Err with a failed response gets a *[StatusError].
	Err error
	// RetryAfter is the parsed Retry-After header (see [ParseRetryAfter]), 0 if absent.
	RetryAfter time.Duration
	// Idempotent declares the request safe to repeat even if the server may
	// have processed it (a CreateRoom whose UniqueName was checked, say).
	// GET, HEAD and OPTIONS are always treated as idempotent.
	Idempotent bool
}

// FromResponse builds the Outcome of one round trip from what an
// http.RoundTripper saw: the method, the status and the Retry-After header
// (parsed against now), or the transport error. It does not read the body:
// set Code from the Twilio error body, and Idempotent, yourself. req must not
// be nil; resp may be.
func FromResponse(req *http.Request, resp *http.Response, err error, now time.Time) Outcome {
	o := Outcome{Method: req.Method, Err: err}
	if resp != nil {
		o.StatusCode = resp.StatusCode
		if v := resp.Header.Get("Retry-After"); v != "" {
			o.RetryAfter, _ = ParseRetryAfter(v, now)
		}
	}
	return o
}

// idempotent reports whether repeating the request is safe.
func (o Outcome) idempotent() bool {
	switch o.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return o.Idempotent
}

// cause is the error that stands for the outcome.
func (o Outcome) cause() error {
	if o.Err != nil {
		return o.Err
	}
	return &StatusError{Method: o.Method, StatusCode: o.StatusCode, Code: o.Code, RetryAfter: o.RetryAfter}
}

// StatusError stands for a failed response when the [Outcome] carried no Err.
type StatusError struct {
	Method     string
	StatusCode int
	Code       int           // Twilio error code, 0 if unknown
	RetryAfter time.Duration // the Retry-After received, 0 if none
}

// Error describes the response.
func (e *StatusError) Error() string {
	s := "backoff: " + e.Method + " answered HTTP " + strconv.Itoa(e.StatusCode)
	if e.Code != 0 {
		s += " (Twilio code " + strconv.Itoa(e.Code) + ")"
	}
	if e.RetryAfter > 0 {
		s += ", Retry-After " + e.RetryAfter.String()
	}
	return s
}

// Reason says why an outcome may be retried.
type Reason uint8

const (
	// ReasonNone: do not retry.
	ReasonNone Reason = iota
	// ReasonThrottled: HTTP 429 or Twilio code 20429. Twilio never processed
	// the request, so it is safe to retry whatever the method.
	ReasonThrottled
	// ReasonServer: HTTP 500, 502, 503 or 504 on an idempotent request.
	ReasonServer
	// ReasonNetwork: no response (transport error) on an idempotent request.
	// Never a context error, and never a TLS certificate failure.
	ReasonNetwork
)

// String names the reason: "none", "throttled", "server" or "network".
func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonThrottled:
		return "throttled"
	case ReasonServer:
		return "server"
	case ReasonNetwork:
		return "network"
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// cost is the number of [Budget] tokens a retry for r takes.
func (r Reason) cost() int {
	if r == ReasonThrottled {
		return ThrottleRetryCost
	}
	return RetryCost
}

// CheckRetry classifies an attempt's outcome. It is called on the
// request's goroutine and must be safe for concurrent use.
type CheckRetry func(o Outcome) Reason

// DefaultCheckRetry is the Twilio-aware classification:
//
//   - a context error (context.Canceled, context.DeadlineExceeded) anywhere in
//     o.Err: ReasonNone, always;
//   - Twilio code 53119 or 53206 (a concurrency quota, not a rate limit):
//     ReasonNone, whatever the status;
//   - HTTP 429 or Twilio code 20429 (whatever the status): ReasonThrottled,
//     for every method, since Twilio never processed the request;
//   - HTTP 500, 502, 503, 504: ReasonServer if the request is idempotent
//     (GET, HEAD, OPTIONS or o.Idempotent), else ReasonNone (a POST may have
//     created the room);
//   - no response and a transport error: ReasonNetwork if idempotent, except
//     TLS certificate failures, which no retry fixes;
//   - anything else (2xx, 3xx, 400, 401, 404, 501, ...): ReasonNone.
func DefaultCheckRetry(o Outcome) Reason {
	if o.Err != nil && (errors.Is(o.Err, context.Canceled) || errors.Is(o.Err, context.DeadlineExceeded)) {
		return ReasonNone
	}
	switch o.Code {
	case codeRoomsExceeded, codeParticipantsExceeded:
		return ReasonNone
	case codeTooManyRequests:
		return ReasonThrottled
	}
	switch o.StatusCode {
	case http.StatusTooManyRequests:
		return ReasonThrottled
	case http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if o.idempotent() {
			return ReasonServer
		}
		return ReasonNone
	case 0:
		if o.Err == nil || !o.idempotent() || isCertError(o.Err) {
			return ReasonNone
		}
		return ReasonNetwork
	}
	return ReasonNone
}

func isCertError(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var ierr x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr)
}

// maxDuration is the longest time.Duration.
const maxDuration = time.Duration(math.MaxInt64)

// ParseRetryAfter parses a Retry-After header value: delay-seconds ("120")
// or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", also the RFC 850 and
// ANSI C forms), the latter measured from now. A date in the past or a
// negative number of seconds gives 0. A value too large for a Duration gives
// the largest Duration: the [Policy] caps it with MaxRetryAfter, never the
// parser. ok is false (and d 0) for anything else.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if digits := strings.TrimPrefix(v, "-"); digits != "" && allDigits(digits) {
		if v[0] == '-' {
			return 0, true
		}
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(maxDuration/time.Second) {
			return maxDuration, true // all digits, so the only error is overflow
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now) // saturates instead of overflowing
	if d < 0 {
		d = 0
	}
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
