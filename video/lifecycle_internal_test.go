package video

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
)

// TestRequestHandlerSealed: the request handler's client is twilio-go's
// BaseClient, not the *client.Client underneath, so twilio-go's own retrying
// cannot be switched on through it; requests still go through the Client.
func TestRequestHandlerSealed(t *testing.T) {
	hits := 0
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		_, _ = w.Write([]byte(`{"rooms":[],"meta":{}}`))
	}))
	defer hs.Close()
	c, err := New("AC0123456789abcdef0123456789abcdef", "token", WithBaseURL(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rh := c.requestHandler(context.Background())
	if _, ok := rh.Client.(*client.Client); ok {
		t.Fatal("the handler exposes its *client.Client")
	}
	if _, ok := rh.Client.(interface{ SetAutoRetry(bool) }); ok {
		t.Fatal("the handler's client has SetAutoRetry")
	}
	if got := rh.Client.AccountSid(); got != c.AccountSID() {
		t.Fatalf("AccountSid %q; want %q", got, c.AccountSID())
	}
	resp, err := rh.Get("https://video.twilio.com/v1/Rooms", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits != 1 || c.stats.class[0].requests.Load()+c.stats.class[1].requests.Load() != 1 {
		t.Fatalf("server saw %d requests; want 1, counted by the Client", hits)
	}
}

// TestPooledCallForgetsClient: a call returned to the pool keeps no pointer
// to its Client's credentials or context.
func TestPooledCallForgetsClient(t *testing.T) {
	c, err := New("AC0123456789abcdef0123456789abcdef", "secret-token")
	if err != nil {
		t.Fatal(err)
	}
	cl := c.begin(context.Background())
	if cl.tw.Credentials != &c.credentials {
		t.Fatal("a call does not use its Client's credentials")
	}
	c.end(cl)
	c.Close()
	if cl.tw.Credentials != nil || cl.c != nil || cl.ctx != nil || cl.tw.AccountSid() != "" {
		t.Fatalf("a pooled call keeps its last Client: credentials %v, client %v, ctx %v, account %q",
			cl.tw.Credentials, cl.c, cl.ctx, cl.tw.AccountSid())
	}
}

// TestAttemptBound: a WithHTTPClient client with a zero Timeout keeps
// DefaultTimeout per attempt; a positive Timeout replaces it; and
// WithAttemptTimeout overrides both, 0 meaning no bound.
func TestAttemptBound(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
		want time.Duration
	}{
		{"default", nil, DefaultTimeout},
		{"http client without timeout", []Option{WithHTTPClient(&http.Client{})}, DefaultTimeout},
		{"http client timeout", []Option{WithHTTPClient(&http.Client{Timeout: 3 * time.Second})}, 3 * time.Second},
		{"attempt timeout wins", []Option{WithAttemptTimeout(time.Second), WithHTTPClient(&http.Client{Timeout: 3 * time.Second})}, time.Second},
		{"no bound", []Option{WithHTTPClient(&http.Client{}), WithAttemptTimeout(0)}, 0},
	}
	for _, tc := range cases {
		c, err := New("AC0123456789abcdef0123456789abcdef", "token", tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if c.timeout != tc.want {
			t.Errorf("%s: per-attempt bound %v; want %v", tc.name, c.timeout, tc.want)
		}
		c.Close()
	}
}

// TestViewsAreReadOnly: what Ledger and Limiter return has no method that
// changes the Client's state.
func TestViewsAreReadOnly(t *testing.T) {
	for _, v := range []any{LedgerView{}, LimiterView{}} {
		ty := reflect.TypeOf(v)
		for i := 0; i < ty.NumMethod(); i++ {
			switch name := ty.Method(i).Name; name {
			case "Used", "Holds", "Limit", "Rate", "Factor":
			default:
				t.Errorf("%s has method %s; want only reads", ty.Name(), name)
			}
		}
	}
}
