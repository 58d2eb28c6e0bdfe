package video_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/backoff"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// waitForStack waits until some goroutine's stack contains every one of
// parts: the test then knows a call is inside that wait, without sleeping.
func waitForStack(t *testing.T, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var b bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
		for _, g := range strings.Split(b.String(), "\n\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(g, p)
			}
			if all {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine is in %q:\n%s", parts, b.String())
		}
		time.Sleep(time.Millisecond)
	}
}

// waitForGoroutines waits until at least n goroutines' stacks contain part.
func waitForGoroutines(t *testing.T, n int, part string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var b bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
		if strings.Count(b.String(), part) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d goroutines in %q:\n%s", n, part, b.String())
		}
		time.Sleep(time.Millisecond)
	}
}

// closeReturns calls vq.Close and fails the test when it takes longer than
// a loaded machine needs to abort loopback requests.
func closeReturns(t *testing.T, vq *video.Client) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- vq.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
}

// TestCloseWakesWaiters: each way a call can wait is woken by Close with
// ErrClosed, Close returns only once the call's attempts have ended, and the
// emulator receives nothing after Close returned.
func TestCloseWakesWaiters(t *testing.T) {
	cases := []struct {
		name  string
		opts  videotest.Options
		copts []video.Option
		prep  func(t *testing.T, vq *video.Client)
		call  func(ctx context.Context, vq *video.Client) error
		stack []string // where the call waits
		// wire is how many requests the emulator has received once the
		// call waits: a request the client is sending may not have reached
		// the emulator's handler when its stack shows it on the wire, and
		// Close must not be blamed for its arrival.
		wire int64
	}{{
		name:  "rate wait",
		copts: []video.Option{video.WithLimits(quota.Limits{WritesPerSecond: 0.001})},
		prep: func(t *testing.T, vq *video.Client) {
			if _, err := vq.CreateRoom(context.Background(), room("")); err != nil { // the only token
				t.Fatal(err)
			}
		},
		call: func(ctx context.Context, vq *video.Client) error {
			_, err := vq.CreateRoom(ctx, room(""))
			return err
		},
		stack: []string{"quota.(*Limiter).Wait"},
		wire:  1,
	}, {
		name:  "capacity wait",
		copts: []video.Option{video.WithLimits(quota.Limits{ConcurrentRooms: 1})},
		prep: func(t *testing.T, vq *video.Client) {
			if _, err := vq.CreateRoom(context.Background(), room("")); err != nil { // the only slot
				t.Fatal(err)
			}
		},
		call: func(ctx context.Context, vq *video.Client) error {
			_, err := vq.CreateRoom(video.WaitForCapacity(ctx), room(""))
			return err
		},
		stack: []string{"quota.(*Ledger).ReserveWait"},
		wire:  1,
	}, {
		name:  "in-flight cap",
		opts:  videotest.Options{Faults: videotest.Faults{Latency: time.Hour}},
		copts: []video.Option{video.WithMaxInFlight(1)},
		prep: func(t *testing.T, vq *video.Client) {
			go func() { _, _ = vq.FetchRoom(context.Background(), "holder") }() // holds the only slot
			waitForStack(t, "persistConn).roundTrip", "FetchRoom")
		},
		call: func(ctx context.Context, vq *video.Client) error {
			_, err := vq.ListRoom(ctx, nil)
			return err
		},
		stack: []string{"video.(*Client).acquire", "ListRoom"},
		wire:  1, // the holder's
	}, {
		name:  "backoff sleep",
		opts:  videotest.Options{RetryAfter: time.Hour, Faults: videotest.Faults{Force429: 10}},
		copts: []video.Option{video.WithRetry(backoff.Policy{MaxRetryAfter: time.Hour})},
		call: func(ctx context.Context, vq *video.Client) error {
			_, err := vq.ListRoom(ctx, nil)
			return err
		},
		stack: []string{"backoff.Sleep"},
		wire:  1,
	}, {
		name: "request on the wire",
		opts: videotest.Options{Faults: videotest.Faults{Latency: time.Hour}},
		call: func(ctx context.Context, vq *video.Client) error {
			_, err := vq.FetchRoom(ctx, "standup")
			return err
		},
		stack: []string{"persistConn).roundTrip", "FetchRoom"},
		wire:  1,
	}, {
		name: "stream",
		opts: videotest.Options{Faults: videotest.Faults{Latency: time.Hour}},
		call: func(ctx context.Context, vq *video.Client) error {
			recs, errs := vq.StreamRoom(ctx, nil)
			for range recs {
			}
			return <-errs
		},
		stack: []string{"persistConn).roundTrip", "StreamRoom"},
		wire:  1,
	}, {
		name: "request handler",
		opts: videotest.Options{Faults: videotest.Faults{Latency: time.Hour}},
		call: func(ctx context.Context, vq *video.Client) error {
			resp, err := vq.RequestHandler(ctx).Get("https://video.twilio.com/v1/Rooms", nil, nil, "")
			if err == nil {
				resp.Body.Close()
			}
			return err
		},
		stack: []string{"persistConn).roundTrip", "RequestHandler"},
		wire:  1,
	}, {
		name: "reconciler",
		call: func(ctx context.Context, vq *video.Client) error {
			return vq.RunReconciler(ctx, time.Hour)
		},
		stack: []string{"video.(*model).sleep(", "RunReconciler("},
	}, {
		name: "alert poller",
		call: func(ctx context.Context, vq *video.Client) error {
			return vq.PollAlerts(ctx, time.Hour)
		},
		stack: []string{"[select]:\ngithub.com/videoquota/videoquota/video.(*Client).PollAlerts("},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, vq := setup(t, tc.opts, tc.copts...)
			if tc.prep != nil {
				tc.prep(t, vq)
			}
			done := make(chan error, 1)
			go func() { done <- tc.call(context.Background(), vq) }()
			waitForStack(t, tc.stack...)
			for deadline := time.Now().Add(10 * time.Second); srv.Stats().TotalRequests < tc.wire; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the emulator received %d requests, want %d before Close", srv.Stats().TotalRequests, tc.wire)
				}
			}
			closeReturns(t, vq)
			after := srv.Stats().TotalRequests
			select {
			case err := <-done:
				if !errors.Is(err, video.ErrClosed) {
					t.Fatalf("got %v; want video.ErrClosed", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the call still waits after Close returned")
			}
			if got := srv.Stats().TotalRequests; got != after {
				t.Fatalf("emulator received %d requests after Close returned", got-after)
			}
		})
	}
}

// TestCloseQueuedWrites: calls queued for write tokens at 2/s all return
// ErrClosed when Close returns (none sent afterwards), not as their tokens
// come due.
func TestCloseQueuedWrites(t *testing.T) {
	srv, vq := setup(t, videotest.Options{}, video.WithLimits(quota.Limits{WritesPerSecond: 2}))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 7)
	for range 7 { // 2 go at once (burst), 5 queue
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := vq.CreateRoom(ctx, room(""))
			errs <- err
		}()
	}
	waitForGoroutines(t, 5, "video.(*Client).takeToken") // five calls wait for a write token (one in the limiter, four queued before it)
	closeReturns(t, vq)
	sent := srv.Stats().Writes
	wg.Wait()
	close(errs)
	var closed int
	for err := range errs {
		if errors.Is(err, video.ErrClosed) {
			closed++
		} else if err != nil {
			t.Errorf("got %v; want nil or ErrClosed", err)
		}
	}
	if closed < 5 {
		t.Errorf("%d calls returned ErrClosed; want the 5 queued", closed)
	}
	if got := srv.Stats().Writes; got != sent {
		t.Fatalf("emulator received %d writes after Close returned", got-sent)
	}
}

// ctxType is context.Context.
var ctxType = reflect.TypeOf((*context.Context)(nil)).Elem()

// callREST calls the *video.Client method named name with ctx and zero
// values for the other parameters, and returns its error (a stream's, read
// from its error channel).
func callREST(vq *video.Client, name string, ctx context.Context) error {
	m := reflect.ValueOf(vq).MethodByName(name)
	in := []reflect.Value{reflect.Zero(ctxType)}
	if ctx != nil {
		in[0] = reflect.ValueOf(ctx)
	}
	for i := 1; i < m.Type().NumIn(); i++ {
		in = append(in, reflect.Zero(m.Type().In(i)))
	}
	out := m.Call(in)
	last := out[len(out)-1]
	if last.Type().Kind() == reflect.Chan { // a stream: (records, errors)
		recs := out[0]
		if recs.Kind() == reflect.Pointer { // *metadata.ResourceMetadata[chan T]
			recs = recs.Elem().FieldByName("Resource")
		}
		for {
			if _, ok := recs.Recv(); !ok {
				break
			}
		}
		v, ok := last.Recv()
		if !ok || v.IsNil() {
			return nil
		}
		return v.Interface().(error)
	}
	if last.IsNil() {
		return nil
	}
	return last.Interface().(error)
}

// restMethods lists the Client's methods that mirror twilio-go's ApiService
// (RequestHandler aside).
func restMethods(t *testing.T) []string {
	api := reflect.TypeOf((*openapi.ApiService)(nil))
	var names []string
	for i := 0; i < api.NumMethod(); i++ {
		if n := api.Method(i).Name; n != "RequestHandler" {
			names = append(names, n)
		}
	}
	if len(names) < 100 {
		t.Fatalf("ApiService has %d methods; expected the full Video v1 surface", len(names))
	}
	return names
}

// TestRefusedBeforeAnything: after Close every REST method fails with
// ErrClosed; with a nil ctx it fails with an error saying so (no panic);
// with an ended ctx it fails with ctx's error. Nothing is sent in any case.
func TestRefusedBeforeAnything(t *testing.T) {
	srv, vq := setup(t, videotest.Options{})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, name := range restMethods(t) {
		if err := callREST(vq, name, nil); err == nil || !strings.Contains(err.Error(), "nil Context") {
			t.Errorf("%s(nil, ...): got %v; want an error saying the Context is nil", name, err)
		}
		if err := callREST(vq, name, cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("%s(cancelled ctx, ...): got %v; want context.Canceled", name, err)
		}
	}
	//lint:ignore SA1012 a nil ctx on purpose
	if _, err := vq.RequestHandler(nil).Get("https://video.twilio.com/v1/Rooms", nil, nil, ""); err == nil ||
		!strings.Contains(err.Error(), "nil Context") {
		t.Errorf("RequestHandler(nil): got %v; want an error saying the Context is nil", err)
	}
	vq.Close()
	for _, name := range restMethods(t) {
		if err := callREST(vq, name, context.Background()); !errors.Is(err, video.ErrClosed) {
			t.Errorf("%s after Close: got %v; want video.ErrClosed", name, err)
		}
	}
	if _, err := vq.RequestHandler(context.Background()).Get("https://video.twilio.com/v1/Rooms", nil, nil, ""); !errors.Is(err, video.ErrClosed) {
		t.Errorf("RequestHandler after Close: got %v; want video.ErrClosed", err)
	}
	if _, err := vq.Reconcile(context.Background()); !errors.Is(err, video.ErrClosed) {
		t.Errorf("Reconcile after Close: got %v; want video.ErrClosed", err)
	}
	if err := vq.RunReconciler(context.Background(), time.Hour); !errors.Is(err, video.ErrClosed) {
		t.Errorf("RunReconciler after Close: got %v; want video.ErrClosed", err)
	}
	if err := vq.PollAlerts(context.Background(), time.Hour); !errors.Is(err, video.ErrClosed) {
		t.Errorf("PollAlerts after Close: got %v; want video.ErrClosed", err)
	}
	if n := srv.Stats().TotalRequests; n != 0 {
		t.Fatalf("emulator received %d requests; want 0", n)
	}
}

// TestCloseTwice: Close is idempotent, also from many goroutines at once,
// and every caller returns only once the Client is closed.
func TestCloseTwice(t *testing.T) {
	_, vq := setup(t, videotest.Options{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := vq.Close(); err != nil {
				t.Error(err)
			}
			if _, err := vq.ListRoom(context.Background(), nil); !errors.Is(err, video.ErrClosed) {
				t.Errorf("after Close returned: got %v; want ErrClosed", err)
			}
		}()
	}
	wg.Wait()
	closeReturns(t, vq)
}

// TestCloseFromThresholdFunc: Close called from inside a ThresholdFunc
// returns, and so does the Close the application calls later.
func TestCloseFromThresholdFunc(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{})
	t.Cleanup(srv.Close)
	var vq *video.Client
	closed := make(chan struct{})
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithLimits(quota.Limits{ConcurrentRooms: 2}),
		video.WithThresholds(func(e quota.Event) {
			if e.Rising {
				vq.Close()
				close(closed)
			}
		}, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	// The event fires as the slot is reserved, so the Client may close
	// before the request is sent.
	if _, err := vq.CreateRoom(context.Background(), room("")); err != nil && !errors.Is(err, video.ErrClosed) {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close called from the ThresholdFunc did not return")
	}
	closeReturns(t, vq)
	if _, err := vq.ListRoom(context.Background(), nil); !errors.Is(err, video.ErrClosed) || !errors.Is(err, quota.ErrClosed) {
		t.Fatalf("after Close: got %v; want ErrClosed, matching quota.ErrClosed too", err)
	}
}

// TestCloseEndsEverything: JoinToken and CreateRoom refuse a nil ctx, an
// ended ctx and a closed Client before any slot is taken, and the
// close-empty-rooms worker ends with Close rather than after its grace.
func TestCloseEndsEverything(t *testing.T) {
	e := newCBEnv(t, nil, []video.HandlerOption{video.WithCloseEmptyRooms(time.Hour)})
	vq := e.vq
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := vq.JoinToken(cancelled, "standup", "alice"); !errors.Is(err, context.Canceled) {
		t.Fatalf("JoinToken with an ended ctx: %v; want context.Canceled", err)
	}
	//lint:ignore SA1012 a nil ctx on purpose
	if _, err := vq.CreateRoom(nil, room("")); err == nil || !strings.Contains(err.Error(), "nil Context") {
		t.Fatalf("CreateRoom(nil): %v; want an error saying the Context is nil", err)
	}
	if n := mustUsed(t, vq, quota.Participants) + mustUsed(t, vq, quota.Rooms); n != 0 {
		t.Fatalf("%d slots taken by refused calls", n)
	}
	// A Room emptied: the worker waits an hour of grace to complete it.
	r, err := vq.CreateRoom(ctx, room("emptied").SetStatusCallback(e.statusURL()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Connect(*r.Sid, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Disconnect(*r.Sid, "bob"); err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	closed := make(chan struct{})
	go func() { vq.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the close-empty worker's grace")
	}
	video.WaitBackground(vq) // returns: the worker has ended
	if _, err := vq.JoinToken(ctx, "standup", "alice"); !errors.Is(err, video.ErrClosed) {
		t.Fatalf("JoinToken after Close: %v; want ErrClosed", err)
	}
}
