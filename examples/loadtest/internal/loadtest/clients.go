package loadtest

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"
)

// API is the part of the Video v1 API the harness drives, in the drop-in
// shape of video.Client: twilio-go's methods with a context first.
type API interface {
	CreateRoom(ctx context.Context, params *openapi.CreateRoomParams) (*openapi.VideoV1Room, error)
	UpdateRoom(ctx context.Context, sid string, params *openapi.UpdateRoomParams) (*openapi.VideoV1Room, error)
	FetchRoom(ctx context.Context, sid string) (*openapi.VideoV1Room, error)
	ListRoom(ctx context.Context, params *openapi.ListRoomParams) ([]openapi.VideoV1Room, error)
}

// Raw is plain twilio-go: its ApiService takes no context, so ctx is ignored
// (a call in flight when the run ends finishes on its own).
type Raw struct{ Svc *openapi.ApiService }

// NewRaw returns twilio-go's Video ApiService with its requests sent to
// baseURL (an emulator) through next (nil means http.DefaultTransport).
func NewRaw(accountSID, authToken, baseURL string, next http.RoundTripper) (*Raw, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	if next == nil {
		next = http.DefaultTransport
	}
	hc := &http.Client{
		Transport:     &Rewrite{Target: u, Next: next},
		Timeout:       10 * time.Second, // twilio-go's default
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c := &client.Client{Credentials: client.NewCredentials(accountSID, authToken), HTTPClient: hc}
	c.SetAccountSid(accountSID)
	return &Raw{Svc: openapi.NewApiServiceWithClient(c)}, nil
}

// CreateRoom calls twilio-go's CreateRoom.
func (r *Raw) CreateRoom(_ context.Context, p *openapi.CreateRoomParams) (*openapi.VideoV1Room, error) {
	return r.Svc.CreateRoom(p)
}

// UpdateRoom calls twilio-go's UpdateRoom.
func (r *Raw) UpdateRoom(_ context.Context, sid string, p *openapi.UpdateRoomParams) (*openapi.VideoV1Room, error) {
	return r.Svc.UpdateRoom(sid, p)
}

// FetchRoom calls twilio-go's FetchRoom.
func (r *Raw) FetchRoom(_ context.Context, sid string) (*openapi.VideoV1Room, error) {
	return r.Svc.FetchRoom(sid)
}

// ListRoom calls twilio-go's ListRoom (which follows next-page URLs).
func (r *Raw) ListRoom(_ context.Context, p *openapi.ListRoomParams) ([]openapi.VideoV1Room, error) {
	return r.Svc.ListRoom(p)
}

// Naive wraps an API in the retry loop people write: on a 429, sleep
// Base*2^n and try again, up to Retries times; no jitter, no pacing. Its
// sleeps end early when ctx ends.
type Naive struct {
	Next    API
	Base    time.Duration // 100 ms in the report
	Retries int           // 5 in the report
}

func naive[T any](ctx context.Context, n *Naive, f func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := f()
		if err == nil || i >= n.Retries || Classify(err) != Rate429 {
			return v, err
		}
		t := time.NewTimer(n.Base << i)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, ctx.Err() // cut short by the end of the run
		case <-t.C:
		}
	}
}

// CreateRoom retries Next.CreateRoom on 429.
func (n *Naive) CreateRoom(ctx context.Context, p *openapi.CreateRoomParams) (*openapi.VideoV1Room, error) {
	return naive(ctx, n, func() (*openapi.VideoV1Room, error) { return n.Next.CreateRoom(ctx, p) })
}

// UpdateRoom retries Next.UpdateRoom on 429.
func (n *Naive) UpdateRoom(ctx context.Context, sid string, p *openapi.UpdateRoomParams) (*openapi.VideoV1Room, error) {
	return naive(ctx, n, func() (*openapi.VideoV1Room, error) { return n.Next.UpdateRoom(ctx, sid, p) })
}

// FetchRoom retries Next.FetchRoom on 429.
func (n *Naive) FetchRoom(ctx context.Context, sid string) (*openapi.VideoV1Room, error) {
	return naive(ctx, n, func() (*openapi.VideoV1Room, error) { return n.Next.FetchRoom(ctx, sid) })
}

// ListRoom retries Next.ListRoom on 429 (the whole listing, as a caller of
// twilio-go's ListRoom would).
func (n *Naive) ListRoom(ctx context.Context, p *openapi.ListRoomParams) ([]openapi.VideoV1Room, error) {
	return naive(ctx, n, func() ([]openapi.VideoV1Room, error) { return n.Next.ListRoom(ctx, p) })
}
