package video_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// sendLog numbers the requests that reach the emulator, and remembers the
// number each Room completion was sent at.
type sendLog struct {
	base http.RoundTripper
	sent atomic.Int64
	mu   sync.Mutex
	at   map[string]int64 // Room path → number of its completion
}

func (l *sendLog) RoundTrip(req *http.Request) (*http.Response, error) {
	n := l.sent.Add(1)
	if req.Method == http.MethodPost && strings.Count(req.URL.Path, "/") == 3 {
		l.mu.Lock()
		l.at[req.URL.Path] = n
		l.mu.Unlock()
	}
	return l.base.RoundTrip(req)
}

// TestCompletionsOvertakeCreateFlood floods creates at many times the write
// quota and completes Rooms meanwhile: each completion (critical by default)
// is sent after at most a few of the creates already granted, where first
// come first served would send it after every flooder ahead of it.
func TestCompletionsOvertakeCreateFlood(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: 20})
	t.Cleanup(srv.Close)
	log := &sendLog{base: http.DefaultTransport, at: map[string]int64{}}
	vq := newClient(t, srv, video.WithHTTPClient(&http.Client{Transport: log}),
		video.WithLimits(quota.Limits{WritesPerSecond: 20, WriteBurst: 1}))
	ctx := context.Background()
	var sids []string
	for range 5 {
		r, err := vq.CreateRoom(ctx, room(""))
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, *r.Sid)
	}
	const flooders = 30
	fctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range flooders {
		wg.Go(func() {
			for fctx.Err() == nil {
				_, _ = vq.CreateRoom(fctx, room(""))
			}
		})
	}
	defer func() { stop(); wg.Wait() }()
	// Wait until every flooder queues.
	for log.sent.Load() < 5+flooders {
		if _, err := vq.FetchRoom(ctx, sids[0]); err != nil {
			t.Fatal(err)
		}
	}
	for _, sid := range sids {
		before := log.sent.Load()
		if _, err := vq.UpdateRoom(ctx, sid, completed()); err != nil {
			t.Fatal(err)
		}
		log.mu.Lock()
		at := log.at["/v1/Rooms/"+sid]
		log.mu.Unlock()
		// Ahead of it at most the token in progress and those on their way
		// to the wire; first come first served would put ~30 creates ahead.
		if ahead := at - before - 1; ahead > 5 {
			t.Errorf("completion of %s sent after %d other requests", sid, ahead)
		}
	}
}

// TestBackgroundFloodLeavesNormalFirst floods background creates at many
// times the quota and sends normal calls meanwhile: every normal call is
// sent after at most a few others, and none is refused.
func TestBackgroundFloodLeavesNormalFirst(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: 20})
	t.Cleanup(srv.Close)
	log := &sendLog{base: http.DefaultTransport, at: map[string]int64{}}
	vq := newClient(t, srv, video.WithHTTPClient(&http.Client{Transport: log}),
		video.WithLimits(quota.Limits{WritesPerSecond: 20, WriteBurst: 1}))
	ctx := context.Background()
	bg, stop := context.WithCancel(video.WithPriority(ctx, video.PriorityBackground))
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			for bg.Err() == nil {
				_, _ = vq.CreateRoom(bg, room(""))
			}
		})
	}
	defer func() { stop(); wg.Wait() }()
	for log.sent.Load() < 30 {
		if _, err := vq.ListRoom(ctx, (&openapi.ListRoomParams{}).SetLimit(1)); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		before := log.sent.Load()
		r, err := vq.CreateRoom(ctx, room(""))
		if err != nil {
			var ex *quota.ExceededError
			t.Fatalf("normal create refused: %v (exceeded: %v)", err, errors.As(err, &ex))
		}
		after := log.sent.Load()
		if ahead := after - before - 1; ahead > 5 {
			t.Errorf("normal create %s sent after up to %d other requests", *r.Sid, ahead)
		}
	}
}

// TestPriorityUsageCountsWaits: a background flood shows up as queued and
// waited background callers of the write class, and nothing at critical.
func TestPriorityUsageCountsWaits(t *testing.T) {
	_, vq := setup(t, videotest.Options{WritesPerSecond: 20}, video.WithLimits(quota.Limits{WritesPerSecond: 20, WriteBurst: 1}))
	bg := video.WithPriority(context.Background(), video.PriorityBackground)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := vq.CreateRoom(bg, room("")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	u := vq.PriorityUsage(quota.Write, video.PriorityBackground)
	if u.Queued == 0 || u.Waited <= 0 || u.Waiting != 0 {
		t.Errorf("background writes: %+v, want some queued and waited, none waiting", u)
	}
	if c := vq.PriorityUsage(quota.Write, video.PriorityCritical); c != (video.PriorityUsage{}) {
		t.Errorf("critical writes: %+v, want nothing", c)
	}
}

// TestUsageWaitsByPriorityAndTenant: Usage shows the waits of a flood by
// level and by tenant, and counts apart, at its level and tenant, a caller
// refused because its deadline comes before its token.
func TestUsageWaitsByPriorityAndTenant(t *testing.T) {
	_, vq := setup(t, videotest.Options{WritesPerSecond: 50}, video.WithLimits(quota.Limits{WritesPerSecond: 50, WriteBurst: 1}))
	var wg sync.WaitGroup
	for i := range 12 {
		ctx := video.WithTenant(context.Background(), []string{"acme", "globex"}[i%2])
		wg.Go(func() {
			if _, err := vq.CreateRoom(ctx, room("")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// The bucket's next token is a whole interval away at 1/s; a deadline
	// of 1 ms cannot be met.
	_, slow := setup(t, videotest.Options{}, video.WithLimits(quota.Limits{WritesPerSecond: 1, WriteBurst: 1}))
	if _, err := slow.CreateRoom(context.Background(), room("")); err != nil {
		t.Fatal(err)
	}
	bg, cancel := context.WithTimeout(video.WithTenant(video.WithPriority(context.Background(), video.PriorityBackground), "initech"), time.Millisecond)
	defer cancel()
	var rl *quota.RateLimitError
	if _, err := slow.CreateRoom(bg, room("")); !errors.As(err, &rl) {
		t.Fatalf("a create 1 ms before its deadline: %v; want a *quota.RateLimitError", err)
	}

	w := vq.Usage().Writes
	if n := w.Priorities[video.PriorityNormal]; n.Name != "normal" || n.Queued == 0 || n.Waited <= 0 || n.Refused != 0 {
		t.Errorf("normal writes %+v; want some queued and waited, none refused", n)
	}
	names := map[string]quota.WaitUsage{}
	for _, tu := range w.Tenants {
		names[tu.Name] = tu
	}
	if names["acme"].Queued == 0 || names["globex"].Queued == 0 {
		t.Errorf("tenants %+v; want acme and globex queued", w.Tenants)
	}
	s := slow.Usage()
	if b := s.Writes.Priorities[video.PriorityBackground]; b.Refused != 1 {
		t.Errorf("background writes %+v; want 1 refused", b)
	}
	if len(s.Writes.Tenants) != 1 || s.Writes.Tenants[0].Name != "initech" || s.Writes.Tenants[0].Refused != 1 {
		t.Errorf("tenants %+v; want initech refused once", s.Writes.Tenants)
	}
	if s.LocalRefusals != 1 {
		t.Errorf("local refusals %d, want 1", s.LocalRefusals)
	}
}

// TestPriorityShares: WithPriorityShares takes shares adding up to at most
// MaxPriorityShares and refuses others, naming itself.
func TestPriorityShares(t *testing.T) {
	for _, tc := range []struct {
		normal, background float64
		ok                 bool
	}{
		{0.10, 0.05, true}, {0, 0, true}, {0, 0.7, true}, {0.3, 0.4, true},
		{0.5, 0.5, false}, {-0.1, 0, false}, {0, 0.71, false},
	} {
		_, err := video.New("AC0123456789abcdef0123456789abcdef", "token", video.WithPriorityShares(tc.normal, tc.background))
		var ce *video.ConfigError
		switch {
		case tc.ok && err != nil:
			t.Errorf("WithPriorityShares(%v, %v): %v", tc.normal, tc.background, err)
		case !tc.ok && (!errors.As(err, &ce) || ce.Option != "WithPriorityShares"):
			t.Errorf("WithPriorityShares(%v, %v): %v; want a *ConfigError naming WithPriorityShares", tc.normal, tc.background, err)
		}
	}
}
