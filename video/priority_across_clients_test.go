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

// TestHigherLevelFirstAcrossClients: four Clients share one account on one
// Redis store (four processes). Three flood creates at many times the
// write quota; the fourth makes calls of a higher level: normal creates
// beside a background flood, Room completions (critical by default) beside
// a normal flood. Each is sent after at most the token in progress and one
// a flooding Client booked within its short lead, where first come first
// served across the Clients would put the three flooding Clients' bookings
// ahead of it.
func TestHigherLevelFirstAcrossClients(t *testing.T) {
	for _, tc := range []struct {
		name     string
		flood    video.Priority
		complete bool // the calls complete a Room (critical by default), else they create one
	}{
		{"normal creates beside a background flood", video.PriorityBackground, false},
		{"completions beside a normal flood", video.PriorityNormal, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
			flood, stop := context.WithCancel(video.WithPriority(context.Background(), tc.flood))
			var wg sync.WaitGroup
			for _, vq := range clients[:3] {
				for range 10 {
					wg.Go(func() {
						for flood.Err() == nil {
							_, _ = vq.CreateRoom(flood, room(""))
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
			ctx := context.Background()
			for range 5 {
				var sid string
				if tc.complete {
					r, err := clients[3].CreateRoom(video.WithPriority(ctx, video.PriorityCritical), room(""))
					if err != nil {
						t.Fatal(err)
					}
					sid = *r.Sid
				}
				before := log.sent.Load()
				at := int64(0)
				if tc.complete {
					if _, err := clients[3].UpdateRoom(ctx, sid, completed()); err != nil {
						t.Fatal(err)
					}
					log.mu.Lock()
					at = log.at["/v1/Rooms/"+sid]
					log.mu.Unlock()
				} else {
					if _, err := clients[3].CreateRoom(ctx, room("")); err != nil {
						t.Fatalf("normal create: %v", err)
					}
					at = log.sent.Load()
				}
				worst = max(worst, at-before-1)
			}
			t.Logf("calls of the higher level sent after at most %d others", worst)
			if worst > 2 {
				t.Errorf("a call of the higher level was sent after %d others, want at most 2", worst)
			}
		})
	}
}
