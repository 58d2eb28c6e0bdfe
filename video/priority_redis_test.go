package video_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestBackgroundFloodInOtherClientsLeavesNormalFirst: four Clients share one
// account on one Redis store (four processes). Three flood background
// creates at many times the write quota; the fourth sends normal creates,
// each sent after at most the token in progress and one a background
// Client booked within its short lead (first come first served across the
// Clients would put the three background bookings ahead of it).
func TestBackgroundFloodInOtherClientsLeavesNormalFirst(t *testing.T) {
	rs := redistest.Start(t)
	prefix := redistest.Prefix(t)
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: 20})
	t.Cleanup(srv.Close)
	log := &sendLog{base: http.DefaultTransport, at: map[string]int64{}}
	clients := make([]*video.Client, 4)
	for i := range clients {
		st, err := redisstore.New(rs.Client(t), redisstore.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		clients[i] = newClient(t, srv, video.WithStore(st), video.WithHTTPClient(&http.Client{Transport: log}),
			video.WithLimits(quota.Limits{WritesPerSecond: 20, WriteBurst: 1}))
	}
	bg, stop := context.WithCancel(video.WithPriority(context.Background(), video.PriorityBackground))
	var wg sync.WaitGroup
	for _, vq := range clients[:3] {
		for range 10 {
			wg.Go(func() {
				for bg.Err() == nil {
					_, _ = vq.CreateRoom(bg, room(""))
				}
			})
		}
	}
	defer func() { stop(); wg.Wait() }()
	for log.sent.Load() < 20 {
		if _, err := clients[3].ListRoom(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	worst := int64(0)
	for range 10 {
		before := log.sent.Load()
		if _, err := clients[3].CreateRoom(context.Background(), room("")); err != nil {
			t.Fatalf("normal create: %v", err)
		}
		worst = max(worst, log.sent.Load()-before-1)
	}
	t.Logf("normal creates sent after at most %d others", worst)
	if worst > 2 {
		t.Errorf("a normal create was sent after %d others, want at most 2", worst)
	}
}
