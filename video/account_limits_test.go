package video_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// limitsLog keeps the lines a Client logs that say the account's limits in
// force differ from its configured ones; safe for simultaneous use.
type limitsLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *limitsLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *limitsLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *limitsLog) WithGroup(string) slog.Handler            { return l }
func (l *limitsLog) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "limits in force differ") {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

func (l *limitsLog) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// levelLog keeps the rising threshold events of one Client.
type levelLog struct {
	mu     sync.Mutex
	events []quota.Event
}

func (l *levelLog) fn(e quota.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// rising returns "level@used/limit" of each rising Rooms event of code 53121.
func (l *levelLog) rising() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		if e.Resource == quota.Rooms && e.Rising && e.Code == quota.CodeApproachingQuota {
			out = append(out, fmt.Sprintf("%v@%d/%d", e.Level, e.Used, e.Limit))
		}
	}
	return out
}

// TestOneLimitPerAccount: Clients of one account configured with different
// Room limits (a rolling deploy), on one memory store or one Redis (a store
// per Client, as in separate processes), enforce one limit: that of the
// Client started last. Each Client whose limit differs logs one line naming
// both, every Client's Usage shows the limit in force, every Client refuses
// at the same count, and each Client's threshold levels fire, as shares of
// the limit in force, for the creates that cross them.
func TestOneLimitPerAccount(t *testing.T) {
	type step struct {
		client  int // index into the Clients
		creates int
	}
	cases := []struct {
		name   string
		limits []int     // Room limits, in the order the Clients start
		levels []float64 // each Client's one threshold level
		steps  []step    // creates, each Client started just before its first
		// rising events each Client sees, "level@used/limit"
		want [][]string
	}{
		{
			name:   "two",
			limits: []int{5, 10},
			levels: []float64{0.7, 0.7},
			// A alone at 5: its 0.7 rises at 4 of 5. B starts with 10:
			// its creates take usage from 5 to 10, and its 0.7 rises at 7.
			steps: []step{{0, 5}, {1, 5}},
			want:  [][]string{{"0.7@4/5"}, {"0.7@7/10"}},
		},
		{
			name:   "three",
			limits: []int{6, 6, 10},
			levels: []float64{0.5, 0.5, 0.9},
			// A and B at 6: 0.5 rises at 3 of 6 (A's third create). C
			// starts with 10: its 0.9 rises at 9 of 10. C watches no 0.5,
			// so its creates leave 0.5 of 10 undecided: A's next store
			// operation (the give-back of its refused create) finds it
			// crossed, at 10 of 10, and A is told; B, after A, is not.
			steps: []step{{0, 3}, {1, 3}, {2, 4}},
			want:  [][]string{{"0.5@3/6", "0.5@10/10"}, nil, {"0.9@9/10"}},
		},
	}
	stores := []struct {
		name string
		open func(t *testing.T) func(t *testing.T) backend.Store // one store per Client
	}{
		{"memory", func(t *testing.T) func(t *testing.T) backend.Store {
			st := memStore(t)
			return func(*testing.T) backend.Store { return st }
		}},
		{"redis", func(t *testing.T) func(t *testing.T) backend.Store {
			if testing.Short() {
				t.Skip("starts redis-server")
			}
			rs := redistest.Start(t)
			prefix := redistest.Prefix(t)
			return func(t *testing.T) backend.Store {
				st, err := redisstore.New(rs.Client(t), redisstore.WithPrefix(prefix))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = st.Close() })
				return st
			}
		}},
	}
	for _, sc := range stores {
		for _, tc := range cases {
			t.Run(sc.name+"/"+tc.name, func(t *testing.T) {
				srv := videotest.NewServer(videotest.Options{ConcurrentRooms: 100, ReadsPerSecond: -1, WritesPerSecond: -1})
				t.Cleanup(srv.Close)
				newStore := sc.open(t)
				ctx := context.Background()
				clients := make([]*video.Client, len(tc.limits))
				logs := make([]*limitsLog, len(tc.limits))
				levels := make([]*levelLog, len(tc.limits))
				start := func(i int) {
					logs[i], levels[i] = &limitsLog{}, &levelLog{}
					clients[i] = newClient(t, srv, video.WithStore(newStore(t)),
						video.WithLogger(slog.New(logs[i])),
						video.WithThresholds(levels[i].fn, tc.levels[i]),
						video.WithLimits(quota.Limits{ConcurrentRooms: tc.limits[i], ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}))
				}
				n := 0
				for _, s := range tc.steps {
					if clients[s.client] == nil {
						start(s.client)
					}
					for range s.creates {
						n++
						if _, err := clients[s.client].CreateRoom(ctx, room(fmt.Sprintf("r%d", n))); err != nil {
							t.Fatalf("create %d by Client %d: %v", n, s.client, err)
						}
					}
				}
				in := tc.limits[len(tc.limits)-1] // the Client started last
				if n != in {
					t.Fatalf("the steps create %d Rooms; the case wants the limit in force, %d", n, in)
				}
				for i, c := range clients {
					_, err := c.CreateRoom(ctx, room(fmt.Sprintf("past-%d", i)))
					var ee *quota.ExceededError
					if !errors.As(err, &ee) || ee.Used != in || ee.Limit != in || ee.Source != quota.SourceLocal {
						t.Errorf("Client %d (configured %d): create past the limit: %v, want a local refusal at %d of %d", i, tc.limits[i], err, in, in)
					}
					if u := c.Usage().Rooms; u.Limit != in || u.Used != in {
						t.Errorf("Client %d: Usage shows %d of %d Rooms, want %d of %d", i, u.Used, u.Limit, in, in)
					}
				}
				if got := srv.Stats().RoomsNow; got != in {
					t.Errorf("Twilio holds %d Rooms, want %d", got, in)
				}
				for i, c := range clients {
					c.Close() // every threshold event delivered
					lines := logs[i].got()
					want := 0
					if tc.limits[i] != in {
						want = 1
					}
					if len(lines) != want {
						t.Errorf("Client %d (configured %d, in force %d): %d lines saying the limits differ, want %d: %q", i, tc.limits[i], in, len(lines), want, lines)
					}
					for _, l := range lines {
						if !strings.Contains(l, fmt.Sprintf("configured_rooms=%d", tc.limits[i])) || !strings.Contains(l, fmt.Sprintf("in_force_rooms=%d", in)) {
							t.Errorf("Client %d: the line does not name both limits: %q", i, l)
						}
					}
					if got := levels[i].rising(); fmt.Sprint(got) != fmt.Sprint(tc.want[i]) {
						t.Errorf("Client %d (level %v): rising events %v, want %v", i, tc.levels[i], got, tc.want[i])
					}
				}
			})
		}
	}
}
