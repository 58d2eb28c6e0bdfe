package video

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/videoquota/videoquota/video/internal/signature"
)

// Defaults of the webhook handlers, each with where its number comes from.
const (
	// DefaultMaxCallbackBody bounds a status callback or Debugger webhook
	// body. Twilio's Room callbacks are a few hundred bytes and a Debugger
	// event with its webhook excerpt a few KiB; larger bodies get 413.
	DefaultMaxCallbackBody = 64 << 10
	// DefaultCallbackRetention is how long the handler remembers an ended Room
	// or a disconnected Participant, to recognise late duplicates and
	// reordered deliveries. Twilio's status callback page does not document
	// retries of Room callbacks
	// (https://www.twilio.com/docs/video/api/status-callbacks); deliveries
	// later than this are corrected by [Client.Reconcile].
	DefaultCallbackRetention = 15 * time.Minute
	// DefaultCloseGrace is how long [WithCloseEmptyRooms] waits after a Room's
	// last Participant left before completing it: long enough for a
	// reconnecting client or a late participant-connected, and for the
	// room-ended of an ad-hoc Room (which Twilio ends itself) to arrive.
	DefaultCloseGrace = 2 * time.Second
	// maxCloseQueue bounds the Rooms waiting to be completed; more are left
	// to Twilio's EmptyRoomTimeout.
	maxCloseQueue = 1024
	// closeWorkers bounds the goroutines completing empty Rooms.
	closeWorkers = 4
	// closeTimeout bounds the read and the write that complete one Room.
	closeTimeout = 30 * time.Second
	// dedupeSize bounds the remembered deliveries (events and alerts).
	dedupeSize = 8192
)

// RoomEventFunc receives Room status callback events; see [OnRoomEvent].
type RoomEventFunc func(RoomEvent)

// AlertFunc receives Debugger events and Monitor alerts; see [OnAlert].
type AlertFunc func(AlertEvent)

// HandlerOption configures [Client.StatusCallbackHandler],
// [Client.AlertHandler] and [Client.PollAlerts]. An invalid option (a nil
// func, a malformed URL, a size or duration out of range) is a
// *[ConfigError] naming it: PollAlerts returns it, and a handler built with
// it logs it at Error when built and answers every request 500, changing
// nothing. Handler constructors never panic.
type HandlerOption func(*handlerConfig) error

type handlerConfig struct {
	sig        *signature.Validator
	urlFunc    func(*http.Request) string
	lastURL    atomic.Pointer[builtURL] // the last URL requestURL built
	bodies     sync.Pool                // *[]byte: request bodies, read and checked, then reused
	forms      sync.Pool                // *signature.Form
	maxBody    int64
	onRoom     []RoomEventFunc
	onAlert    []AlertFunc
	closeEmpty bool
	closeGrace time.Duration
	maxSkew    time.Duration
	skewLogged atomic.Bool // the first refusal for skew was logged
}

// defaultMaxSkew is how far ahead of the Client's clock a callback's
// Timestamp may be (see [WithMaxClockSkew]).
const defaultMaxSkew = time.Minute

// WithMaxClockSkew sets how far ahead of the Client's clock a status
// callback's Timestamp may be (default one minute): a later one gets 400
// and changes nothing, since applying it would move the callbacks' clock
// and make current events look stale. Raise it on a host whose clock is
// known to run slow; the first refusal is logged at Error with the skew
// seen. d must be positive.
func WithMaxClockSkew(d time.Duration) HandlerOption {
	return func(h *handlerConfig) error {
		if d <= 0 {
			return optErr("WithMaxClockSkew", "%s: want d > 0", d)
		}
		h.maxSkew = d
		return nil
	}
}

// checkSkew refuses a Timestamp ahead of the Client's clock by more than
// the handler's skew, logging the first refusal with the skew seen.
func (h *handlerConfig) checkSkew(c *Client, r *http.Request, ts time.Time) error {
	ahead := ts.Sub(c.now())
	if ahead <= h.maxSkew {
		return nil
	}
	if h.skewLogged.CompareAndSwap(false, true) {
		c.logger.LogAttrs(r.Context(), slog.LevelError,
			"videoquota: status callbacks refused: their Timestamp is ahead of this host's clock by more than the allowed skew (is the host's clock slow? see video.WithMaxClockSkew)",
			slog.Duration("ahead", ahead.Round(time.Millisecond)), slog.Duration("allowed", h.maxSkew))
	}
	return &FieldError{Field: "Timestamp", Reason: fmt.Sprintf("%s ahead of this host's clock (allowed %s)", ahead.Round(time.Millisecond), h.maxSkew)}
}

// checkAccount refuses a webhook of no account or another account's: a
// Debugger event of a subaccount names its parent in parent.
func (c *Client) checkAccount(account, parent string) error {
	switch {
	case account == "":
		return &FieldError{Field: "AccountSid", Reason: "missing"}
	case account != c.accountSID && parent != c.accountSID:
		return &FieldError{Field: "AccountSid", Reason: "not this Client's account"}
	}
	return nil
}

// WithPublicURL validates signatures against rawURL, the address Twilio
// calls (as configured in StatusCallback or the Console), instead of the URL
// the request arrived at: use it behind a proxy or load balancer that
// rewrites the scheme, host or path. The request's query string, if any, is
// appended when rawURL has none (GET callbacks carry their parameters there).
func WithPublicURL(rawURL string) HandlerOption {
	return func(h *handlerConfig) error {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return optErr("WithPublicURL", "%q: want an absolute http or https URL", rawURL)
		}
		h.urlFunc = func(r *http.Request) string {
			if u.RawQuery == "" && r.URL.RawQuery != "" {
				return rawURL + "?" + r.URL.RawQuery
			}
			return rawURL
		}
		return nil
	}
}

// WithURLFunc validates signatures against the URL fn returns for each
// request, with its query string: for deployments where the public URL
// depends on the request (several hosts, trusted forwarding headers).
func WithURLFunc(fn func(*http.Request) string) HandlerOption {
	return func(h *handlerConfig) error {
		if fn == nil {
			return optErr("WithURLFunc", "nil func")
		}
		h.urlFunc = fn
		return nil
	}
}

// WithMaxBody sets the largest accepted body (default
// [DefaultMaxCallbackBody]); larger requests get 413 and change nothing.
func WithMaxBody(n int64) HandlerOption {
	return func(h *handlerConfig) error {
		if n <= 0 {
			return optErr("WithMaxBody", "%d: want n > 0", n)
		}
		h.maxBody = n
		return nil
	}
}

// OnRoomEvent calls fn with each Room status callback accepted by the
// handler, once per event (duplicate deliveries are not passed on), after
// the ledger was updated and before the response is written, on the
// request's goroutine. Events that arrived out of order are passed on with
// Stale set; [RoomEvent.Params] holds every parameter received (the
// handler builds it only when such funcs are given). Keep fn fast: Twilio
// waits for the response. It may be given several times.
func OnRoomEvent(fn RoomEventFunc) HandlerOption {
	return func(h *handlerConfig) error {
		if fn == nil {
			return optErr("OnRoomEvent", "nil func")
		}
		h.onRoom = append(h.onRoom, fn)
		return nil
	}
}

// OnAlert calls fn with each Debugger event or polled Monitor alert, once
// per alert, after the ledger and threshold funcs were told, on the
// request's (or the poller's) goroutine. It may be given several times.
func OnAlert(fn AlertFunc) HandlerOption {
	return func(h *handlerConfig) error {
		if fn == nil {
			return optErr("OnAlert", "nil func")
		}
		h.onAlert = append(h.onAlert, fn)
		return nil
	}
}

// WithCloseEmptyRooms makes the status callback handler complete a Room as
// soon as its last Participant left, instead of letting it hold a Room slot
// for Twilio's EmptyRoomTimeout (5 minutes by default). After grace
// ([DefaultCloseGrace] is a good value; 0 means at once) the Room is
// completed, if it is still empty by the callbacks seen: one read
// (ListRoomParticipant, connected, page size 1) confirms that nobody is
// connected, so that a dropped participant-connected never ends a Room with
// people in it, then UpdateRoom(Status=completed) goes through the write
// bucket. This runs on at most 4 goroutines that exit when idle; it never
// delays the callback's response. A Room that ended meanwhile (ad-hoc Rooms
// end by themselves) is skipped.
func WithCloseEmptyRooms(grace time.Duration) HandlerOption {
	return func(h *handlerConfig) error {
		if grace < 0 {
			return optErr("WithCloseEmptyRooms", "%s: want a grace >= 0", grace)
		}
		h.closeEmpty, h.closeGrace = true, grace
		return nil
	}
}

// buildHandlerConfig applies opts over the defaults, or returns a
// *[ConfigError] naming the first invalid option.
func (c *Client) buildHandlerConfig(method string, opts []HandlerOption) (*handlerConfig, error) {
	h, err := applyHandlerOptions(method, opts)
	if err != nil {
		return nil, err
	}
	// The body and its URL: the URL is not under WithMaxBody.
	v, err := signature.New(c.authToken, signature.WithMaxBytes(int(h.maxBody)+maxSignedURL))
	if err != nil {
		return nil, &ConfigError{Option: method, Err: err}
	}
	h.sig = v
	return h, nil
}

// applyHandlerOptions applies opts over the defaults, or returns a
// *[ConfigError] naming the first invalid option (method for a nil one).
func applyHandlerOptions(method string, opts []HandlerOption) (*handlerConfig, error) {
	h := &handlerConfig{maxBody: DefaultMaxCallbackBody, maxSkew: defaultMaxSkew}
	for i, o := range opts {
		if o == nil {
			return nil, optErr(method, "option %d is nil", i)
		}
		if err := o(h); err != nil {
			return nil, asConfigError(err)
		}
	}
	return h, nil
}

// misconfigured is the handler built from an invalid [HandlerOption]: it
// logs err (a *[ConfigError] naming the option) at Error when built and
// again at the first request, and answers every request 500 without
// reading it, so that nothing changes and Twilio's own logs show the
// failure.
func misconfigured(log *slog.Logger, what string, err error) http.Handler {
	msg := "videoquota: " + what + " answers 500 to every request: invalid option"
	log.LogAttrs(context.Background(), slog.LevelError, msg, slog.String("error", err.Error()))
	var logged atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if logged.CompareAndSwap(false, true) {
			log.LogAttrs(r.Context(), slog.LevelError, msg, slog.String("error", err.Error()))
		}
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	})
}

// maxSignedURL bounds the URL a webhook is signed over, beside its body.
const maxSignedURL = 16 << 10

// requestURL is the URL Twilio signed: the configured public URL, or the
// one the request arrived at. The latter is built once for each address
// requests arrive at in a row, not per request.
func (h *handlerConfig) requestURL(r *http.Request) string {
	if h.urlFunc != nil {
		return h.urlFunc(r)
	}
	tls := r.TLS != nil
	if b := h.lastURL.Load(); b != nil && b.tls == tls && b.host == r.Host && b.path == r.URL.Path &&
		b.rawPath == r.URL.RawPath && b.rawQuery == r.URL.RawQuery {
		return b.url
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	u := scheme + "://" + r.Host + r.URL.RequestURI()
	h.lastURL.Store(&builtURL{tls: tls, host: r.Host, path: r.URL.Path, rawPath: r.URL.RawPath, rawQuery: r.URL.RawQuery, url: u})
	return u
}

// signedURL runs check on the URL Twilio signed. A request for the root
// path may have been signed over the origin alone ("https://example.com",
// as a StatusCallback without a path is written, while the request line
// says "/"): when the first check finds a mismatch, the URL without that
// slash is checked too.
func (h *handlerConfig) signedURL(r *http.Request, check func(u string) error) error {
	u := h.requestURL(r)
	err := check(u)
	if errors.Is(err, signature.ErrMismatch) && h.urlFunc == nil && r.URL.Path == "/" {
		// u ends in "/" or "/?query": the same without the slash.
		i := strings.LastIndex(u, "/")
		if r.URL.RawQuery != "" {
			i = strings.Index(u, "/?")
		}
		if i > 0 && check(u[:i]+u[i+1:]) == nil {
			return nil
		}
	}
	return err
}

// builtURL is a URL requestURL built and what it was built from.
type builtURL struct {
	tls                           bool
	host, path, rawPath, rawQuery string
	url                           string
}

// errSignature is answered with 403.
var errSignature = errors.New("video: missing or invalid X-Twilio-Signature")

// webhookError is a rejected webhook request with its HTTP status.
type webhookError struct {
	status int
	err    error
}

// readSigned reads and authenticates a Twilio webhook: POST with a form body
// (signed over URL + sorted parameters) or GET (signed over the URL with its
// query). It returns the parameters, or the status to answer and why. The
// work done before the signature is known good is bounded and linear in
// the request (see package video/internal/signature): a forged request
// costs little whatever its size.
func (c *Client) readSigned(w http.ResponseWriter, r *http.Request, h *handlerConfig) (url.Values, *webhookError) {
	if r.Method == http.MethodGet {
		return c.readSignedQuery(r, h)
	}
	var form url.Values
	werr := c.readSignedBody(w, r, h, func(body []byte, sig string) error {
		return h.signedURL(r, func(u string) error {
			var err error
			form, err = h.sig.ValidateForm(u, body, sig)
			return err
		})
	})
	return form, werr
}

// readSignedForm is readSigned for the status callbacks: a POST's
// parameters are set in f (no url.Values built); a GET's are returned.
func (c *Client) readSignedForm(w http.ResponseWriter, r *http.Request, h *handlerConfig, f *signature.Form) (url.Values, *webhookError) {
	if r.Method == http.MethodGet {
		return c.readSignedQuery(r, h)
	}
	return nil, c.readSignedBody(w, r, h, func(body []byte, sig string) error {
		return h.signedURL(r, func(u string) error { return h.sig.ValidateFormTo(u, body, sig, f) })
	})
}

// readSignedQuery authenticates a GET webhook and returns its query.
func (c *Client) readSignedQuery(r *http.Request, h *handlerConfig) (url.Values, *webhookError) {
	if len(r.URL.RawQuery) > int(h.maxBody) {
		return nil, &webhookError{http.StatusRequestURITooLong, errors.New("query too long")}
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if err := h.signedURL(r, func(u string) error { return h.sig.Validate(u, nil, sig) }); err != nil {
		return nil, sigError(err)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &webhookError{http.StatusBadRequest, fmt.Errorf("malformed query: %w", err)}
	}
	return q, nil
}

// readSignedBody reads a POST webhook's form body (at most maxBody bytes)
// and passes it with the signature header to check, which must not keep
// the body: its buffer is reused for the next request.
func (c *Client) readSignedBody(w http.ResponseWriter, r *http.Request, h *handlerConfig, check func(body []byte, sig string) error) *webhookError {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		return &webhookError{http.StatusMethodNotAllowed, errors.New("want GET or POST")}
	}
	if !formContentType(r.Header.Get("Content-Type")) {
		return &webhookError{http.StatusUnsupportedMediaType,
			errors.New("want Content-Type application/x-www-form-urlencoded")}
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		return &webhookError{http.StatusForbidden, errSignature}
	}
	bp, _ := h.bodies.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	body, err := readWebhookBody(w, r, h.maxBody, (*bp)[:0])
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &webhookError{http.StatusRequestEntityTooLarge, errors.New("body too large")}
		}
		return &webhookError{http.StatusBadRequest, fmt.Errorf("reading body: %w", err)}
	}
	err = check(body, sig)
	if cap(body) <= maxPooledBody {
		*bp = body
		h.bodies.Put(bp)
	}
	if err != nil {
		return sigError(err)
	}
	return nil
}

// maxPooledBody bounds the body buffers kept for reuse.
const maxPooledBody = 16 << 10

// readWebhookBody reads r's body, at most max bytes, into buf: in one read when
// the request declares its length.
func readWebhookBody(w http.ResponseWriter, r *http.Request, max int64, buf []byte) ([]byte, error) {
	if n := r.ContentLength; n >= 0 {
		if n > max {
			return nil, &http.MaxBytesError{Limit: max}
		}
		buf = slices.Grow(buf, int(n))[:n]
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	lr := http.MaxBytesReader(w, r.Body, max)
	for {
		buf = slices.Grow(buf, 512)
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// formContentType reports whether a webhook's Content-Type is a form (or
// absent).
func formContentType(ct string) bool {
	if ct == "" || ct == "application/x-www-form-urlencoded" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// sigError maps a signature check's failure to its answer: 413 for a
// request over the limits, 400 for a malformed form, 403 otherwise.
func sigError(err error) *webhookError {
	switch {
	case errors.Is(err, signature.ErrLimit):
		return &webhookError{http.StatusRequestEntityTooLarge, err}
	case errors.Is(err, signature.ErrMalformedForm):
		return &webhookError{http.StatusBadRequest, err}
	}
	return &webhookError{http.StatusForbidden, errSignature}
}

// rejectWebhook answers a rejected webhook with e's status and logs why.
// For a signature that does not match, the log names the URL it was
// checked against (its query's values left out) and what to set: behind a
// proxy Twilio has most often signed another URL.
func (c *Client) rejectWebhook(w http.ResponseWriter, r *http.Request, kind string, h *handlerConfig, e *webhookError) {
	c.metrics.rejected(r.Context(), kind)
	attrs := []slog.Attr{slog.Int("status", e.status), slog.String("reason", e.err.Error())}
	if errors.Is(e.err, errSignature) {
		hint := "if a proxy or load balancer changes the scheme, host or path, set video.WithPublicURL to the URL configured at Twilio"
		if h.urlFunc != nil {
			hint = "the URL given by WithPublicURL or WithURLFunc must be the one configured at Twilio, and the auth token the account's"
		}
		attrs = append(attrs, slog.String("checked_url", redactQuery(h.requestURL(r))), slog.String("hint", hint))
	}
	c.logger.LogAttrs(r.Context(), slog.LevelWarn, "videoquota: rejected "+kind, attrs...)
	http.Error(w, http.StatusText(e.status), e.status)
}

// redactQuery returns u with each query value replaced by "…": the names
// say which URL was checked, the values may be secrets.
func redactQuery(u string) string {
	base, q, ok := strings.Cut(u, "?")
	if !ok {
		return u
	}
	var b strings.Builder
	b.WriteString(base)
	for i, kv := range strings.Split(q, "&") {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		k, _, _ := strings.Cut(kv, "=")
		b.WriteString(k)
		b.WriteString("=…")
	}
	return b.String()
}
