package video_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// The README's many-processes setup: two Clients (two processes) on one
// store, behind one status callback URL that a load balancer spreads over
// both. Whichever process hears a callback settles what either made.

// twoProcs is one emulator behind a lossy proxy, two Clients sharing one
// store (each with its own handle on it, as two processes have), and one
// callback URL whose requests alternate between the Clients' handlers.
type twoProcs struct {
	srv      *videotest.Server
	proxy    *lossy
	hs       *httptest.Server
	clk      *fakeClock
	vq       [2]*video.Client
	st       [2]backend.Store
	handlers [2]http.Handler
	turn     atomic.Uint64
}

// twoProcStores are the stores the two-process tests run on: one memory
// store that both Clients are given, and Redis with a store per Client.
var twoProcStores = []string{"memory", "redis"}

func newTwoProcs(t *testing.T, store string, mod func(o *videotest.Options)) *twoProcs {
	t.Helper()
	tp := &twoProcs{clk: &fakeClock{t: time.Now()}}
	tp.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp.handlers[tp.turn.Add(1)%2].ServeHTTP(w, r) // the load balancer: each in turn
	}))
	t.Cleanup(tp.hs.Close)
	o := videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1, Seed: 42, AdHocRooms: true, AdHocStatusCallback: tp.statusURL()}
	if mod != nil {
		mod(&o)
	}
	tp.srv = videotest.NewServer(o)
	t.Cleanup(tp.srv.Close)
	tp.proxy = newLossy(t, tp.srv.URL())
	switch store {
	case "memory":
		s := memStore(t)
		tp.st = [2]backend.Store{s, s}
	case "redis":
		rs := redistest.Start(t)
		prefix := redistest.Prefix(t)
		for i := range tp.st {
			// These probes check the count, not outages: a deadline that a
			// loaded machine cannot miss keeps Redis available to them.
			s, err := redisstore.New(rs.Client(t), redisstore.WithPrefix(prefix), redisstore.WithTimeout(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			tp.st[i] = s
		}
	default:
		t.Fatalf("store %q", store)
	}
	keySID, keySecret := tp.srv.APIKey()
	for i := range tp.vq {
		vq, err := video.New(tp.srv.AccountSID(), tp.srv.AuthToken(),
			video.WithBaseURL(tp.proxy.srv.URL), video.WithAPIKey(keySID, keySecret),
			video.WithLimits(quota.Limits{ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}),
			video.WithClock(tp.clk), fastRetry(2), video.WithStore(tp.st[i]))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { vq.Close() })
		tp.vq[i] = vq
		tp.handlers[i] = vq.StatusCallbackHandler()
	}
	return tp
}

func (tp *twoProcs) statusURL() string { return tp.hs.URL + "/status" }

// used returns what the store counts of res (held plus pending).
func (tp *twoProcs) used(t *testing.T, res backend.Resource) int {
	t.Helper()
	n, _, err := tp.st[0].Used(context.Background(), tp.srv.AccountSID(), res)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// flush waits until the emulator has delivered (or dropped) every callback.
func (tp *twoProcs) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tp.srv.FlushCallbacks(ctx); err != nil {
		t.Fatalf("FlushCallbacks: %v", err)
	}
}

// reconcileAfterWindow moves both Clients' clock past the request window
// and runs each one's Reconcile once.
func (tp *twoProcs) reconcileAfterWindow(t *testing.T) {
	t.Helper()
	tp.flush(t)
	tp.clk.Advance(video.DefaultRequestWindow + time.Second)
	for _, vq := range tp.vq {
		if _, err := vq.Reconcile(context.Background()); err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
	}
}

// twoProcRounds is how many operations each goroutine of a two-process
// test runs: a few in -short, more by default, VIDEOQUOTA_TWOPROC_ROUNDS
// when set (for longer runs by hand).
func twoProcRounds(t *testing.T, short, full int) int {
	if v := os.Getenv("VIDEOQUOTA_TWOPROC_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("VIDEOQUOTA_TWOPROC_ROUNDS=%q: want a positive integer", v)
		}
		return n
	}
	if testing.Short() {
		return short
	}
	return full
}

// TestTwoProcessesUnnamedCreatesNeverUnderCount: 8 goroutines per process
// create unnamed Rooms with a status callback; 40% of the answers are lost
// after Twilio created the Room; every callback is delivered, or 30% are
// lost. A sampler reads the emulator's Rooms, then the store's: never
// below. After the callbacks, the store counts at least the Rooms that
// exist and at most one more per lost answer (neither Client takes a Room
// of unknown origin for its lost create, since the other's create may have
// made it); the next Reconcile of each process after the request window
// makes it exact.
func TestTwoProcessesUnnamedCreatesNeverUnderCount(t *testing.T) {
	per := twoProcRounds(t, 5, 20)
	for _, store := range twoProcStores {
		for _, drop := range []float64{0, 0.3} {
			t.Run(fmt.Sprintf("%s store, callbacks lost %.0f%%", store, drop*100), func(t *testing.T) {
				tp := newTwoProcs(t, store, func(o *videotest.Options) { o.Faults.CallbackDropRate = drop })
				var n atomic.Int64
				tp.proxy.set(func(method, path string) lossAction {
					if method == "POST" && path == "/v1/Rooms" && n.Add(1)%5 < 2 {
						return dropAfter
					}
					return pass
				})
				p := startProbe(tp.srv, storeRooms(tp.srv, tp.st[0]))
				var wg sync.WaitGroup
				var lost atomic.Int64
				for i := range 16 {
					vq := tp.vq[i%2]
					wg.Go(func() {
						for range per {
							params := room("")
							params.SetStatusCallback(tp.statusURL())
							if _, err := vq.CreateRoom(context.Background(), params); err != nil {
								lost.Add(1)
							}
						}
					})
				}
				wg.Wait()
				tp.flush(t)
				finishProbe(t, p)
				exist, used := tp.srv.Stats().RoomsNow, tp.used(t, backend.Rooms)
				t.Logf("%d creates, %d answers lost; emulator %d Rooms, store %d", 16*per, lost.Load(), exist, used)
				if exist != 16*per {
					t.Fatalf("emulator holds %d Rooms, want %d", exist, 16*per)
				}
				if lost.Load() == 0 {
					t.Fatal("no answer was lost: the test shows nothing")
				}
				if used < exist || used > exist+int(lost.Load()) {
					t.Errorf("after the callbacks: store %d, want between the emulator's %d and that plus the %d lost answers", used, exist, lost.Load())
				}
				tp.reconcileAfterWindow(t)
				if used := tp.used(t, backend.Rooms); used != exist {
					t.Errorf("after each process's Reconcile: store %d, emulator %d", used, exist)
				}
			})
		}
	}
}

// TestTwoProcessesTokenChurnSettles: goroutines mint JoinTokens through
// either process for a few ad-hoc Room names, connect with each at once and
// leave (each Room ends when its last Participant leaves). Every callback
// is delivered, to either process. Once they have arrived, the store holds
// exactly what exists (nothing: every token was used, every Room ended),
// with no Reconcile: a token's reservations are settled by whichever
// process hears its Participant connect.
func TestTwoProcessesTokenChurnSettles(t *testing.T) {
	per := twoProcRounds(t, 10, 40)
	for _, store := range twoProcStores {
		t.Run(store+" store", func(t *testing.T) {
			tp := newTwoProcs(t, store, nil)
			var wg sync.WaitGroup
			var fails atomic.Int64
			for w := range 16 {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(11, uint64(w)))
					for i := range per {
						vq := tp.vq[r.IntN(2)]
						name := fmt.Sprintf("churn-%d", r.IntN(6))
						id := fmt.Sprintf("u%d-%d", w, i)
						tok, err := vq.JoinToken(context.Background(), name, id)
						if err != nil {
							t.Errorf("JoinToken: %v", err)
							return
						}
						if _, err := tp.srv.ConnectWithToken(tok, name); err != nil {
							fails.Add(1)
							continue
						}
						if err := tp.srv.Disconnect(name, id); err != nil {
							t.Errorf("Disconnect %s from %s: %v", id, name, err)
						}
					}
				})
			}
			wg.Wait()
			tp.flush(t)
			st := tp.srv.Stats()
			rooms, parts := tp.used(t, backend.Rooms), tp.used(t, backend.Participants)
			t.Logf("%d joins (%d connects failed); emulator %d Rooms %d Participants; store %d Rooms %d Participants",
				16*per, fails.Load(), st.RoomsNow, st.ParticipantsNow, rooms, parts)
			if fails.Load() != 0 {
				t.Fatalf("%d connects failed: the tokens they did not use keep their reservations, the test shows nothing exact", fails.Load())
			}
			if rooms != st.RoomsNow || parts != st.ParticipantsNow {
				t.Errorf("once every callback arrived: store %d Rooms %d Participants, emulator %d and %d (one process holds exactly what exists)",
					rooms, parts, st.RoomsNow, st.ParticipantsNow)
			}
		})
	}
}

// TestTwoProcessesCreateCompleteChurnExact: 8 goroutines per process create
// Rooms (named and unnamed) and complete them, each keeping up to 5 in
// progress, every callback delivered to either process, with and without
// both processes reconciling back to back meanwhile. A room-created heard
// by the process that did not see its Room end holds nothing (the store
// remembers the end), so once every callback has arrived the store holds
// exactly the Rooms that exist, with no further Reconcile.
func TestTwoProcessesCreateCompleteChurnExact(t *testing.T) {
	per := twoProcRounds(t, 12, 60)
	for _, store := range twoProcStores {
		for _, reconcile := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s store, reconcilers %v", store, reconcile), func(t *testing.T) {
				tp := newTwoProcs(t, store, nil)
				ctx, cancel := context.WithCancel(context.Background())
				var rwg sync.WaitGroup
				if reconcile {
					for _, vq := range tp.vq {
						rwg.Go(func() {
							for ctx.Err() == nil {
								_, _ = vq.Reconcile(ctx)
							}
						})
					}
				}
				var wg sync.WaitGroup
				var creates, completes atomic.Int64
				for w := range 16 {
					vq := tp.vq[w%2]
					wg.Go(func() {
						r := rand.New(rand.NewPCG(5, uint64(w)))
						var live []string
						for i := range per {
							if len(live) >= 5 || (len(live) > 0 && r.IntN(3) == 0) {
								j := r.IntN(len(live))
								if _, err := vq.UpdateRoom(context.Background(), live[j], completed()); err != nil {
									t.Errorf("complete: %v", err)
									return
								}
								completes.Add(1)
								live = append(live[:j], live[j+1:]...)
							}
							params := room("")
							if r.IntN(2) == 0 {
								params = room(fmt.Sprintf("cc-%d-%d", w, i))
							}
							params.SetStatusCallback(tp.statusURL())
							rm, err := vq.CreateRoom(context.Background(), params)
							if err != nil {
								t.Errorf("create: %v", err)
								return
							}
							creates.Add(1)
							live = append(live, *rm.Sid)
						}
					})
				}
				wg.Wait()
				tp.flush(t)
				cancel()
				rwg.Wait()
				tp.flush(t)
				exist, used := tp.srv.Stats().RoomsNow, tp.used(t, backend.Rooms)
				t.Logf("%d creates, %d completes; emulator %d Rooms, store %d", creates.Load(), completes.Load(), exist, used)
				if completes.Load() == 0 {
					t.Fatal("no Room was completed: the test shows nothing")
				}
				if used != exist {
					t.Errorf("once every callback arrived: store %d Rooms, emulator %d", used, exist)
				}
			})
		}
	}
}
