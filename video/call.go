package video

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/backoff"
	"github.com/videoquota/videoquota/quota"
)

// maxErrorBody bounds how much of an error response is kept for decoding.
const maxErrorBody = 64 << 10

// call is the state of one Client method call: a twilio-go stack whose HTTP
// client sends through callTransport bound to the call's context, and what
// the transport saw that twilio-go does not report (Retry-After,
// Twilio-Concurrent-Requests, the last status, why retries stopped).
//
// twilio-go keeps its own encoding (client.Client.SendRequest) and decoding
// (doWithErr into *client.TwilioRestError); the transport only paces,
// retries and observes. calls are pooled: a call must not be used after end.
type call struct {
	c       *Client
	ctx     context.Context // the caller's ctx bound to the Client's lifetime (Client.bind)
	release func()          // ends ctx's binding; nil for a RequestHandler's call, bound per request
	err     error           // why begin refused the call (nil ctx, ended ctx, closed Client)

	tw  client.Client
	hc  http.Client
	rh  client.RequestHandler
	svc *openapi.ApiService
	tr  callTransport

	// Set by the transport, read by finish (same goroutine, or after the
	// stream's goroutine ended).
	class      quota.Class
	attempts   int           // HTTP attempts of the last request
	retryAfter time.Duration // Retry-After of the last 429, 0 if none
	concurrent int           // Twilio-Concurrent-Requests of the last response, 0 if absent
	status     int           // HTTP status of the last response, 0 if none
	code       int           // Twilio error code of the last error response, 0 if none
	body       []byte        // the last error response's body
	sent       bool          // an attempt of the last request went to the server
	giveUp     error         // the retrier's error when it stopped a retryable failure
	localErr   error         // an error raised before a response: a token refused, ctx ended
	netErr     error         // the last transport error
}

var callPool = sync.Pool{New: func() any {
	cl := &call{}
	cl.tr.cl = cl
	cl.hc.Transport = &cl.tr
	cl.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cl.tw.HTTPClient = &cl.hc
	cl.rh.Client = &cl.tw
	return cl
}}

// start checks ctx and the Client and returns a call bound to ctx, or why
// the call is refused: errNilContext, ctx.Err(), [ErrClosed]. Release the call
// with end once twilio-go is done with it (for a stream: once its goroutine
// ended).
func (c *Client) start(ctx context.Context) (*call, error) {
	bound, release, err := c.bind(ctx)
	if err != nil {
		return nil, err
	}
	cl := callPool.Get().(*call)
	cl.c, cl.ctx, cl.release = c, bound, release
	cl.tw.Credentials = &c.credentials
	cl.tw.SetAccountSid(c.accountSID)
	noAutoRetry(&cl.tw)
	cl.rh.Edge, cl.rh.Region = c.edge, c.region
	if cl.svc == nil {
		cl.svc = openapi.NewApiService(&cl.rh)
	}
	return cl, nil
}

// begin is start for callers that check the error through the call: a
// refused call sends nothing and finish returns why it was refused.
func (c *Client) begin(ctx context.Context) *call {
	cl, err := c.start(ctx)
	if err != nil {
		cl = callPool.Get().(*call)
		cl.c, cl.ctx, cl.err = c, context.Background(), err
		cl.tw.Credentials = &c.credentials // twilio-go checks them before the transport refuses
		cl.tw.SetAccountSid(c.accountSID)
		if cl.svc == nil {
			cl.svc = openapi.NewApiService(&cl.rh)
		}
	}
	return cl
}

// end returns cl to the pool.
func (c *Client) end(cl *call) {
	if cl.release != nil {
		cl.release()
	}
	cl.reset()
	callPool.Put(cl)
}

// reset clears the call, the credentials and account of the Client it
// served included, so that the pool keeps nothing of a closed Client.
func (cl *call) reset() {
	cl.c, cl.ctx, cl.release, cl.err = nil, nil, nil, nil
	cl.tw.Credentials = nil
	cl.tw.SetAccountSid("")
	cl.resetRequest()
}

// noAutoRetry switches off twilio-go's own retrying on tw, in twilio-go
// versions that have one (client.SetAutoRetry, proposed upstream): the
// Client's transport retries, and twilio-go's retries would multiply its
// attempts past the rate token each one took.
func noAutoRetry(tw *client.Client) {
	if r, ok := any(tw).(interface{ SetAutoRetry(bool) }); ok {
		r.SetAutoRetry(false)
	}
}

// resetRequest clears what the transport recorded for the previous request.
func (cl *call) resetRequest() {
	cl.attempts, cl.retryAfter, cl.concurrent, cl.status, cl.code = 0, 0, 0, 0, 0
	cl.body = cl.body[:0]
	cl.giveUp, cl.localErr, cl.netErr, cl.sent = nil, nil, nil, false
}

// callTransport is the http.RoundTripper of a call's twilio-go client.
type callTransport struct{ cl *call }

// RoundTrip binds req to the call's context, points it at the base URL,
// takes a rate token per attempt, retries what the retry policy allows and
// records what twilio-go would drop. When retries end on an error response,
// that response is returned so twilio-go decodes it as usual.
func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	cl := t.cl
	cl.resetRequest()
	if cl.err != nil {
		cl.localErr = cl.err
		return nil, cl.err
	}
	if cl.release != nil {
		return cl.roundTrip(cl.ctx, req)
	}
	// A RequestHandler's request: bound to the Client's lifetime until its
	// body is closed.
	ctx, release, err := cl.c.bind(cl.ctx)
	if err != nil {
		cl.localErr = err
		return nil, err
	}
	resp, err := cl.roundTrip(ctx, req)
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: release}
	return resp, nil
}

// roundTrip is RoundTrip for a request bound to ctx.
func (cl *call) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	c := cl.c
	req = req.WithContext(ctx) // shallow copy: req's URL and headers stay twilio-go's
	if c.base != nil {
		u := *req.URL
		u.Scheme, u.Host = c.base.Scheme, c.base.Host
		req.URL, req.Host = &u, ""
	}
	class := quota.ClassOf(req.Method)
	cl.class = class
	cs := &c.stats.class[class]
	retrier := c.retry.Start()
	for attempt := 0; ; attempt++ {
		if err := c.acquire(ctx, class, req); err != nil {
			cl.localErr = err
			return nil, err
		}
		r := req
		if attempt > 0 {
			cs.retries.Add(1)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					c.releaseSlot()
					cl.localErr = err
					return nil, err
				}
				r = req.Clone(ctx)
				r.Body = body
			}
		}
		resp, err := c.send(r)
		c.releaseSlot()
		if err == errRefused {
			cl.localErr = ErrClosed
			return nil, ErrClosed
		}
		cs.requests.Add(1)
		cl.attempts, cl.sent = attempt+1, true
		c.metrics.attempt(class, resp, err)
		out := backoff.Outcome{Method: req.Method, Err: err}
		if err != nil {
			cl.netErr, cl.status = err, 0
			if ctx.Err() != nil {
				cl.localErr = ended(ctx, ctx.Err())
				return nil, err
			}
		} else {
			cl.status = resp.StatusCode
			cl.concurrent = 0
			if v := resp.Header.Get("Twilio-Concurrent-Requests"); v != "" {
				cl.concurrent, _ = strconv.Atoi(v)
			}
			if resp.StatusCode < 400 {
				if resp.StatusCode < 300 {
					c.succeeded(ctx, class)
				}
				retrier.Succeeded()
				return resp, nil
			}
			// An error: keep the body so that the Twilio code can be read
			// here and twilio-go can still decode it.
			cl.body = readBody(cl.body[:0], resp.Body)
			resp.Body = io.NopCloser(bytes.NewReader(cl.body))
			cl.code = twilioCode(cl.body)
			out.StatusCode, out.Code = resp.StatusCode, cl.code
			if ra := resp.Header.Get("Retry-After"); ra != "" {
				out.RetryAfter, _ = backoff.ParseRetryAfter(ra, time.Now())
			}
			if resp.StatusCode == http.StatusTooManyRequests || cl.code == quota.CodeTooManyRequests {
				cl.retryAfter = out.RetryAfter
				cs.throttled.Add(1)
				c.throttleSeen(ctx, class, cl)
				if cl.cause() == quota.CauseVideoRate {
					c.throttled(ctx, class)
				}
			}
		}
		wait, retry, gerr := retrier.Next(out)
		if !retry {
			cl.giveUp = gerr
			if err != nil {
				return nil, err
			}
			return resp, nil
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// The retry could not happen before the deadline: report the
			// last answer now instead of sleeping into a cancelled context.
			if err != nil {
				return nil, err
			}
			return resp, nil
		}
		c.metrics.retried(ctx, class, out)
		c.logger.LogAttrs(ctx, slog.LevelDebug, "videoquota: retrying",
			slog.String("method", req.Method), slog.String("path", req.URL.Path),
			slog.Int("status", out.StatusCode), slog.Int("code", out.Code),
			slog.Int("attempt", attempt+1), slog.Duration("wait", wait))
		if err := backoff.Sleep(ctx, wait); err != nil {
			cl.localErr = ended(ctx, err)
			return nil, cl.localErr
		}
	}
}

// succeeded reports a success to the adaptive rate (which grows back only
// after a recovery interval without a 429) and ends a throttling episode.
func (c *Client) succeeded(ctx context.Context, class quota.Class) {
	c.limiter.Succeeded(ctx, class)
	c.throttleEnded(class)
}

// throttled reports a 20429 the bucket allowed (Video rate) to the adaptive
// rate, which every Limiter of the account's store shares.
func (c *Client) throttled(ctx context.Context, class quota.Class) {
	c.limiter.Throttled(ctx, class)
}

// errRefused is send's answer after Close: nothing was sent.
var errRefused = errors.New("video: client closed before the attempt")

// send makes one attempt through the base transport, bounded by the
// per-attempt timeout, or returns errRefused once Close has begun. Close
// waits for the attempts send has under way. The timeout's cancel runs when
// the body is closed.
func (c *Client) send(r *http.Request) (*http.Response, error) {
	c.life.sending.RLock()
	defer c.life.sending.RUnlock()
	if c.closed.Load() {
		return nil, errRefused
	}
	if c.timeout <= 0 {
		return c.transport.RoundTrip(r)
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.timeout)
	resp, err := c.transport.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody releases an attempt's timeout when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// acquire takes a slot of the in-flight cap (if any) and a rate token for
// req, waiting at req's priority level (priority.go) when tokens are scarce.
func (c *Client) acquire(ctx context.Context, class quota.Class, req *http.Request) error {
	if c.inFlight != nil {
		select {
		case c.inFlight <- struct{}{}:
		case <-ctx.Done():
			return ended(ctx, ctx.Err())
		}
	}
	if err := c.takeToken(ctx, class, req); err != nil {
		c.releaseSlot()
		var rl *quota.RateLimitError
		if errors.As(err, &rl) {
			c.stats.class[class].refused.Add(1)
		}
		return ended(ctx, err)
	}
	return nil
}

func (c *Client) releaseSlot() {
	if c.inFlight != nil {
		<-c.inFlight
	}
}

// readBody reads at most maxErrorBody bytes of body into buf and closes body.
func readBody(buf []byte, body io.ReadCloser) []byte {
	defer body.Close()
	b := bytes.NewBuffer(buf)
	_, _ = io.Copy(b, io.LimitReader(body, maxErrorBody))
	return b.Bytes()
}

// twilioCode returns the "code" of a Twilio error body, 0 if there is none.
func twilioCode(body []byte) int {
	var e struct {
		Code int `json:"code"`
	}
	if json.Unmarshal(body, &e) != nil {
		return 0
	}
	return e.Code
}

// cause says which limit the last 20429 most likely met.
func (cl *call) cause() quota.RateCause {
	if cl.concurrent >= cl.c.concurrencyHint {
		return quota.CauseConcurrency
	}
	return quota.CauseVideoRate
}

// finish turns the error twilio-go returned for the call into the Client's
// typed errors:
//
//   - a local refusal (token not in time, ctx ended, client closed) is
//     returned as raised, not wrapped in twilio-go's *url.Error;
//   - a 20429 becomes a *quota.RateLimitError wrapping Twilio's error,
//     itself wrapped in the *backoff.MaxAttemptsError when retries ran out;
//   - a 53119/53206 becomes a *quota.ExceededError (SourceTwilio) and marks
//     the resource full in the ledger;
//   - any other failure the retrier gave up on is wrapped in its
//     *backoff.MaxAttemptsError; everything else is twilio-go's error as is.
//
// errors.As(err, &*client.TwilioRestError) finds Twilio's error in each case.
func (cl *call) finish(err error) error {
	if err == nil {
		return nil
	}
	if cl.localErr != nil {
		return cl.localErr
	}
	c := cl.c
	// twilio-go's error: a *client.TwilioRestError, or a decoding error
	// when the body was not Twilio's JSON (a proxy's 429 page, say).
	var twErr error = err
	code := cl.code
	var tw *client.TwilioRestError
	if errors.As(err, &tw) {
		twErr = tw
		if tw.Code != 0 {
			code = tw.Code
		}
	} else if cl.status == 0 {
		if cl.giveUp != nil && cl.netErr != nil {
			return cl.wrapGiveUp(cl.netErr)
		}
		return err
	}
	switch {
	case cl.status == http.StatusTooManyRequests || code == quota.CodeTooManyRequests:
		rl := &quota.RateLimitError{Class: cl.class, Cause: cl.cause(), Wait: cl.retryAfter,
			ConcurrentRequests: cl.concurrent, Err: twErr}
		c.logger.LogAttrs(cl.ctx, slog.LevelDebug, "videoquota: rate limited by Twilio",
			slog.String("class", cl.class.String()), slog.String("cause", rl.Cause.String()),
			slog.Int("attempts", cl.attempts))
		return cl.wrapGiveUp(rl)
	case code == quota.CodeRoomsExceeded || code == quota.CodeParticipantsExceeded:
		res := quota.Rooms
		if code == quota.CodeParticipantsExceeded {
			res = quota.Participants
		}
		return c.twilioExceeded(cl.ctx, res, twErr)
	}
	if cl.giveUp != nil {
		return cl.wrapGiveUp(twErr)
	}
	return twErr
}

// wrapGiveUp wraps cause the way the retrier stopped: in a
// *backoff.MaxAttemptsError when retries ran out, with
// backoff.ErrBudgetExhausted when the budget refused one, or not at all.
func (cl *call) wrapGiveUp(cause error) error {
	var ma *backoff.MaxAttemptsError
	switch {
	case cl.giveUp == nil:
		return cause
	case errors.As(cl.giveUp, &ma):
		return &backoff.MaxAttemptsError{Attempts: ma.Attempts, Err: cause}
	case errors.Is(cl.giveUp, backoff.ErrBudgetExhausted):
		return &budgetError{attempts: cl.attempts, err: cause}
	}
	return cause
}

// budgetError is the last failure of a request whose retry the retry budget
// refused: errors.Is(err, backoff.ErrBudgetExhausted) holds, and errors.As
// finds the failure (a *quota.RateLimitError, Twilio's error).
type budgetError struct {
	attempts int
	err      error
}

func (e *budgetError) Error() string {
	return fmt.Sprintf("video: retry budget exhausted after %d attempts: %v", e.attempts, e.err)
}

func (e *budgetError) Unwrap() []error { return []error{backoff.ErrBudgetExhausted, e.err} }

// twilioExceeded records Twilio's refusal for res: the ledger was behind
// (ad-hoc Rooms, other applications), so res is marked full until corrected.
func (c *Client) twilioExceeded(ctx context.Context, res quota.Resource, tw error) error {
	c.stats.res[res].twilioRefused.Add(1)
	c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: Twilio refused for its concurrency quota; the ledger was behind, marking it full",
		slog.String("resource", res.String()), slog.Int("code", res.ExceededCode()), slog.Duration("full_for", c.fullFor))
	bg := context.WithoutCancel(ctx)
	now := c.now()
	if err := c.ledger.MarkFull(bg, res, c.fullFor, quota.SourceTwilio, now); err != nil {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: marking quota full failed",
			slog.String("resource", res.String()), slog.String("error", err.Error()))
	}
	// Twilio's numbers: it found the quota used up, whatever the ledger
	// counted (another application's Rooms are not in it).
	limit := c.ledger.Limit(res)
	return &quota.ExceededError{Resource: res, Used: limit, Limit: limit,
		Code: res.ExceededCode(), Source: quota.SourceTwilio, FullSince: c.ledger.FullSince(res), FullUntil: now.Add(c.fullFor), Err: tw}
}

// requestHandler is what [Client.RequestHandler] returns: twilio-go's
// request handler bound to ctx, whose requests each go through a call of
// their own (rate token, retries, ErrClosed after Close). Its Client is not
// the *client.Client underneath but a wrapper with only twilio-go's
// BaseClient methods, so that no user can switch on twilio-go's own retrying
// (client.SetAutoRetry, proposed upstream), whose retries would multiply the
// Client's; noAutoRetry also switches it off before each request.
func (c *Client) requestHandler(ctx context.Context) *client.RequestHandler {
	tw := &client.Client{
		Credentials: &c.credentials,
		HTTPClient: &http.Client{
			Transport:     requestTransport{c: c, ctx: ctx},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	tw.SetAccountSid(c.accountSID)
	return &client.RequestHandler{Client: sealedClient{tw: tw}, Edge: c.edge, Region: c.region}
}

// sealedClient is twilio-go's client.BaseClient, hiding the *client.Client.
type sealedClient struct{ tw *client.Client }

func (s sealedClient) AccountSid() string         { return s.tw.AccountSid() }
func (s sealedClient) SetTimeout(d time.Duration) { s.tw.SetTimeout(d) }
func (s sealedClient) SetOauth(auth client.OAuth) { s.tw.SetOauth(auth) }
func (s sealedClient) OAuth() client.OAuth        { return s.tw.OAuth() }
func (s sealedClient) SendRequest(method, rawURL string, data url.Values,
	headers map[string]interface{}, body ...byte) (*http.Response, error) {
	noAutoRetry(s.tw)
	return s.tw.SendRequest(method, rawURL, data, headers, body...)
}

// requestTransport gives each request of a RequestHandler its own call
// state, so that the handler may be shared between goroutines.
type requestTransport struct {
	c   *Client
	ctx context.Context
}

func (t requestTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	cl := &call{c: t.c, ctx: t.ctx}
	cl.tr.cl = cl
	return cl.tr.RoundTrip(req)
}
