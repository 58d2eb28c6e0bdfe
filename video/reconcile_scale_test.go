package video_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// advance returns a sleep that moves clk instead of waiting.
func advance(clk *videotest.FakeClock) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		clk.Advance(d)
		return nil
	}
}

// budgetClient is a Client of Twilio's default read quota (80/s), whose
// reconciliation waits on clk, and whose own read bucket never waits (its
// burst covers the test), against the emulator at base.
func budgetClient(tb testing.TB, base, account, token string, clk *videotest.FakeClock) *video.Client {
	tb.Helper()
	vq, err := video.New(account, token, video.WithBaseURL(base), video.WithClock(clk),
		video.WithLimits(quota.Limits{ReadsPerSecond: quota.DefaultLimits().ReadsPerSecond, ReadBurst: 1 << 24,
			WritesPerSecond: 1e9, WriteBurst: 1 << 20,
			ConcurrentRooms: quota.Unlimited, ConcurrentParticipants: quota.Unlimited}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { vq.Close() })
	video.SetSleep(vq, advance(clk))
	return vq
}

// BenchmarkReconcileBudget measures one Reconcile pass at the default read
// share of Twilio's default read quota (480 reads a pass of one minute) at
// n in-progress Rooms of one connected Participant each, against the
// emulator in another process (B/op is the Client's alone). The pacing
// waits on a fake clock, so ns/op is the pass's work, not its minute.
func BenchmarkReconcileBudget(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("rooms=%d", n), func(b *testing.B) {
			base, account, token := benchEmulator(b, n)
			clk := videotest.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
			vq := budgetClient(b, base, account, token, clk)
			ctx := context.Background()
			var d video.Drift
			var err error
			for range 3 { // past the first passes, which learn the account
				if d, err = vq.Reconcile(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if d, err = vq.Reconcile(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if d.Rooms.Twilio != n || d.Requests > d.Budget {
				b.Fatalf("pass %v (budget %d), want %d rooms within the budget", d, d.Budget, n)
			}
			if u := vq.Usage(); u.Rooms.Used != n {
				b.Fatalf("ledger holds %d rooms, want %d", u.Rooms.Used, n)
			}
			b.ReportMetric(float64(d.Requests), "reads/pass")
			b.ReportMetric(float64(d.Listed), "rooms-listed/pass")
			b.ReportMetric(float64(d.Sweep), "passes/sweep")
		})
	}
}

// TestReconcilerFindsLostDisconnectsWithinSweep: at 10,000 in-progress
// Rooms and the default read share of Twilio's default read quota, the
// participant-disconnected callbacks of 10 Rooms were lost (the Client had
// learnt every Participant from its callbacks). RunReconciler
// (every minute, on a fake clock) keeps every pass within its 480 reads
// with the Rooms exact, and corrects the Participants within the sweep the
// cost model predicts (Drift.Sweep = ⌈10,000 / (480 - 10)⌉ = 22 passes);
// the 10 Rooms are the last the round robin reaches. Under the race
// detector, which makes the 22 passes' Room listings slow, it runs every 5
// minutes instead (2,400 reads a pass, ⌈10,000 / 2,390⌉ = 5 passes). A
// lost disconnect in a Room with callback activity since its last listing
// is corrected by the next pass.
func TestReconcilerFindsLostDisconnectsWithinSweep(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("10,000 Rooms")
	}
	const n, lost = 10000, 10
	srv := videotest.NewServer(videotest.Options{AdHocRooms: true, ReadsPerSecond: -1, WritesPerSecond: -1,
		ConcurrentRooms: -1, ConcurrentParticipants: -1})
	t.Cleanup(srv.Close)
	alice := make(map[string]string, n) // Room name -> alice's Participant SID
	for i := range n {
		name := fmt.Sprintf("room-%05d", i)
		part, err := srv.Connect(name, "alice")
		if err != nil {
			t.Fatal(err)
		}
		alice[name] = part
	}
	clk := videotest.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	vq := budgetClient(t, srv.URL(), srv.AccountSID(), srv.AuthToken(), clk)
	ctx := context.Background()
	sids, names := roomSIDs(t, vq)
	if len(sids) != n {
		t.Fatalf("emulator lists %d rooms, want %d", len(sids), n)
	}
	victims := sids[n-lost:] // SID order: the round robin's last
	bob := make(map[string]string, lost)
	for _, sid := range victims {
		part, err := srv.Connect(sid, "bob")
		if err != nil {
			t.Fatal(err)
		}
		bob[sid] = part
	}

	// The Client learns the account from its participant-connected
	// callbacks (the emulator has none configured: the test delivers them).
	h := vq.StatusCallbackHandler()
	const target = "http://example.test/status"
	deliver := func(event, room, part string) {
		form := roomForm(vq.AccountSID(), event, room, part, clk.Now().Format(time.RFC3339))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedPost(srv.AuthToken(), target, form))
		if w.Code != http.StatusOK {
			t.Fatalf("%s %s: status %d", event, part, w.Code)
		}
	}
	for i, sid := range sids {
		deliver(video.EventParticipantConnected, sid, alice[names[i]])
	}
	for sid, part := range bob {
		deliver(video.EventParticipantConnected, sid, part)
	}
	if u := vq.Usage(); u.Rooms.Used != n || u.Participants.Used != n+lost {
		t.Fatalf("after the callbacks: ledger %d rooms, %d participants; want %d and %d",
			u.Rooms.Used, u.Participants.Used, n, n+lost)
	}
	// bob leaves the 10 Rooms; no callback reaches the Client.
	for _, sid := range victims {
		if err := srv.Disconnect(sid, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	if u := vq.Usage(); u.Participants.Used != n+lost {
		t.Fatalf("ledger %d participants before reconciling, want %d", u.Participants.Used, n+lost)
	}

	every, budget, wantSweep := time.Minute, 480, 22
	if raceEnabled {
		every, budget, wantSweep = 5*time.Minute, 2400, 5
	}
	runCtx, cancel := context.WithCancel(ctx)
	drifts := make(chan video.Drift)
	done := make(chan error, 1)
	start := clk.Now()
	go func() {
		done <- vq.RunReconciler(runCtx, every, video.OnDrift(func(d video.Drift) {
			select {
			case drifts <- d:
			case <-runCtx.Done():
			}
		}))
	}()
	var passes, listed, removed int
	var sweep int
	for vq.Usage().Participants.Used != n {
		d := <-drifts
		passes++
		listed += d.Listed
		removed += d.Participants.Removed
		if d.Budget != budget || d.Requests > d.Budget {
			t.Fatalf("pass %d: %d reads, budget %d; want at most %d", passes, d.Requests, d.Budget, budget)
		}
		if d.Rooms.Twilio != n || d.Rooms.Added+d.Rooms.Removed != 0 {
			t.Fatalf("pass %d: rooms %+v, want %d exactly", passes, d.Rooms, n)
		}
		if sweep == 0 {
			sweep = d.Sweep
		}
		if d.Sweep != wantSweep { // ⌈10,000 / (budget - 10 Room pages)⌉
			t.Fatalf("pass %d: sweep %d passes, want %d", passes, d.Sweep, wantSweep)
		}
		if passes > sweep {
			t.Fatalf("%d passes (%d rooms listed) without correcting the lost disconnects; the model predicts %d",
				passes, listed, sweep)
		}
	}
	elapsed := clk.Now().Sub(start)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunReconciler returned %v", err)
	}
	if removed != lost {
		t.Errorf("passes removed %d participants, want %d", removed, lost)
	}
	// The first pass starts one interval after RunReconciler, and each pass
	// takes about an interval of paced reads.
	if limit := time.Duration(sweep+1) * every; elapsed > limit {
		t.Errorf("corrected after %s of the fake clock, model predicts within %s", elapsed, limit)
	}
	t.Logf("corrected in pass %d of a %d-pass sweep, %s on the fake clock, %d rooms listed", passes, sweep, elapsed, listed)

	// A Room with callback activity since its last listing goes first.
	hot := sids[0]
	part, err := srv.Connect(hot, "carol")
	if err != nil {
		t.Fatal(err)
	}
	deliver(video.EventParticipantConnected, hot, part)
	if err := srv.Disconnect(hot, "carol"); err != nil { // its callback lost
		t.Fatal(err)
	}
	d, err := vq.Reconcile(ctx, video.WithPassInterval(every))
	if err != nil {
		t.Fatal(err)
	}
	if u := vq.Usage(); u.Participants.Used != n || d.Participants.Removed != 1 || d.Prioritised < 1 {
		t.Fatalf("after the next pass: ledger %d participants, drift %v (%d prioritised); want %d and carol removed",
			u.Participants.Used, d, d.Prioritised, n)
	}
}

// roomSIDs lists the in-progress Rooms' SIDs, sorted, and their names.
func roomSIDs(t *testing.T, vq *video.Client) (sids, names []string) {
	t.Helper()
	rooms, err := vq.ListRoom(context.Background(), (&openapi.ListRoomParams{}).SetStatus("in-progress").SetPageSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rooms, func(a, b openapi.VideoV1Room) int { return strings.Compare(*a.Sid, *b.Sid) })
	for _, r := range rooms {
		sids = append(sids, *r.Sid)
		names = append(names, *r.UniqueName)
	}
	return sids, names
}

// TestReconcileFailedListing: a pass whose Room listing fails changes
// nothing and returns the error; one whose Participant listing of a Room
// fails keeps what it corrected before (the Rooms, exact) and returns the
// error naming that Room; the next pass finishes the job.
func TestReconcileFailedListing(t *testing.T) {
	var fail atomic.Pointer[string] // path suffix answered with 404
	proxy := newRetargetProxy(t, func(resp *http.Response) error {
		if f := fail.Load(); f != nil && strings.HasSuffix(resp.Request.URL.Path, *f) {
			resp.StatusCode = http.StatusNotFound
			resp.Body = io.NopCloser(strings.NewReader(`{"code":20404,"message":"not found","status":404}`))
			resp.ContentLength = -1
			resp.Header.Del("Content-Length")
		}
		return nil
	})
	e := newCBEnv(t, func(o *videotest.Options, e *cbEnv) { o.AdHocRooms = true }, nil, video.WithBaseURL(proxy.URL))
	proxy.to(t, e.srv.URL())
	for _, room := range []string{"a", "b", "c"} {
		if _, err := e.srv.Connect(room, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	rooms := "/Rooms"
	fail.Store(&rooms)
	if _, err := e.vq.Reconcile(ctx); err == nil || !strings.Contains(err.Error(), "listing rooms") {
		t.Fatalf("failed Room listing: %v, want its error", err)
	}
	if r, p := mustUsed(t, e.vq, quota.Rooms), mustUsed(t, e.vq, quota.Participants); r != 0 || p != 0 {
		t.Fatalf("after a failed Room listing the ledger holds %d rooms, %d participants; want nothing changed", r, p)
	}
	parts := "/Participants"
	fail.Store(&parts)
	_, err := e.vq.Reconcile(ctx)
	var tw *client.TwilioRestError
	if !errors.As(err, &tw) || tw.Code != 20404 || !strings.Contains(err.Error(), "listing participants of RM") {
		t.Fatalf("failed Participant listing: %v, want Twilio's 20404 naming the Room", err)
	}
	if r := mustUsed(t, e.vq, quota.Rooms); r != 3 {
		t.Fatalf("after a failed Participant listing the ledger holds %d rooms, want the 3 listed", r)
	}
	fail.Store(nil)
	d, err := e.vq.Reconcile(ctx)
	if err != nil || !d.Complete() {
		t.Fatalf("next pass: %v, %v", d, err)
	}
	if m := e.ledgerMismatch(t); m != "" {
		t.Fatal(m)
	}
}

// TestReconcileKeepsDisconnectsDuringListing: a Participant whose
// participant-disconnected is applied after Twilio listed its Room (the
// listing still shows it connected) but before the listing is applied
// stays released, in a pass that lists every Room and in one that lists
// only some (applied Room by Room).
func TestReconcileKeepsDisconnectsDuringListing(t *testing.T) {
	for _, partial := range []bool{false, true} {
		t.Run(fmt.Sprintf("partial=%v", partial), func(t *testing.T) {
			var hook atomic.Pointer[func()]
			proxy := newRetargetProxy(t, afterListing(&hook))
			limits := quota.Limits{ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}
			if partial {
				limits.ReadsPerSecond = 1e9 // a budget set below by the pass interval
			}
			e := newCBEnv(t, func(o *videotest.Options, e *cbEnv) {
				o.AdHocRooms = true
				o.AdHocStatusCallback = e.statusURL()
			}, nil, video.WithBaseURL(proxy.URL), video.WithLimits(limits))
			proxy.to(t, e.srv.URL())
			for _, room := range []string{"busy", "quiet-1", "quiet-2"} {
				if _, err := e.srv.Connect(room, "stays"); err != nil {
					t.Fatal(err)
				}
			}
			e.flush(t)
			ctx := context.Background()
			if partial { // every Room listed once: none has callback activity since
				if d, err := e.vq.Reconcile(ctx); err != nil || !d.Complete() {
					t.Fatalf("first pass %v, %v", d, err)
				}
			}
			if _, err := e.srv.Connect("busy", "leaver"); err != nil {
				t.Fatal(err)
			}
			e.flush(t)
			leave := func() {
				if err := e.srv.Disconnect("busy", "leaver"); err != nil {
					t.Error(err)
				}
				e.flush(t)
			}
			hook.Store(&leave)
			var opts []video.ReconcileOption
			if partial {
				// 20 ns × 10% × 1e9 reads/s = 2 reads: the Room page and one
				// listing, of "busy", the one Room with callback activity.
				opts = append(opts, video.WithPassInterval(20*time.Nanosecond))
			}
			d, err := e.vq.Reconcile(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if hook.Load() != nil {
				t.Fatal("the listing hook did not run")
			}
			if partial == d.Complete() || (partial && (d.Listed != 1 || d.Prioritised != 1)) {
				t.Fatalf("pass %v (budget %d, %d prioritised): complete %v, want %v", d, d.Budget, d.Prioritised, d.Complete(), !partial)
			}
			if m := e.ledgerMismatch(t); m != "" {
				t.Fatalf("%s (drift %v)", m, d)
			}
		})
	}
}
