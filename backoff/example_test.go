package backoff_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	cbackoff "github.com/cenkalti/backoff/v4"

	"github.com/videoquota/videoquota/backoff"
)

// throttleTwice answers 429 with Twilio's 20429 body twice, then 200.
func throttleTwice() *httptest.Server {
	var hits atomic.Int32
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"code": 20429, "message": "Too Many Requests", "status": 429}`)
			return
		}
		fmt.Fprint(w, `{"sid": "RM00000000000000000000000000000000"}`)
	}))
}

// Do runs a request until it succeeds, sleeping with the context between
// attempts.
func Example() {
	srv := throttleTwice()
	defer srv.Close()

	p := backoff.DefaultPolicy()
	p.Base = time.Millisecond // keep the example fast
	attempt := 0
	err := backoff.Do(context.Background(), p, func(ctx context.Context) (backoff.Outcome, error) {
		attempt++
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/Rooms", nil)
		resp, err := http.DefaultClient.Do(req)
		o := backoff.FromResponse(req, resp, err, time.Now())
		if err != nil {
			return o, err
		}
		defer resp.Body.Close()
		fmt.Printf("attempt %d: HTTP %d\n", attempt, resp.StatusCode)
		if resp.StatusCode >= 400 {
			return o, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return o, nil
	})
	fmt.Println("err:", err)
	// Output:
	// attempt 1: HTTP 429
	// attempt 2: HTTP 429
	// attempt 3: HTTP 200
	// err: <nil>
}

// retryTransport is the shape of the retrying http.RoundTripper: one
// Retrier per request, the Twilio code read from the error body (and put
// back for the caller), the body replayed with GetBody, ctx-aware sleeps.
type retryTransport struct {
	next   http.RoundTripper
	policy backoff.Policy
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := t.policy.Start()
	for {
		resp, err := t.next.RoundTrip(req)
		o := backoff.FromResponse(req, resp, err, time.Now())
		if err == nil && resp.StatusCode < 400 {
			r.Succeeded()
			return resp, nil
		}
		if resp != nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(body))
			var twilioErr struct{ Code int }
			_ = json.Unmarshal(body, &twilioErr)
			o.Code = twilioErr.Code
		}
		wait, retry, rerr := r.Next(o)
		if rerr != nil {
			return nil, rerr // *MaxAttemptsError or ErrBudgetExhausted
		}
		if !retry {
			return resp, err // not retryable: the caller decodes Twilio's error
		}
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		if err := backoff.Sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// A RoundTripper retries every request of an http.Client, writes included,
// when Twilio answers 20429.
func ExamplePolicy_Start() {
	srv := throttleTwice()
	defer srv.Close()

	client := &http.Client{Transport: &retryTransport{
		next:   http.DefaultTransport,
		policy: backoff.Policy{Base: time.Millisecond, Budget: backoff.NewBudget(100)},
	}}
	resp, err := client.Post(srv.URL+"/v1/Rooms", "application/x-www-form-urlencoded",
		strings.NewReader("UniqueName=standup"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output: 200
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"2", "Thu, 26 Nov 2026 12:00:30 GMT", "Thu, 26 Nov 2026 11:00:00 GMT", "soon"} {
		d, ok := backoff.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 2s true
	// 30s true
	// 0s true
	// 0s false
}

func ExampleDefaultCheckRetry() {
	for _, o := range []backoff.Outcome{
		{Method: "POST", StatusCode: 429},
		{Method: "POST", StatusCode: 400, Code: 20429},
		{Method: "POST", StatusCode: 503},
		{Method: "GET", StatusCode: 503},
		{Method: "GET", Err: context.Canceled},
		{Method: "POST", StatusCode: 400, Code: 53119},
	} {
		fmt.Printf("%s %d code %d: %v\n", o.Method, o.StatusCode, o.Code, backoff.DefaultCheckRetry(o))
	}
	// Output:
	// POST 429 code 0: throttled
	// POST 400 code 20429: throttled
	// POST 503 code 0: none
	// GET 503 code 0: server
	// GET 0 code 0: none
	// POST 400 code 53119: none
}

// The policy's jitter is a cbackoff.BackOff, so it plugs into
// cbackoff.RetryNotify.
func ExamplePolicy_BackOff() {
	p := backoff.Policy{
		Base: time.Microsecond, Cap: 4 * time.Microsecond, MaxRetries: 4,
		Rand: func() float64 { return 1 }, // the ceiling, for a stable output
	}
	err := cbackoff.RetryNotify(func() error { return errors.New("throttled") }, p.BackOff(),
		func(err error, wait time.Duration) { fmt.Println(err, "- retrying in", wait) })
	fmt.Println("gave up:", err)
	// Output:
	// throttled - retrying in 1µs
	// throttled - retrying in 2µs
	// throttled - retrying in 4µs
	// throttled - retrying in 4µs
	// gave up: throttled
}

func ExamplePolicy_Validate() {
	err := backoff.Policy{Base: time.Second, Cap: 100 * time.Millisecond}.Validate()
	var pe *backoff.PolicyError
	fmt.Println(errors.As(err, &pe), pe.Field)
	fmt.Println(err)
	// Output:
	// true Cap
	// backoff: invalid Policy.Cap: 100ms is below Base 1s
}

// Retries run out: the error carries the attempts and the last cause.
func ExampleMaxAttemptsError() {
	r := backoff.Policy{MaxRetries: 1}.Start()
	throttled := backoff.Outcome{Method: "POST", StatusCode: 429, Code: 20429}
	_, retry, err := r.Next(throttled)
	fmt.Println(retry, err)
	_, retry, err = r.Next(throttled)
	var mae *backoff.MaxAttemptsError
	fmt.Println(retry, errors.As(err, &mae), mae.Attempts)
	fmt.Println(err)
	// Output:
	// true <nil>
	// false true 2
	// backoff: giving up after 2 attempts: backoff: POST answered HTTP 429 (Twilio code 20429)
}

// A shared budget stops retrying when the whole account is throttled, and
// refills with successes.
func ExampleBudget() {
	p := backoff.Policy{Budget: backoff.NewBudget(2 * backoff.ThrottleRetryCost)}
	throttled := backoff.Outcome{Method: "GET", StatusCode: 429}
	for i := range 3 {
		r := p.Start()
		_, retry, err := r.Next(throttled)
		fmt.Println(i, retry, errors.Is(err, backoff.ErrBudgetExhausted), p.Budget.Available())
	}
	for range backoff.ThrottleRetryCost {
		r := p.Start()
		r.Succeeded() // a first-attempt success refunds SuccessRefund
	}
	fmt.Println("after successes:", p.Budget.Available())
	// Output:
	// 0 true false 5
	// 1 true false 0
	// 2 false true 0
	// after successes: 5
}
