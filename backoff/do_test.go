package backoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	cbackoff "github.com/cenkalti/backoff/v4"
)

// twilioServer answers like Twilio's Video API: the first throttle requests
// get 429 with a 20429 body, the rest 200 (or status, when set).
type twilioServer struct {
	throttle   int32
	status     int
	retryAfter string
	hits       atomic.Int32
}

func (s *twilioServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.hits.Add(1)
	if n <= s.throttle {
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}`)
		return
	}
	if s.status != 0 {
		w.WriteHeader(s.status)
		return
	}
	fmt.Fprint(w, `{"sid": "RM00000000000000000000000000000000", "status": "in-progress"}`)
}

func setup(t *testing.T, s *twilioServer) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// call makes one real request and reports it as an Outcome, the way a
// RoundTripper would: status, Retry-After and the Twilio code from the body.
func call(ctx context.Context, method, url string) (Outcome, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return Outcome{}, cbackoff.Permanent(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return FromResponse(req, nil, err, time.Now()), err
	}
	defer resp.Body.Close()
	o := FromResponse(req, resp, nil, time.Now())
	if resp.StatusCode < 400 {
		_, err = io.Copy(io.Discard, resp.Body)
		return o, err
	}
	var body struct{ Code int }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	o.Code = body.Code
	return o, &StatusError{Method: method, StatusCode: resp.StatusCode, Code: body.Code, RetryAfter: o.RetryAfter}
}

func fastPolicy() Policy {
	return Policy{Base: time.Millisecond, Cap: 2 * time.Millisecond, Budget: NewBudget(100)}
}

func TestDoThrottledTwiceThenOK(t *testing.T) {
	s := &twilioServer{throttle: 2, retryAfter: "0"}
	url := setup(t, s)
	p := fastPolicy()
	var attempts int
	err := Do(t.Context(), p, func(ctx context.Context) (Outcome, error) {
		attempts++
		return call(ctx, http.MethodPost, url+"/v1/Rooms")
	})
	if err != nil {
		t.Fatalf("Do = %v, want nil", err)
	}
	if attempts != 3 || s.hits.Load() != 3 {
		t.Fatalf("attempts %d, server hits %d; want 3 and 3", attempts, s.hits.Load())
	}
	if want := 100 - 2*ThrottleRetryCost + ThrottleRetryCost; p.Budget.Available() != want {
		t.Errorf("budget %d, want %d (two retries paid, the last one refunded)", p.Budget.Available(), want)
	}
}

func TestDoGivesUp(t *testing.T) {
	s := &twilioServer{throttle: 1000}
	url := setup(t, s)
	p := fastPolicy()
	p.MaxRetries = 3
	err := Do(t.Context(), p, func(ctx context.Context) (Outcome, error) {
		return call(ctx, http.MethodGet, url+"/v1/Rooms")
	})
	var mae *MaxAttemptsError
	if !errors.As(err, &mae) || mae.Attempts != 4 {
		t.Fatalf("Do = %v, want *MaxAttemptsError after 4 attempts", err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 20429 || se.StatusCode != 429 {
		t.Fatalf("last cause = %v, want the 20429 response", err)
	}
	if s.hits.Load() != 4 {
		t.Fatalf("server hits %d, want 4", s.hits.Load())
	}
}

func TestDoStops(t *testing.T) {
	tests := []struct {
		name     string
		server   *twilioServer
		method   string
		policy   Policy
		wantHits int32
	}{
		{"POST 503 is not retried", &twilioServer{status: 503}, http.MethodPost, fastPolicy(), 1},
		{"GET 404 is not retried", &twilioServer{status: 404}, http.MethodGet, fastPolicy(), 1},
		{"GET 503 is retried until MaxRetries", &twilioServer{status: 503}, http.MethodGet, Policy{Base: time.Millisecond, MaxRetries: 2}, 3},
		{"NoRetry sends once", &twilioServer{throttle: 5}, http.MethodPost, NoRetry(), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := setup(t, tt.server)
			err := Do(t.Context(), tt.policy, func(ctx context.Context) (Outcome, error) {
				return call(ctx, tt.method, url)
			})
			if err == nil {
				t.Fatal("Do = nil, want the failure")
			}
			if got := tt.server.hits.Load(); got != tt.wantHits {
				t.Fatalf("server hits %d, want %d (err %v)", got, tt.wantHits, err)
			}
		})
	}
}

func TestDoNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more: connection refused
	var attempts int
	err := Do(t.Context(), Policy{Base: time.Millisecond, MaxRetries: 2}, func(ctx context.Context) (Outcome, error) {
		attempts++
		return call(ctx, http.MethodGet, url)
	})
	if _, ok := errors.AsType[*MaxAttemptsError](err); !ok || attempts != 3 {
		t.Fatalf("GET to a closed port: Do = %v after %d attempts, want *MaxAttemptsError after 3", err, attempts)
	}
	attempts = 0
	err = Do(t.Context(), Policy{Base: time.Millisecond, MaxRetries: 2}, func(ctx context.Context) (Outcome, error) {
		attempts++
		return call(ctx, http.MethodPost, url)
	})
	if err == nil || attempts != 1 {
		t.Fatalf("POST to a closed port: Do = %v after %d attempts, want the error after 1", err, attempts)
	}
}

func TestDoPermanent(t *testing.T) {
	bad := errors.New("malformed SID")
	var attempts int
	err := Do(t.Context(), Policy{}, func(context.Context) (Outcome, error) {
		attempts++
		return throttled, cbackoff.Permanent(bad)
	})
	if err != bad || attempts != 1 {
		t.Fatalf("Do = %v after %d attempts, want %v after 1", err, attempts, bad)
	}
}

func TestDoCancelledDuringWait(t *testing.T) {
	s := &twilioServer{throttle: 1000, retryAfter: "5"}
	url := setup(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	p := Policy{MaxRetryAfter: time.Hour}
	errc := make(chan error, 1)
	go func() {
		errc <- Do(ctx, p, func(ctx context.Context) (Outcome, error) {
			o, err := call(ctx, http.MethodPost, url)
			cancel() // the first attempt is done; cancel during the 5 s wait
			return o, err
		})
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, want context.Canceled", err)
		}
		if se, ok := errors.AsType[*StatusError](err); !ok || se.RetryAfter != 5*time.Second {
			t.Fatalf("Do = %v, want the last 429 (Retry-After 5s) inside", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Do kept waiting for Retry-After after ctx was cancelled")
	}
	if s.hits.Load() != 1 {
		t.Fatalf("server hits %d, want 1", s.hits.Load())
	}
}

func TestDoInvalidPolicy(t *testing.T) {
	var attempts int
	err := Do(t.Context(), Policy{Base: -1}, func(context.Context) (Outcome, error) { attempts++; return Outcome{}, nil })
	if pe, ok := errors.AsType[*PolicyError](err); !ok || pe.Field != "Base" || attempts != 0 {
		t.Fatalf("Do = %v after %d attempts, want a *PolicyError for Base and no attempt", err, attempts)
	}
}
