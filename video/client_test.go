package video_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/backoff"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// setup starts an emulator with opts and returns it with a Client wired to it.
func setup(t testing.TB, opts videotest.Options, copts ...video.Option) (*videotest.Server, *video.Client) {
	t.Helper()
	srv := videotest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv, newClient(t, srv, copts...)
}

func newClient(t testing.TB, srv *videotest.Server, copts ...video.Option) *video.Client {
	t.Helper()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), append([]video.Option{video.WithBaseURL(srv.URL())}, copts...)...)
	if err != nil {
		t.Fatalf("video.New: %v", err)
	}
	t.Cleanup(func() { vq.Close() })
	return vq
}

// fastRetry retries quickly so that tests do not sleep long.
func fastRetry(max int) video.Option {
	return video.WithRetry(backoff.Policy{Base: time.Millisecond, Cap: 5 * time.Millisecond, MaxRetries: max,
		MaxRetryAfter: 5 * time.Millisecond})
}

func room(name string) *openapi.CreateRoomParams {
	p := &openapi.CreateRoomParams{}
	if name != "" {
		p.SetUniqueName(name)
	}
	return p
}

func completed() *openapi.UpdateRoomParams {
	return (&openapi.UpdateRoomParams{}).SetStatus("completed")
}

// TestDropIn walks twilio-go's Video v1 *ApiService and requires a method of
// the same name on *video.Client taking ctx first and then the same
// parameters and results.
func TestDropIn(t *testing.T) {
	api := reflect.TypeOf((*openapi.ApiService)(nil))
	vq := reflect.TypeOf((*video.Client)(nil))
	ctxType := reflect.TypeOf((*context.Context)(nil)).Elem()
	if api.NumMethod() < 100 {
		t.Fatalf("ApiService has %d methods; expected the full Video v1 surface", api.NumMethod())
	}
	for i := 0; i < api.NumMethod(); i++ {
		want := api.Method(i)
		got, ok := vq.MethodByName(want.Name)
		if !ok {
			t.Errorf("*video.Client lacks %s", want.Name)
			continue
		}
		wt, gt := want.Type, got.Type
		if gt.NumIn() != wt.NumIn()+1 || gt.In(1) != ctxType {
			t.Errorf("%s: got %v, want ctx first then the parameters of %v", want.Name, gt, wt)
			continue
		}
		for j := 1; j < wt.NumIn(); j++ {
			if gt.In(j+1) != wt.In(j) {
				t.Errorf("%s: parameter %d is %v, want %v", want.Name, j, gt.In(j+1), wt.In(j))
			}
		}
		if gt.IsVariadic() != wt.IsVariadic() || gt.NumOut() != wt.NumOut() {
			t.Errorf("%s: got %v, want results of %v", want.Name, gt, wt)
			continue
		}
		for j := 0; j < wt.NumOut(); j++ {
			if gt.Out(j) != wt.Out(j) {
				t.Errorf("%s: result %d is %v, want %v", want.Name, j, gt.Out(j), wt.Out(j))
			}
		}
	}
}

// TestLedgerRace: 100 goroutines create rooms against a limit of 10: exactly
// 10 rooms, 90 local refusals, and no request past the limit reaches Twilio.
func TestLedgerRace(t *testing.T) {
	srv, vq := setup(t, videotest.Options{WritesPerSecond: -1},
		video.WithLimits(quota.Limits{ConcurrentRooms: 10, WritesPerSecond: quota.Unlimited}))
	ctx := context.Background()
	var ok, refused, other atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := vq.CreateRoom(ctx, room(fmt.Sprintf("race-%d", i)))
			var ex *quota.ExceededError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &ex) && errors.Is(err, quota.ErrExceeded) && ex.Source == quota.SourceLocal &&
				ex.Resource == quota.Rooms && ex.Code == quota.CodeRoomsExceeded && ex.Limit == 10:
				refused.Add(1)
			default:
				other.Add(1)
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	st := srv.Stats()
	if ok.Load() != 10 || refused.Load() != 90 || other.Load() != 0 {
		t.Fatalf("created %d, refused %d, other %d; want 10, 90, 0", ok.Load(), refused.Load(), other.Load())
	}
	if st.Writes != 10 || st.RoomsCreated != 10 || st.RoomsNow != 10 {
		t.Fatalf("emulator saw %d writes, created %d rooms, %d in progress; want 10 each", st.Writes, st.RoomsCreated, st.RoomsNow)
	}
	u := vq.Usage()
	if u.Rooms.Used != 10 || u.Rooms.Limit != 10 || u.LocalRefusals != 90 {
		t.Fatalf("usage %+v; want 10 of 10 rooms used and 90 local refusals", u)
	}
}

// TestFlood floods the emulator, which enforces Twilio's 80 reads/s and 20
// writes/s, with three times the quota from 50 goroutines: no 20429 reaches
// the application and at most 1% of the requests are answered 429.
func TestFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of paced traffic")
	}
	srv, vq := setup(t, videotest.Options{})
	ctx := context.Background()
	d := quota.DefaultLimits()
	writes, reads := int64(3*d.WritesPerSecond*2), int64(3*d.ReadsPerSecond*2)
	var next atomic.Int64
	var sids sync.Map
	var wg sync.WaitGroup
	errs := make(chan error, writes+reads)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1) - 1
				if n >= writes+reads {
					return
				}
				if n%5 == 0 && n/5 < writes { // interleave: one write for four reads
					r, err := vq.CreateRoom(ctx, room(fmt.Sprintf("flood-%d", n)))
					if err != nil {
						errs <- err
						continue
					}
					sids.Store(n, *r.Sid)
					continue
				}
				if _, err := vq.ListRoomWithMetadata(ctx, (&openapi.ListRoomParams{}).SetPageSize(1).SetLimit(1)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var rl *quota.RateLimitError
		var tw *client.TwilioRestError
		if errors.As(err, &rl) || (errors.As(err, &tw) && tw.Code == 20429) {
			t.Errorf("20429 reached the application: %v", err)
		} else {
			t.Errorf("unexpected error: %v", err)
		}
	}
	st := srv.Stats()
	total := st.Reads + st.Writes
	if total < writes {
		t.Fatalf("emulator saw %d requests; the flood did not run", total)
	}
	if float64(st.Throttled) > 0.01*float64(total) {
		t.Fatalf("emulator sent %d 429s for %d requests (> 1%%)", st.Throttled, total)
	}
	t.Logf("emulator: %d reads, %d writes, %d throttled; client usage %+v", st.Reads, st.Writes, st.Throttled, vq.Usage())
}

// TestThresholds: quota 10 rooms, levels 0.7 and 0.9: one rising event at the
// 7th room, one at the 9th, falling events as rooms complete.
func TestThresholds(t *testing.T) {
	t.Parallel()
	events := make(chan quota.Event, 16)
	_, vq := setup(t, videotest.Options{WritesPerSecond: -1},
		video.WithLimits(quota.Limits{ConcurrentRooms: 10, WritesPerSecond: quota.Unlimited}),
		video.WithThresholds(func(e quota.Event) { events <- e }, 0.7, 0.9))
	ctx := context.Background()
	expect := func(what string, want int, check func(quota.Event)) {
		t.Helper()
		for range want {
			select {
			case e := <-events:
				check(e)
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: event not delivered", what)
			}
		}
		select {
		case e := <-events:
			t.Fatalf("%s: unexpected extra event %+v", what, e)
		case <-time.After(50 * time.Millisecond):
		}
	}
	var sids []string
	for i := 1; i <= 10; i++ {
		r, err := vq.CreateRoom(ctx, room(fmt.Sprintf("thr-%d", i)))
		if err != nil {
			t.Fatalf("room %d: %v", i, err)
		}
		sids = append(sids, *r.Sid)
		switch i {
		case 7, 9:
			level := map[int]float64{7: 0.7, 9: 0.9}[i]
			expect(fmt.Sprintf("room %d", i), 1, func(e quota.Event) {
				if !e.Rising || e.Level != level || e.Used != i || e.Limit != 10 || e.Resource != quota.Rooms ||
					e.Code != quota.CodeApproachingQuota || e.Source != quota.SourceLocal {
					t.Fatalf("room %d: got %+v, want rising %.1f at %d of 10 (53121, local)", i, e, level, i)
				}
			})
		default:
			expect(fmt.Sprintf("room %d", i), 0, nil)
		}
	}
	var falling []quota.Event
	for i, sid := range sids {
		if _, err := vq.UpdateRoom(ctx, sid, completed()); err != nil {
			t.Fatalf("completing room %d: %v", i, err)
		}
	}
	deadline := time.After(5 * time.Second)
	for len(falling) < 2 {
		select {
		case e := <-events:
			falling = append(falling, e)
		case <-deadline:
			t.Fatalf("falling events: got %d (%+v), want 2", len(falling), falling)
		}
	}
	if f := falling; f[0].Rising || f[0].Level != 0.9 || f[0].Used >= 9 || f[1].Rising || f[1].Level != 0.7 || f[1].Used >= 7 {
		t.Fatalf("falling events %+v; want 0.9 then 0.7, each below its rising point", f)
	}
	if u := vq.Usage(); u.Rooms.Used != 0 {
		t.Fatalf("rooms used after completing all: %d", u.Rooms.Used)
	}
}

// TestTwilioRefusal: when Twilio answers 53119 (its count is ahead of the
// ledger, e.g. ad-hoc rooms), the error is typed and not retried, and the
// ledger refuses locally until corrected.
func TestTwilioRefusal(t *testing.T) {
	srv, vq := setup(t, videotest.Options{ConcurrentRooms: 2, WritesPerSecond: -1},
		video.WithLimits(quota.Limits{ConcurrentRooms: 10, WritesPerSecond: quota.Unlimited}))
	ctx := context.Background()
	var sids []string
	for i := range 2 {
		r, err := vq.CreateRoom(ctx, room(fmt.Sprintf("tw-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, *r.Sid)
	}
	before := srv.Stats().Writes
	_, err := vq.CreateRoom(ctx, room("tw-2"))
	var ex *quota.ExceededError
	var tw *client.TwilioRestError
	if !errors.As(err, &ex) || ex.Source != quota.SourceTwilio || ex.Code != quota.CodeRoomsExceeded ||
		!errors.As(err, &tw) || tw.Code != quota.CodeRoomsExceeded {
		t.Fatalf("got %v; want *quota.ExceededError from Twilio wrapping its 53119", err)
	}
	if n := srv.Stats().Writes - before; n != 1 {
		t.Fatalf("the 53119 was sent %d times; want once (no retry)", n)
	}
	u := vq.Usage()
	if !u.Rooms.Full || u.Rooms.Used != 2 || u.TwilioRefusals != 1 {
		t.Fatalf("usage %+v; want rooms marked full, 2 used, 1 Twilio refusal", u.Rooms)
	}
	before = srv.Stats().Writes
	_, err = vq.CreateRoom(ctx, room("tw-3"))
	if !errors.As(err, &ex) || ex.Source != quota.SourceLocal {
		t.Fatalf("while marked full got %v; want a local refusal", err)
	}
	if n := srv.Stats().Writes - before; n != 0 {
		t.Fatalf("a local refusal sent %d requests", n)
	}
	// Completing a room corrects the ledger: creating works again.
	if _, err := vq.UpdateRoom(ctx, sids[0], completed()); err != nil {
		t.Fatal(err)
	}
	if _, err := vq.CreateRoom(ctx, room("tw-4")); err != nil {
		t.Fatalf("after a room completed: %v", err)
	}
}

// TestRetry429 checks the 20429 retrier with injected 429s: retries succeed,
// Retry-After is captured, and when retries run out the error carries the
// attempts, the cause and Twilio's error.
func TestRetry429(t *testing.T) {
	t.Parallel()
	srv, vq := setup(t, videotest.Options{RetryAfter: time.Second, Faults: videotest.Faults{Force429: 2}},
		fastRetry(3))
	ctx := context.Background()
	r, err := vq.CreateRoom(ctx, room("retry-ok"))
	if err != nil {
		t.Fatalf("after two 429s: %v", err)
	}
	u := vq.Usage()
	if u.Throttled != 2 || u.Retries != 2 || u.Rooms.Used != 1 {
		t.Fatalf("usage %+v; want 2 throttled, 2 retries, 1 room", u)
	}
	if st := srv.Stats(); st.Throttled != 2 || st.RoomsCreated != 1 {
		t.Fatalf("emulator: %d throttled, %d rooms; want 2, 1", st.Throttled, st.RoomsCreated)
	}

	srv.SetFaults(videotest.Faults{Force429: 100})
	_, err = vq.FetchRoom(ctx, *r.Sid)
	var ma *backoff.MaxAttemptsError
	var rl *quota.RateLimitError
	var tw *client.TwilioRestError
	if !errors.As(err, &ma) || ma.Attempts != 4 {
		t.Fatalf("got %v; want *backoff.MaxAttemptsError after 4 attempts", err)
	}
	if !errors.As(err, &rl) || rl.Class != quota.Read || rl.Cause != quota.CauseVideoRate || rl.Wait != time.Second ||
		rl.ConcurrentRequests < 1 || !errors.Is(err, quota.ErrRateLimited) {
		t.Fatalf("got %#v; want a read *quota.RateLimitError (video rate, Retry-After 1s, concurrency recorded)", rl)
	}
	if !errors.As(err, &tw) || tw.Code != 20429 || tw.Status != http.StatusTooManyRequests {
		t.Fatalf("got %v; want Twilio's 20429 inside", err)
	}

	// A create that runs out of retries gives its room slot back.
	_, err = vq.CreateRoom(ctx, room("retry-fail"))
	if !errors.As(err, &rl) || rl.Class != quota.Write {
		t.Fatalf("got %v; want a write *quota.RateLimitError", err)
	}
	if u := vq.Usage(); u.Rooms.Used != 1 {
		t.Fatalf("rooms used %d after a failed create; want 1", u.Rooms.Used)
	}
}

// TestNoRetry: with retries off a 20429 comes back at once, still typed.
func TestNoRetry(t *testing.T) {
	srv, vq := setup(t, videotest.Options{Faults: videotest.Faults{Force429: 1}}, video.WithRetry(backoff.NoRetry()))
	_, err := vq.ListRoom(context.Background(), nil)
	var rl *quota.RateLimitError
	var ma *backoff.MaxAttemptsError
	if !errors.As(err, &rl) || errors.As(err, &ma) {
		t.Fatalf("got %v; want a bare *quota.RateLimitError", err)
	}
	if st := srv.Stats(); st.TotalRequests != 1 {
		t.Fatalf("emulator saw %d requests; want 1", st.TotalRequests)
	}
}

// TestServerErrors: 5xx are retried for reads, never blindly for a create
// without UniqueName, and a create with UniqueName looks the room up first.
func TestServerErrors(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Now()}
	srv, vq := setup(t, videotest.Options{WritesPerSecond: -1, ReadsPerSecond: -1}, fastRetry(3), video.WithClock(clk))
	ctx := context.Background()
	r, err := vq.CreateRoom(ctx, room("srv"))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(videotest.Faults{Rate503: 1, Match: func(m, _ string) bool { return m == http.MethodGet }})
	_, err = vq.FetchRoom(ctx, *r.Sid)
	var ma *backoff.MaxAttemptsError
	var tw *client.TwilioRestError
	if !errors.As(err, &ma) || ma.Attempts != 4 || !errors.As(err, &tw) || tw.Status != 503 {
		t.Fatalf("got %v; want 4 attempts ending in Twilio's 503", err)
	}

	// A create without UniqueName is not retried after a 500.
	srv.SetFaults(videotest.Faults{Rate500: 1, Match: func(m, _ string) bool { return m == http.MethodPost }})
	srv.ResetStats()
	_, err = vq.CreateRoom(ctx, room(""))
	if !errors.As(err, &tw) || tw.Status != 500 || errors.As(err, &ma) {
		t.Fatalf("got %v; want Twilio's 500, not retried", err)
	}
	if st := srv.Stats(); st.TotalRequests != 1 {
		t.Fatalf("emulator saw %d requests; want 1", st.TotalRequests)
	}
	// A 500 may come after Twilio created the Room: the slot stays pending
	// (an unknown outcome) for a callback or a reconcile to settle.
	if u := vq.Usage(); u.Rooms.Used != 2 || u.Rooms.Pending != 1 {
		t.Fatalf("rooms used %d (pending %d); want 2 and 1 (the unknown create's slot kept)", u.Rooms.Used, u.Rooms.Pending)
	}

	// With a UniqueName the create is retried after checking the name is free.
	var posts atomic.Int64
	srv.SetFaults(videotest.Faults{Rate500: 1, Match: func(m, _ string) bool {
		return m == http.MethodPost && posts.Add(1) == 1 // only the first POST fails
	}})
	srv.ResetStats()
	r2, err := vq.CreateRoom(ctx, room("srv-named"))
	if err != nil {
		t.Fatalf("named create after a 500: %v", err)
	}
	st := srv.Stats()
	if st.RoomsCreated != 1 || st.Reads != 1 || st.TotalRequests != 3 {
		t.Fatalf("emulator: %d rooms, %d reads, %d requests; want 1 room, a lookup, 3 requests", st.RoomsCreated, st.Reads, st.TotalRequests)
	}
	if u := vq.Usage(); u.Rooms.Used != 3 || r2.Sid == nil {
		t.Fatalf("rooms used %d; want 3 (two Rooms and the unknown create)", u.Rooms.Used)
	}

	// A Reconcile after the request window settles the unknown create: the
	// emulator shows it never created that Room.
	srv.SetFaults(videotest.Faults{})
	clk.Advance(video.DefaultRequestWindow + time.Second)
	d, err := vq.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u := vq.Usage(); u.Rooms.Used != 2 || u.Rooms.Pending != 0 || d.Rooms.Settled != 1 {
		t.Fatalf("after Reconcile: rooms used %d (pending %d, settled %d); want 2, 0, 1", u.Rooms.Used, u.Rooms.Pending, d.Rooms.Settled)
	}
}

// TestCancel: cancelling ctx aborts a rate wait, a backoff sleep and an
// in-flight request.
func TestCancel(t *testing.T) {
	// cancelWhen runs call and cancels its ctx once a goroutine waits in
	// stack, and returns call's error.
	cancelWhen := func(t *testing.T, stack []string, call func(ctx context.Context) error) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		waitForStack(t, stack...)
		cancel()
		return <-done
	}
	t.Run("limiter wait", func(t *testing.T) {
		srv, vq := setup(t, videotest.Options{}, video.WithLimits(quota.Limits{WritesPerSecond: 0.01}))
		if _, err := vq.CreateRoom(context.Background(), room("")); err != nil { // takes the only token
			t.Fatal(err)
		}
		err := cancelWhen(t, []string{"quota.(*Limiter).Wait"}, func(ctx context.Context) error {
			_, err := vq.CreateRoom(ctx, room(""))
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v; want context.Canceled", err)
		}
		if st := srv.Stats(); st.Writes != 1 {
			t.Fatalf("emulator saw %d writes; want 1", st.Writes)
		}
	})
	t.Run("backoff sleep", func(t *testing.T) {
		srv, vq := setup(t, videotest.Options{RetryAfter: time.Hour, Faults: videotest.Faults{Force429: 10}},
			video.WithRetry(backoff.Policy{MaxRetryAfter: time.Hour}))
		err := cancelWhen(t, []string{"backoff.Sleep"}, func(ctx context.Context) error {
			_, err := vq.ListRoom(ctx, nil)
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v; want context.Canceled", err)
		}
		if st := srv.Stats(); st.TotalRequests != 1 {
			t.Fatalf("emulator saw %d requests; want 1", st.TotalRequests)
		}
	})
	t.Run("in-flight request", func(t *testing.T) {
		_, vq := setup(t, videotest.Options{Faults: videotest.Faults{Latency: time.Hour}})
		err := cancelWhen(t, []string{"persistConn).roundTrip", "FetchRoom"}, func(ctx context.Context) error {
			_, err := vq.FetchRoom(ctx, "RM00000000000000000000000000000000")
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v; want context.Canceled", err)
		}
	})
}

// TestDeadline: a deadline the bucket cannot meet fails at once with
// CauseLocalDeadline and sends nothing.
func TestDeadline(t *testing.T) {
	srv, vq := setup(t, videotest.Options{}, video.WithLimits(quota.Limits{ReadsPerSecond: 0.01}))
	if _, err := vq.ListRoom(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := vq.ListRoom(ctx, nil)
	var rl *quota.RateLimitError
	if !errors.As(err, &rl) || rl.Cause != quota.CauseLocalDeadline || rl.Wait <= 10*time.Second {
		t.Fatalf("got %v; want *quota.RateLimitError{CauseLocalDeadline} with the wait needed", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the call waited until the deadline instead of failing at once")
	}
	if st := srv.Stats(); st.Reads != 1 {
		t.Fatalf("emulator saw %d reads; want 1", st.Reads)
	}
	if u := vq.Usage(); u.LocalRefusals != 1 {
		t.Fatalf("local refusals %d; want 1", u.LocalRefusals)
	}
}

// TestAdaptive: the emulator allows 10 writes/s while the client is set for
// 20: the client slows down and the 429s fade to AIMD's occasional probe.
func TestAdaptive(t *testing.T) {
	if testing.Short() {
		t.Skip("several seconds of paced traffic")
	}
	srv, vq := setup(t, videotest.Options{WritesPerSecond: 10, ConcurrentRooms: -1},
		video.WithLimits(quota.Limits{WritesPerSecond: 20, ConcurrentRooms: quota.Unlimited}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := vq.CreateRoom(ctx, room("")); err != nil && ctx.Err() == nil {
					failed.Add(1)
					t.Errorf("create: %v", err)
				}
			}
		}()
	}
	// No sleeping for a set time: the first window lasts until the client
	// has slowed its bucket (the factor it learnt from the 429s), the
	// second until the emulator has accepted 50 more writes (5 s at the
	// real 10/s: a few of AIMD's probe cycles). Each is bounded, so a
	// client that never adapts fails instead of hanging.
	waitUntil := func(what string, done func() bool) {
		deadline := time.After(60 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for !done() {
			select {
			case <-deadline:
				cancel()
				wg.Wait()
				t.Fatalf("after 60 s: %s never happened (factor %.2f, %+v)", what, vq.Usage().Writes.Factor, srv.Stats())
			case <-tick.C:
			}
		}
	}
	waitUntil("the client slowed its bucket", func() bool { return vq.Usage().Writes.Factor < 0.75 })
	first := srv.Stats()
	srv.ResetStats()
	waitUntil("50 more writes accepted", func() bool { return srv.Stats().Writes >= 50 })
	second := srv.Stats()
	cancel()
	wg.Wait()
	t.Logf("until the client slowed: %d writes, %d throttled; the next %d writes: %d throttled; factor %.2f",
		first.Writes, first.Throttled, second.Writes, second.Throttled, vq.Usage().Writes.Factor)
	if first.Throttled == 0 {
		t.Fatal("no 429 before the client slowed: the test did not exercise the adaptive rate")
	}
	if f := vq.Usage().Writes.Factor; !(f < 0.75) {
		t.Fatalf("adaptive factor %.2f; want the 20/s bucket slowed toward 10/s", f)
	}
	// AIMD keeps probing for more rate, so a converged client still meets
	// an occasional 429 (one probe per cycle of a few seconds); it must be
	// well below the share before it learned the real rate, and under 10%.
	share1 := float64(first.Throttled) / float64(first.Writes)
	share2 := float64(second.Throttled) / float64(second.Writes)
	if share2 >= 0.10 || share2 >= share1/2 {
		t.Fatalf("after converging: %d 429s for %d writes (%.1f%%); before: %.1f%%", second.Throttled, second.Writes,
			100*share2, 100*share1)
	}
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
}

// TestMaxInFlight: with the platform concurrency limit at 2 and a client cap
// of 2, concurrent calls never meet a 429.
func TestMaxInFlight(t *testing.T) {
	srv, vq := setup(t, videotest.Options{MaxConcurrentRequests: 2, ReadsPerSecond: -1,
		Faults: videotest.Faults{Latency: 20 * time.Millisecond}},
		video.WithMaxInFlight(2), video.WithLimits(quota.Limits{ReadsPerSecond: quota.Unlimited}))
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := vq.ListRoom(context.Background(), nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if st := srv.Stats(); st.Throttled != 0 || st.InFlightPeak > 2 {
		t.Fatalf("emulator: %d throttled, peak %d in flight; want 0 and at most 2", st.Throttled, st.InFlightPeak)
	}
}

// TestConcurrencyCause: a 20429 while Twilio reports many concurrent
// requests is attributed to the platform's concurrency limit.
func TestConcurrencyCause(t *testing.T) {
	_, vq := setup(t, videotest.Options{MaxConcurrentRequests: 1, ReadsPerSecond: -1,
		Faults: videotest.Faults{Latency: 100 * time.Millisecond}},
		video.WithConcurrencyHint(2), video.WithRetry(backoff.NoRetry()),
		video.WithLimits(quota.Limits{ReadsPerSecond: quota.Unlimited}))
	var wg sync.WaitGroup
	var conc atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := vq.ListRoom(context.Background(), nil)
			var rl *quota.RateLimitError
			if errors.As(err, &rl) && rl.Cause == quota.CauseConcurrency && rl.ConcurrentRequests >= 2 {
				conc.Add(1)
			}
		}()
	}
	wg.Wait()
	if conc.Load() == 0 {
		t.Fatal("no 20429 was attributed to the concurrency limit")
	}
	if f := vq.Limiter().Factor(quota.Read); f != 1 {
		t.Fatalf("read factor %.2f: a concurrency 429 must not slow the rate bucket", f)
	}
}

// TestTwilioErrorStillFound: errors.As to *client.TwilioRestError works as
// with twilio-go.
func TestTwilioErrorStillFound(t *testing.T) {
	_, vq := setup(t, videotest.Options{})
	_, err := vq.FetchRoom(context.Background(), "RM0123456789abcdef0123456789abcdef")
	var tw *client.TwilioRestError
	if !errors.As(err, &tw) || tw.Status != http.StatusNotFound {
		t.Fatalf("got %v; want Twilio's 404", err)
	}
}

// TestValidation: parameters Twilio would reject fail locally, typed, and
// cost no request.
func TestValidation(t *testing.T) {
	srv, vq := setup(t, videotest.Options{})
	ctx := context.Background()
	long := strings.Repeat("x", 129)
	call := func(f func() error) func() error { return f }
	cases := []struct {
		name  string
		param string
		do    func() error
	}{
		{"long UniqueName", "UniqueName", call(func() error { _, err := vq.CreateRoom(ctx, room(long)); return err })},
		{"MaxParticipants group", "MaxParticipants", call(func() error {
			_, err := vq.CreateRoom(ctx, room("").SetMaxParticipants(51))
			return err
		})},
		{"MaxParticipants go", "MaxParticipants", call(func() error {
			_, err := vq.CreateRoom(ctx, room("").SetType("go").SetMaxParticipants(3))
			return err
		})},
		{"MaxParticipants group-small", "MaxParticipants", call(func() error {
			_, err := vq.CreateRoom(ctx, room("").SetType("group-small").SetMaxParticipants(5))
			return err
		})},
		{"MaxParticipants peer-to-peer", "MaxParticipants", call(func() error {
			_, err := vq.CreateRoom(ctx, room("").SetType("peer-to-peer").SetMaxParticipants(11))
			return err
		})},
		{"MaxParticipants zero", "MaxParticipants", call(func() error {
			_, err := vq.CreateRoom(ctx, room("").SetMaxParticipants(0))
			return err
		})},
		{"bad type", "Type", call(func() error { _, err := vq.CreateRoom(ctx, room("").SetType("huge")); return err })},
		{"EmptyRoomTimeout", "EmptyRoomTimeout", call(func() error {
			_, err := vq.CreateRoom(ctx, room("").SetEmptyRoomTimeout(61))
			return err
		})},
		{"UnusedRoomTimeout", "UnusedRoomTimeout", call(func() error {
			_, err := vq.CreateRoom(ctx, room("").SetUnusedRoomTimeout(0))
			return err
		})},
		{"MaxParticipantDuration", "MaxParticipantDuration", call(func() error {
			_, err := vq.CreateRoom(ctx, room("").SetMaxParticipantDuration(599))
			return err
		})},
		{"StatusCallbackMethod", "StatusCallbackMethod", call(func() error {
			_, err := vq.CreateRoom(ctx, room("").SetStatusCallbackMethod("PUT"))
			return err
		})},
		{"malformed room SID", "Sid", call(func() error { _, err := vq.FetchRoom(ctx, "RM123"+strings.Repeat("z", 29)); return err })},
		{"empty room", "Sid", call(func() error { _, err := vq.FetchRoom(ctx, ""); return err })},
		{"room name with slash", "RoomSid", call(func() error {
			_, err := vq.ListRoomParticipant(ctx, "a/b", nil)
			return err
		})},
		{"malformed composition SID", "Sid", call(func() error { _, err := vq.FetchComposition(ctx, "CJ1"); return err })},
		{"recording of a room by name", "RoomSid", call(func() error {
			_, err := vq.ListRoomRecording(ctx, "my-room", nil)
			return err
		})},
		{"update room status", "Status", call(func() error {
			_, err := vq.UpdateRoom(ctx, "my-room", (&openapi.UpdateRoomParams{}).SetStatus("paused"))
			return err
		})},
		{"update participant status", "Status", call(func() error {
			_, err := vq.UpdateRoomParticipant(ctx, "my-room", "alice",
				(&openapi.UpdateRoomParticipantParams{}).SetStatus("connected"))
			return err
		})},
		{"long identity filter", "Identity", call(func() error {
			_, err := vq.ListRoomParticipant(ctx, "my-room", (&openapi.ListRoomParticipantParams{}).SetIdentity(long))
			return err
		})},
		{"page size", "PageSize", call(func() error {
			_, err := vq.ListRoom(ctx, (&openapi.ListRoomParams{}).SetPageSize(1001))
			return err
		})},
		{"stream with malformed participant SID", "ParticipantSid", call(func() error {
			recs, errs := vq.StreamRoomParticipantSubscribedTrack(ctx, "my-room", "PA"+strings.Repeat("g", 32), nil)
			for range recs {
			}
			return <-errs
		})},
		{"participant reservation key", "key", call(func() error { return vq.ReserveParticipant(ctx, "") })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			var ve *video.ValidationError
			if !errors.As(err, &ve) || ve.Param != tc.param {
				t.Fatalf("got %v; want a *video.ValidationError for %s", err, tc.param)
			}
		})
	}
	if st := srv.Stats(); st.TotalRequests != 0 {
		t.Fatalf("validation failures sent %d requests", st.TotalRequests)
	}
	if u := vq.Usage(); u.Rooms.Used != 0 {
		t.Fatalf("validation failures hold %d room slots", u.Rooms.Used)
	}
}

// TestStreamCancel: ending ctx mid-stream closes the caller's channel with
// ctx's error, and twilio-go's paging goroutine and ours exit.
func TestStreamCancel(t *testing.T) {
	_, vq := setup(t, videotest.Options{WritesPerSecond: -1, ReadsPerSecond: -1},
		video.WithLimits(quota.Limits{WritesPerSecond: quota.Unlimited, ReadsPerSecond: quota.Unlimited}))
	for i := range 6 {
		if _, err := vq.CreateRoom(context.Background(), room(fmt.Sprintf("s-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// A full stream first: all records, no error.
	recs, errs := vq.StreamRoom(context.Background(), (&openapi.ListRoomParams{}).SetPageSize(2))
	n := 0
	for range recs {
		n++
	}
	if err := <-errs; err != nil || n != 6 {
		t.Fatalf("full stream: %d records, err %v; want 6, nil", n, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	recs, errs = vq.StreamRoom(ctx, (&openapi.ListRoomParams{}).SetPageSize(1))
	<-recs
	cancel()
	for range recs { // the channel must close
	}
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v; want context.Canceled", err)
	}
	waitNoGoroutine(t, "rest/video/v1.(*ApiService).streamRoom", "video.forward")
}

// waitNoGoroutine waits until no goroutine's stack mentions any of fns.
func waitNoGoroutine(t *testing.T, fns ...string) {
	t.Helper()
	var dump string
	for range 200 {
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		dump = b.String()
		leak := false
		for _, fn := range fns {
			leak = leak || strings.Contains(dump, fn)
		}
		if !leak {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("goroutines still running:\n%s", dump)
}

// TestParticipants: participant slots through the seam for callbacks and
// tokens, and their release when the application reads them disconnected or
// completes their room.
func TestParticipants(t *testing.T) {
	srv, vq := setup(t, videotest.Options{}, video.WithLimits(quota.Limits{ConcurrentParticipants: 2}))
	ctx := context.Background()
	r, err := vq.CreateRoom(ctx, room("p"))
	if err != nil {
		t.Fatal(err)
	}
	var pas []string
	for _, id := range []string{"alice", "bob"} {
		key := video.ParticipantReservationKey("p", id)
		if err := vq.ReserveParticipant(ctx, key); err != nil {
			t.Fatal(err)
		}
		pa, err := srv.Connect("p", id)
		if err != nil {
			t.Fatal(err)
		}
		if err := vq.CommitParticipant(ctx, key, *r.Sid, pa); err != nil {
			t.Fatal(err)
		}
		pas = append(pas, pa)
	}
	var ex *quota.ExceededError
	if err := vq.ReserveParticipant(ctx, video.ParticipantReservationKey("p", "carol")); !errors.As(err, &ex) ||
		ex.Resource != quota.Participants || ex.Code != quota.CodeParticipantsExceeded {
		t.Fatalf("third participant: got %v; want a local 53206 refusal", err)
	}
	// Kicking alice through REST gives her slot back.
	if _, err := vq.UpdateRoomParticipant(ctx, *r.Sid, pas[0],
		(&openapi.UpdateRoomParticipantParams{}).SetStatus("disconnected")); err != nil {
		t.Fatal(err)
	}
	if u := vq.Usage(); u.Participants.Used != 1 {
		t.Fatalf("participants used %d after a kick; want 1", u.Participants.Used)
	}
	// bob leaves on his own; reading him disconnected corrects the ledger.
	if err := srv.Disconnect(*r.Sid, pas[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := vq.FetchRoomParticipant(ctx, *r.Sid, pas[1]); err != nil {
		t.Fatal(err)
	}
	if u := vq.Usage(); u.Participants.Used != 0 {
		t.Fatalf("participants used %d after reading bob disconnected; want 0", u.Participants.Used)
	}
	// Completing a room releases the participants the client knew in it.
	key := video.ParticipantReservationKey("p", "dave")
	if err := vq.ReserveParticipant(ctx, key); err != nil {
		t.Fatal(err)
	}
	pa, err := srv.Connect("p", "dave")
	if err != nil {
		t.Fatal(err)
	}
	if err := vq.CommitParticipant(ctx, key, *r.Sid, pa); err != nil {
		t.Fatal(err)
	}
	if _, err := vq.UpdateRoom(ctx, "p", completed()); err != nil {
		t.Fatal(err)
	}
	if u := vq.Usage(); u.Participants.Used != 0 || u.Rooms.Used != 0 {
		t.Fatalf("usage after completing the room: %+v", u)
	}
}

// TestWaitForCapacity: a create waits for a slot instead of failing, bounded
// by ctx.
func TestWaitForCapacity(t *testing.T) {
	_, vq := setup(t, videotest.Options{}, video.WithLimits(quota.Limits{ConcurrentRooms: 1}))
	ctx := context.Background()
	r, err := vq.CreateRoom(ctx, room("w1"))
	if err != nil {
		t.Fatal(err)
	}
	// A caller whose ctx ends while it waits for a slot gets the refusal
	// it waited on (the ctx ends once it is seen waiting, whatever the load).
	short, cancel := context.WithCancel(ctx)
	defer cancel()
	shortErr := make(chan error, 1)
	go func() {
		_, err := vq.CreateRoom(video.WaitForCapacity(short), room("w2"))
		shortErr <- err
	}()
	waitForStack(t, "quota.(*Ledger).ReserveWait")
	cancel()
	var ex *quota.ExceededError
	if err := <-shortErr; !errors.As(err, &ex) {
		t.Fatalf("waiting past ctx: got %v; want *quota.ExceededError", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := vq.CreateRoom(video.WaitForCapacity(ctx), room("w3"))
		done <- err
	}()
	waitForStack(t, "quota.(*Ledger).ReserveWait")
	if _, err := vq.UpdateRoom(ctx, *r.Sid, completed()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waiting create: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting create did not get the freed slot")
	}
}

// TestAPIKeyAndOptions: API-key auth works, and invalid options fail with an
// error naming them.
func TestAPIKeyAndOptions(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{})
	t.Cleanup(srv.Close)
	sid, secret := srv.APIKey()
	vq := newClient(t, srv, video.WithAPIKey(sid, secret))
	if _, err := vq.ListRoom(context.Background(), nil); err != nil {
		t.Fatalf("with an API key: %v", err)
	}
	for _, tc := range []struct {
		name string
		opt  video.Option
	}{
		{"WithAPIKey", video.WithAPIKey("SK1", "x")},
		{"WithBaseURL", video.WithBaseURL("ftp://x")},
		{"WithLimits", video.WithLimits(quota.Limits{WritesPerSecond: math.NaN()})},
		{"WithThresholds", video.WithThresholds(nil)},
		{"WithHTTPClient", video.WithHTTPClient(nil)},
		{"WithStore", video.WithStore(nil)},
		{"WithMaxInFlight", video.WithMaxInFlight(0)},
		{"WithRetry", video.WithRetry(backoff.Policy{Base: -1})},
	} {
		_, err := video.New(srv.AccountSID(), srv.AuthToken(), tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: got %v; want an error naming the option", tc.name, err)
		}
	}
	if _, err := video.New("AC123", "token"); err == nil {
		t.Error("a malformed account SID was accepted")
	}
	if err := vq.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := vq.ListRoom(context.Background(), nil); !errors.Is(err, video.ErrClosed) {
		t.Fatalf("after Close: got %v; want video.ErrClosed", err)
	}
}

// TestStreamWithMetadata: the metadata stream relays records and headers, and
// a failing first page (on which twilio-go's own StreamRoomWithMetadata
// dereferences a nil page) comes back as an error on the channel.
func TestStreamWithMetadata(t *testing.T) {
	srv, vq := setup(t, videotest.Options{}, video.WithRetry(backoff.NoRetry()))
	ctx := context.Background()
	for i := range 3 {
		if _, err := vq.CreateRoom(ctx, room(fmt.Sprintf("m-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	res, errs := vq.StreamRoomWithMetadata(ctx, (&openapi.ListRoomParams{}).SetPageSize(2))
	n := 0
	for range res.GetResource() {
		n++
	}
	if err := <-errs; err != nil || n != 3 || res.GetStatusCode() != http.StatusOK ||
		res.GetHeader("Twilio-Request-Id") == "" {
		t.Fatalf("got %d records, status %d, err %v; want 3, 200, nil and Twilio's headers", n, res.GetStatusCode(), err)
	}

	srv.SetFaults(videotest.Faults{Force429: 1})
	res, errs = vq.StreamRoomWithMetadata(ctx, nil)
	for range res.GetResource() {
		t.Fatal("a record from a failed stream")
	}
	var rl *quota.RateLimitError
	if err := <-errs; !errors.As(err, &rl) {
		t.Fatalf("got %v; want the first page's *quota.RateLimitError", err)
	}
	waitNoGoroutine(t, "video.forward")
}

// TestRequestHandler: the handler returned for twilio-go's RequestHandler is
// bound to ctx and paced.
func TestRequestHandler(t *testing.T) {
	srv, vq := setup(t, videotest.Options{})
	rh := vq.RequestHandler(context.Background())
	resp, err := rh.Get("https://video.twilio.com/v1/Rooms", nil, map[string]interface{}{}, "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := srv.Stats(); st.Reads != 1 || vq.Usage().Reads.Requests != 1 {
		t.Fatalf("emulator saw %d reads, client counted %d; want 1 each", st.Reads, vq.Usage().Reads.Requests)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := vq.RequestHandler(ctx).Get("https://video.twilio.com/v1/Rooms", nil, nil, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("with a cancelled ctx: got %v; want context.Canceled", err)
	}
}

// TestEachPageTakesAToken: a listing of three one-record pages is three reads
// on both sides.
func TestEachPageTakesAToken(t *testing.T) {
	srv, vq := setup(t, videotest.Options{})
	ctx := context.Background()
	for i := range 3 {
		if _, err := vq.CreateRoom(ctx, room(fmt.Sprintf("pg-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	rooms, err := vq.ListRoom(ctx, (&openapi.ListRoomParams{}).SetPageSize(1))
	if err != nil || len(rooms) != 3 {
		t.Fatalf("got %d rooms, %v", len(rooms), err)
	}
	if st, u := srv.Stats(), vq.Usage(); st.Reads < 3 || st.Reads != u.Reads.Requests {
		t.Fatalf("emulator saw %d reads, client took %d read tokens; want one per page, at least 3", st.Reads, u.Reads.Requests)
	}
}

// TestCreateOutcomeUnknown: when the connection drops after a create was
// sent, the Room may exist, so its slot stays reserved.
func TestCreateOutcomeUnknown(t *testing.T) {
	_, vq := setup(t, videotest.Options{Faults: videotest.Faults{DropRate: 1}}, fastRetry(2))
	_, err := vq.CreateRoom(context.Background(), room(""))
	var tw *client.TwilioRestError
	if err == nil || errors.As(err, &tw) {
		t.Fatalf("got %v; want a network error", err)
	}
	if u := vq.Usage(); u.Rooms.Used != 1 {
		t.Fatalf("rooms used %d; want the slot kept pending", u.Rooms.Used)
	}
}

// TestRetryBudget: when the retry budget is spent (the whole account is
// throttled), calls stop retrying and say so.
func TestRetryBudget(t *testing.T) {
	srv, vq := setup(t, videotest.Options{Faults: videotest.Faults{Force429: 1000}},
		video.WithRetry(backoff.Policy{Base: time.Millisecond, Cap: time.Millisecond, MaxRetries: 100,
			Budget: backoff.NewBudget(2 * backoff.ThrottleRetryCost)}))
	_, err := vq.ListRoom(context.Background(), nil)
	var rl *quota.RateLimitError
	if !errors.Is(err, backoff.ErrBudgetExhausted) || !errors.As(err, &rl) {
		t.Fatalf("got %v; want the budget error wrapping a *quota.RateLimitError", err)
	}
	if st := srv.Stats(); st.TotalRequests != 3 {
		t.Fatalf("emulator saw %d requests; want 3 (two retries paid by the budget)", st.TotalRequests)
	}
}

// TestSharedStore: two clients of one account sharing a store share its
// Rooms quota.
func TestSharedStore(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: -1})
	t.Cleanup(srv.Close)
	store := memStore(t)
	limits := video.WithLimits(quota.Limits{ConcurrentRooms: 10, WritesPerSecond: quota.Unlimited})
	a := newClient(t, srv, video.WithStore(store), limits)
	b := newClient(t, srv, video.WithStore(store), limits)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vq := a
			if i%2 == 1 {
				vq = b
			}
			if _, err := vq.CreateRoom(context.Background(), room("")); err == nil {
				ok.Add(1)
			} else if !errors.Is(err, quota.ErrExceeded) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if st := srv.Stats(); ok.Load() != 10 || st.Writes != 10 {
		t.Fatalf("created %d rooms with %d writes; want 10 and 10", ok.Load(), st.Writes)
	}
}

// TestCloseLeavesNoGoroutine: an idle Client runs no ledger goroutine, and
// Close leaves none and closes the Client's idle connections.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{})
	t.Cleanup(srv.Close)
	count := func() (ledgers, conns int) {
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
		dump := b.String()
		return strings.Count(dump, "quota.(*Ledger).run"), strings.Count(dump, "net/http.(*persistConn).readLoop")
	}
	// Connections and Clients of earlier tests may end asynchronously: let
	// them go first, so that the counts below move only with this Client.
	l0, c0 := count()
	for i := 0; i < 200 && (c0 > 0 || l0 > 0); i++ {
		time.Sleep(10 * time.Millisecond)
		l0, c0 = count()
	}
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vq.ListRoom(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// The ledger's goroutine starts with its first event (none here): the
	// connection's is there.
	if l, c := count(); l > l0 || c <= c0 {
		t.Fatalf("while open: %d ledger and %d connection goroutines, had %d and %d", l, c, l0, c0)
	}
	vq.Close()
	for range 200 {
		if l, c := count(); l <= l0 && c <= c0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	l, c := count()
	t.Fatalf("after Close: %d ledger and %d connection goroutines; had %d and %d before", l, c, l0, c0)
}

// TestNonJSON429: a 429 whose body is not Twilio's JSON (a proxy's page) is
// still a typed rate error.
func TestNonJSON429(t *testing.T) {
	var hits atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte("<html>slow down</html>"))
	}))
	t.Cleanup(hs.Close)
	vq, err := video.New("AC0123456789abcdef0123456789abcdef", "token", video.WithBaseURL(hs.URL),
		video.WithRetry(backoff.NoRetry()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vq.Close() })
	_, err = vq.FetchRoom(context.Background(), "my-room")
	var rl *quota.RateLimitError
	if !errors.As(err, &rl) || rl.Wait != 2*time.Second || rl.Err == nil {
		t.Fatalf("got %v; want a *quota.RateLimitError with Retry-After 2s and the decoding error", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("server saw %d requests; want 1", hits.Load())
	}
}
