package video_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

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
