package video_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videoquota/videoquota/internal/invariant"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// startProbe samples the Rooms in progress at the emulator, then the Rooms
// the ledger counts (held plus pending) through count. Every Room was
// reserved before it was created and nothing in the probed tests ends a
// Room, so a sample whose ledger count is below the emulator's breaks the
// ledger's first law: it never counts fewer Rooms than exist.
func startProbe(srv *videotest.Server, count invariant.Count) *invariant.Sampler {
	return invariant.Start(func() (int, error) { return srv.Stats().RoomsNow, nil }, count)
}

// storeRooms counts the Rooms st holds or reserves for srv's account.
func storeRooms(srv *videotest.Server, st backend.Store) invariant.Count {
	return func() (int, error) {
		n, _, err := st.Used(context.Background(), srv.AccountSID(), backend.Rooms)
		return n, err
	}
}

// finishProbe stops p and fails t if any sample was below.
func finishProbe(t *testing.T, p *invariant.Sampler) {
	t.Helper()
	r := p.Stop()
	t.Logf("probe: %v", r)
	if r.Below > 0 {
		t.Errorf("the ledger counted fewer Rooms than exist: %v", r)
	}
}

// TestConcurrentUnnamedCreatesNeverUnderCount: 16 goroutines create unnamed
// Rooms with a status callback; the answers of a third of them are lost
// after Twilio created the Room (the connection closes). The ledger never
// counts fewer Rooms than the emulator holds. With the Client's own store
// and every callback delivered it counts exactly those once they have
// arrived (each orphan settled a lost answer, one for one, once no create
// was in flight). With a store given to it (Redis here) the Client never
// absorbs orphans, since another process's create may be in flight: it
// counts at most one Room more per lost answer. With 30% of the callbacks
// lost it counts at least those; and exactly those after a Reconcile past
// the request window, in every case.
func TestConcurrentUnnamedCreatesNeverUnderCount(t *testing.T) {
	for _, st := range []string{"own memory", "redis"} {
		for _, drop := range []float64{0, 0.3} {
			t.Run(fmt.Sprintf("%s store, callbacks lost %.0f%%", st, drop*100), func(t *testing.T) {
				if st == "redis" {
					// The probe checks the count, not outages (see newTwoProcs).
					s, err := redisstore.New(redistest.Start(t).Client(t), redisstore.WithTimeout(10*time.Second))
					if err != nil {
						t.Fatal(err)
					}
					unnamedCreates(t, drop, s)
					return
				}
				unnamedCreates(t, drop, nil)
			})
		}
	}
}

// unnamedCreates runs the test on store, or on the Client's own store when
// store is nil.
func unnamedCreates(t *testing.T, drop float64, store backend.Store) {
	var copts []video.Option
	if store != nil {
		copts = append(copts, video.WithStore(store))
	}
	te := newTruthEnv(t, func(o *videotest.Options) { o.Faults.CallbackDropRate = drop }, nil, copts...)
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
	count := func() (int, error) { return te.vq.Usage().Rooms.Used, nil }
	if store != nil {
		count = storeRooms(te.srv, store)
	}
	p := startProbe(te.srv, count)
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
	finishProbe(t, p)
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
	case used > exist+int(errs.Load()):
		t.Errorf("after the callbacks: ledger %d (%d pending), more than the emulator's %d plus one per lost answer (%d)", used, pending, exist, errs.Load())
	case drop == 0 && store == nil && used != exist:
		t.Errorf("after every callback: ledger %d (%d pending), emulator %d", used, pending, exist)
	}
	te.reconcileAfterWindow(t)
	if used, pending := usedPending(t, te.vq, quota.Rooms); used != exist {
		t.Errorf("after a Reconcile: ledger %d (%d pending), emulator %d", used, pending, exist)
	}
}
