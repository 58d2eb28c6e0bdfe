package video_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// probe samples, as fast as it can until stopped, the Rooms in progress at
// the emulator and then the Rooms the store counts (held plus pending). Every Room was reserved
// before it was created and nothing in the probed tests ends a Room, so a
// sample whose ledger count is below the emulator's breaks the ledger's
// first law: it never counts fewer Rooms than exist.
type probe struct {
	samples, below atomic.Int64
	worst          atomic.Int64 // the largest shortfall seen
	stop           chan struct{}
	done           chan struct{}
}

func startProbe(srv *videotest.Server, st backend.Store) *probe {
	ctx := context.Background()
	p := &probe{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			exist := srv.Stats().RoomsNow
			held, _, err := st.Used(ctx, srv.AccountSID(), backend.Rooms)
			if err != nil {
				continue
			}
			p.samples.Add(1)
			if short := int64(exist - held); short > 0 {
				p.below.Add(1)
				if short > p.worst.Load() {
					p.worst.Store(short)
				}
			}
		}
	}()
	return p
}

// finish stops the sampler and fails t if any sample was below.
func (p *probe) finish(t *testing.T) {
	t.Helper()
	close(p.stop)
	<-p.done
	t.Logf("probe: %d samples, %d below", p.samples.Load(), p.below.Load())
	if n := p.below.Load(); n > 0 {
		t.Errorf("the ledger counted fewer Rooms than exist in %d of %d samples (by up to %d)", n, p.samples.Load(), p.worst.Load())
	}
}

// TestConcurrentUnnamedCreatesNeverUnderCount: 16 goroutines create unnamed
// Rooms with a status callback; the answers of a third of them are lost
// after Twilio created the Room (the connection closes). The ledger never
// counts fewer Rooms than the emulator holds. With every callback delivered
// it counts exactly those once they have arrived (each orphan settled a
// lost answer, one for one, once no create was in flight); with 30% of the
// callbacks lost it counts at least those, and exactly those after a
// Reconcile past the request window.
func TestConcurrentUnnamedCreatesNeverUnderCount(t *testing.T) {
	for _, st := range []string{"memory", "redis"} {
		for _, drop := range []float64{0, 0.3} {
			t.Run(fmt.Sprintf("%s store, callbacks lost %.0f%%", st, drop*100), func(t *testing.T) {
				var store backend.Store = memStore(t)
				if st == "redis" {
					s, err := redisstore.New(redistest.Start(t).Client(t))
					if err != nil {
						t.Fatal(err)
					}
					store = s
				}
				unnamedCreates(t, drop, store)
			})
		}
	}
}

func unnamedCreates(t *testing.T, drop float64, store backend.Store) {
	te := newTruthEnv(t, func(o *videotest.Options) { o.Faults.CallbackDropRate = drop }, nil, video.WithStore(store))
	var n atomic.Int64
	te.proxy.set(func(method, path string) lossAction {
		if method == "POST" && path == "/v1/Rooms" && n.Add(1)%3 == 0 {
			return dropAfter
		}
		return pass
	})
	per := 25
	if testing.Short() {
		per = 6
	}
	p := startProbe(te.srv, store)
	var wg sync.WaitGroup
	var errs atomic.Int64
	for range 16 {
		wg.Go(func() {
			for range per {
				params := room("")
				params.SetStatusCallback(te.statusURL())
				if _, err := te.vq.CreateRoom(context.Background(), params); err != nil {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	te.flush(t)
	p.finish(t)
	exist := te.srv.Stats().RoomsNow
	used, pending := usedPending(t, te.vq, quota.Rooms)
	t.Logf("%d creates, %d without an answer; emulator %d Rooms, ledger %d (%d pending)", 16*per, errs.Load(), exist, used, pending)
	if exist != 16*per {
		t.Fatalf("emulator holds %d Rooms, want %d", exist, 16*per)
	}
	if errs.Load() == 0 {
		t.Fatal("no answer was lost: the test shows nothing")
	}
	switch {
	case used < exist:
		t.Fatalf("after the callbacks: ledger %d (%d pending), below the emulator's %d", used, pending, exist)
	case drop == 0 && used != exist:
		t.Errorf("after every callback: ledger %d (%d pending), emulator %d", used, pending, exist)
	}
	te.reconcileAfterWindow(t)
	if used, pending := usedPending(t, te.vq, quota.Rooms); used != exist {
		t.Errorf("after a Reconcile: ledger %d (%d pending), emulator %d", used, pending, exist)
	}
}
