package video_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	apiv2010 "github.com/twilio/twilio-go/rest/api/v2010"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// subaccounts creates n subaccounts of srv through twilio-go's
// ApiV2010.CreateAccount and returns them.
func subaccounts(t testing.TB, srv *videotest.Server, n int) []*videotest.Server {
	t.Helper()
	api := apiv2010.NewApiServiceWithClient(srv.Client())
	subs := make([]*videotest.Server, n)
	for i := range subs {
		a, err := api.CreateAccount(&apiv2010.CreateAccountParams{FriendlyName: ptrTo(fmt.Sprintf("customer-%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = srv.Account(*a.Sid)
	}
	return subs
}

func ptrTo[T any](v T) *T { return &v }

// emulatorLookup finds subaccounts of srv (and srv itself), with limits
// per account, and counts its calls.
type emulatorLookup struct {
	srv    *videotest.Server
	limits map[string]quota.Limits
	calls  atomic.Int64
}

func (l *emulatorLookup) lookup(_ context.Context, sid string) (video.Account, error) {
	l.calls.Add(1)
	s := l.srv.Account(sid)
	if sid == l.srv.AccountSID() {
		s = l.srv
	}
	if s == nil {
		return video.Account{}, fmt.Errorf("no account %s: %w", sid, video.ErrUnknownAccount)
	}
	return video.Account{AuthToken: s.AuthToken(), Limits: l.limits[sid]}, nil
}

func newAccounts(t testing.TB, srv *videotest.Server, l *emulatorLookup, opts ...video.Option) *video.Accounts {
	t.Helper()
	a, err := video.NewAccounts(l.lookup, append([]video.Option{video.WithBaseURL(srv.URL()), fastRetry(3)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestAccountsQuotaPerAccount: a subaccount whose quota is 5 Rooms refuses
// the 6th locally (no request sent) while its neighbours proceed.
func TestAccountsQuotaPerAccount(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: -1, ReadsPerSecond: -1})
	t.Cleanup(srv.Close)
	subs := subaccounts(t, srv, 3)
	small := subs[0]
	if err := small.SetLimits(videotest.Limits{ConcurrentRooms: 5}); err != nil {
		t.Fatal(err)
	}
	l := &emulatorLookup{srv: srv, limits: map[string]quota.Limits{small.AccountSID(): {ConcurrentRooms: 5}}}
	a := newAccounts(t, srv, l)
	ctx := context.Background()
	for i := range 5 {
		c, err := a.Client(ctx, small.AccountSID())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateRoom(ctx, room(fmt.Sprintf("r%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := a.Client(ctx, small.AccountSID())
	_, err := c.CreateRoom(ctx, room("r5"))
	var ee *quota.ExceededError
	if !errors.As(err, &ee) || ee.Resource != quota.Rooms || ee.Source != quota.SourceLocal {
		t.Fatalf("6th Room: %v, want a local *quota.ExceededError for Rooms", err)
	}
	if st := small.Stats(); st.Writes != 5 || st.RoomsCreated != 5 {
		t.Fatalf("the subaccount saw %d writes and %d Rooms, want 5 and 5: the 6th was sent", st.Writes, st.RoomsCreated)
	}
	for _, s := range subs[1:] {
		n, err := a.Client(ctx, s.AccountSID())
		if err != nil {
			t.Fatal(err)
		}
		for i := range 8 {
			if _, err := n.CreateRoom(ctx, room(fmt.Sprintf("r%d", i))); err != nil {
				t.Fatalf("neighbour %s Room %d: %v", s.AccountSID(), i, err)
			}
		}
		if s.Stats().RoomsNow != 8 {
			t.Fatal("neighbour's Rooms not in its own account")
		}
	}
	if srv.Stats().RoomsNow != 0 {
		t.Fatal("Rooms were created in the main account")
	}
	if got := l.calls.Load(); got != 3 {
		t.Fatalf("lookup called %d times for 3 accounts", got)
	}
}

// TestAccountsStatusCallbacksRouted: the status callbacks of many
// subaccounts, all sent to one endpoint, each signed with its own account's
// token, are each applied to that account's ledger.
func TestAccountsStatusCallbacksRouted(t *testing.T) {
	n := 1000
	if testing.Short() || raceEnabled {
		n = 200
	}
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: -1, ReadsPerSecond: -1, CallbackLogSize: -1, RequestLogSize: -1})
	t.Cleanup(srv.Close)
	subs := subaccounts(t, srv, n)
	l := &emulatorLookup{srv: srv}
	a := newAccounts(t, srv, l)
	hs := httptest.NewServer(a.StatusCallbackHandler())
	t.Cleanup(hs.Close)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := a.Client(ctx, s.AccountSID())
			if err == nil {
				_, err = c.CreateRoom(ctx, room("class").SetStatusCallback(hs.URL+"/status"))
			}
			if err == nil {
				_, err = s.Connect("class", "teacher")
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, s := range subs {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := s.FlushCallbacks(fctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	for _, s := range subs {
		st := s.Stats()
		if st.CallbacksSent != 2 || st.CallbacksFailed != 0 {
			t.Fatalf("%s: %d callbacks answered 2xx, %d not, want 2 and 0", s.AccountSID(), st.CallbacksSent, st.CallbacksFailed)
		}
		c, err := a.Client(ctx, s.AccountSID())
		if err != nil {
			t.Fatal(err)
		}
		if r, p := mustUsed(t, c, quota.Rooms), mustUsed(t, c, quota.Participants); r != 1 || p != 1 {
			t.Fatalf("%s: ledger has %d Rooms and %d Participants, want 1 and 1", s.AccountSID(), r, p)
		}
	}
	if got := l.calls.Load(); got != int64(n) {
		t.Fatalf("lookup called %d times for %d accounts", got, n)
	}
}

// TestAccountsWebhookRefusals: a callback signed with the parent's token,
// or with another subaccount's, for a subaccount is refused with 403 and
// changes nothing; so is one for an unknown account; a failing lookup gets
// 503; nothing is answered but 503 after Close.
func TestAccountsWebhookRefusals(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{})
	t.Cleanup(srv.Close)
	subs := subaccounts(t, srv, 2)
	x, y := subs[0], subs[1]
	var failing atomic.Bool
	l := &emulatorLookup{srv: srv}
	lookup := func(ctx context.Context, sid string) (video.Account, error) {
		if failing.Load() {
			return video.Account{}, errors.New("directory unavailable")
		}
		return l.lookup(ctx, sid)
	}
	a, err := video.NewAccounts(lookup, video.WithBaseURL(srv.URL()), video.WithClock(clockFunc(func() time.Time { return offlineNow })))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	status := a.StatusCallbackHandler()
	alerts := a.AlertHandler()
	const target = "https://hooks.example.com/status"
	ts := offlineNow.Add(-time.Minute).Format(time.RFC3339)
	send := func(h http.Handler, token string, form map[string][]string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedPost(token, target, form))
		return rec.Code
	}
	created := roomForm(x.AccountSID(), video.EventRoomCreated, testRoom, "", ts)
	cases := []struct {
		name  string
		token string
		want  int
	}{
		{"parent token on a subaccount's callback", srv.AuthToken(), http.StatusForbidden},
		{"another subaccount's token", y.AuthToken(), http.StatusForbidden},
		{"no token at all", "0000000000000000000000000000000f", http.StatusForbidden},
	}
	for _, tc := range cases {
		if got := send(status, tc.token, created); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	c, err := a.Client(context.Background(), x.AccountSID())
	if err != nil {
		t.Fatal(err)
	}
	if n := mustUsed(t, c, quota.Rooms); n != 0 {
		t.Fatalf("refused callbacks changed the ledger: %d Rooms", n)
	}
	// The account's own token is accepted.
	if got := send(status, x.AuthToken(), created); got != http.StatusOK {
		t.Fatalf("own token: status %d", got)
	}
	if n := mustUsed(t, c, quota.Rooms); n != 1 {
		t.Fatalf("accepted callback: %d Rooms", n)
	}
	// Unknown account and malformed AccountSid: 403, no Client made.
	before := a.Len()
	unknown := roomForm("AC"+"9"+"0123456789abcdef0123456789abcde", video.EventRoomCreated, testRoom, "", ts)
	bad := roomForm("not-a-sid", video.EventRoomCreated, testRoom, "", ts)
	for _, f := range []map[string][]string{unknown, bad} {
		if got := send(status, srv.AuthToken(), f); got != http.StatusForbidden {
			t.Errorf("unknown account: status %d, want 403", got)
		}
		if got := send(alerts, srv.AuthToken(), f); got != http.StatusForbidden {
			t.Errorf("unknown account (alerts): status %d, want 403", got)
		}
	}
	if a.Len() != before {
		t.Fatal("an unknown account's callback made a Client")
	}
	// A lookup failure: 503, nothing cached.
	failing.Store(true)
	yForm := roomForm(y.AccountSID(), video.EventRoomCreated, testRoom, "", ts)
	if got := send(status, y.AuthToken(), yForm); got != http.StatusServiceUnavailable {
		t.Fatalf("lookup failure: status %d, want 503", got)
	}
	if a.Len() != before {
		t.Fatal("a failed lookup cached a Client")
	}
	failing.Store(false)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := send(status, x.AuthToken(), roomForm(x.AccountSID(), video.EventRoomEnded, testRoom, "", ts)); got != http.StatusServiceUnavailable {
		t.Fatalf("after Close: status %d, want 503", got)
	}
	if _, err := a.Client(context.Background(), x.AccountSID()); !errors.Is(err, video.ErrClosed) {
		t.Fatalf("Client after Close: %v", err)
	}
}

// TestAccountsLookupOnce: concurrent first uses of an account look it up
// once and share its Client; a failed lookup is not cached.
func TestAccountsLookupOnce(t *testing.T) {
	gate := make(chan struct{})
	var calls atomic.Int64
	var fail atomic.Bool
	a, err := video.NewAccounts(func(ctx context.Context, sid string) (video.Account, error) {
		calls.Add(1)
		<-gate
		if fail.Load() {
			return video.Account{}, errors.New("down")
		}
		return video.Account{AuthToken: "0123456789abcdef0123456789abcdef"}, nil
	}, video.WithBaseURL("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const sid = "AC0123456789abcdef0123456789abcdef"
	got := make([]*video.Client, 50)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := a.Client(context.Background(), sid)
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		}()
	}
	// Wait until the lookup runs, then let it finish.
	for calls.Load() == 0 {
		runtime.Gosched()
	}
	close(gate)
	wg.Wait()
	for _, c := range got {
		if c != got[0] || c == nil {
			t.Fatal("concurrent first calls got different Clients")
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("lookup called %d times", calls.Load())
	}
	fail.Store(true)
	const other = "ACfedcba9876543210fedcba9876543210"
	for range 2 {
		var ae *video.AccountError
		if _, err := a.Client(context.Background(), other); !errors.As(err, &ae) || ae.AccountSID != other {
			t.Fatalf("failed lookup: %v", err)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("a failed lookup was cached: %d calls", calls.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Client(ctx, "AC00000000000000000000000000000001"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
}

func TestAccountsOptions(t *testing.T) {
	if _, err := video.New("AC0123456789abcdef0123456789abcdef", "x", video.WithIdleEviction(time.Minute)); err == nil {
		t.Fatal("New accepted WithIdleEviction")
	} else {
		var ce *video.ConfigError
		if !errors.As(err, &ce) || ce.Option != "WithIdleEviction" {
			t.Fatalf("New: %v", err)
		}
	}
	if _, err := video.NewAccounts(nil); err == nil {
		t.Fatal("NewAccounts accepted a nil lookup")
	}
	for _, o := range []video.Option{video.WithIdleEviction(-1), video.WithLookupTimeout(0), nil} {
		if _, err := video.NewAccounts(func(context.Context, string) (video.Account, error) { return video.Account{}, nil }, o); err == nil {
			t.Fatal("NewAccounts accepted a bad option")
		}
	}
	a, err := video.NewAccounts(func(context.Context, string) (video.Account, error) { return video.Account{}, nil },
		video.WithBaseURL("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var ae *video.AccountError
	if _, err := a.Client(context.Background(), "AC0123456789abcdef0123456789abcdef"); !errors.As(err, &ae) {
		t.Fatalf("empty AuthToken from lookup: %v", err)
	}
}

// TestAccountsEvictionKeepsWork runs under a fake clock: an account with a
// Room in progress (known from its room-created callback) is never
// evicted, however long it is idle, nor one with a pending Participant
// reservation while it is pending; an account touched once is evicted
// after the idle time, and a Room's end lets its account go too.
func TestAccountsEvictionKeepsWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const token = "0123456789abcdef0123456789abcdef"
		sids := []string{"AC00000000000000000000000000000001", "AC00000000000000000000000000000002", "AC00000000000000000000000000000003"}
		a, err := video.NewAccounts(func(ctx context.Context, sid string) (video.Account, error) {
			return video.Account{AuthToken: token}, nil
		}, video.WithBaseURL("http://127.0.0.1:1"), video.WithIdleEviction(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		h := a.StatusCallbackHandler()
		const target = "https://hooks.example.com/status"
		post := func(form map[string][]string) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, signedPost(token, target, form))
			if rec.Code != http.StatusOK {
				t.Fatalf("callback: %d", rec.Code)
			}
		}
		ctx := context.Background()
		withRoom, reserved, idle := sids[0], sids[1], sids[2]
		post(roomForm(withRoom, video.EventRoomCreated, testRoom, "", time.Now().UTC().Format(time.RFC3339)))
		c, err := a.Client(ctx, reserved)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ReserveParticipant(ctx, "held"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Client(ctx, idle); err != nil {
			t.Fatal(err)
		}
		// The reservation lapses after DefaultReservationTTL (2 minutes):
		// until then it keeps its account.
		time.Sleep(90 * time.Second)
		synctest.Wait()
		if a.Len() != 2 {
			t.Fatalf("%d accounts alive after 90 s, want the 2 with work", a.Len())
		}
		for range 10 { // ten idle times
			time.Sleep(time.Minute)
			synctest.Wait()
		}
		if a.Len() != 1 {
			t.Fatalf("%d accounts alive after 10 idle minutes, want the one with a Room", a.Len())
		}
		room, err := a.Client(ctx, withRoom)
		if err != nil {
			t.Fatal(err)
		}
		if n := mustUsed(t, room, quota.Rooms); n != 1 {
			t.Fatalf("the account with a Room was rebuilt: ledger has %d Rooms", n)
		}
		post(roomForm(withRoom, video.EventRoomEnded, testRoom, "", time.Now().UTC().Format(time.RFC3339)))
		for range 3 {
			time.Sleep(time.Minute)
			synctest.Wait()
		}
		if a.Len() != 0 {
			t.Fatalf("%d accounts alive after the Room ended, want 0", a.Len())
		}
	})
}

// BenchmarkAccountsIdleHeap measures the heap an idle account costs with
// its Client cached (touched once), and after eviction. Reported as
// B/account-cached and B/account-evicted.
func BenchmarkAccountsIdleHeap(b *testing.B) {
	const n = 10000
	const token = "0123456789abcdef0123456789abcdef"
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sids := make([]string, n)
	for i := range sids {
		sids[i] = fmt.Sprintf("AC%032x", i+1)
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var cached, evicted, gor float64
	for b.Loop() {
		a, err := video.NewAccounts(func(ctx context.Context, sid string) (video.Account, error) {
			return video.Account{AuthToken: token}, nil
		}, video.WithBaseURL("http://127.0.0.1:1"), video.WithIdleEviction(time.Hour), video.WithClock(clockFunc(clock)))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		base, g0 := heap(), runtime.NumGoroutine()
		for _, sid := range sids {
			if _, err := a.Client(ctx, sid); err != nil {
				b.Fatal(err)
			}
		}
		touched := heap()
		gor = float64(runtime.NumGoroutine()-g0) / n
		mu.Lock()
		now = now.Add(2 * time.Hour)
		mu.Unlock()
		if k, err := a.EvictIdle(ctx); err != nil || k != n {
			b.Fatalf("evicted %d of %d: %v", k, n, err)
		}
		after := heap()
		cached = float64(int64(touched)-int64(base)) / n
		evicted = float64(int64(after)-int64(base)) / n
		a.Close()
	}
	b.ReportMetric(cached, "B/account-cached")
	b.ReportMetric(evicted, "B/account-evicted")
	b.ReportMetric(gor, "goroutines/account-cached")
}

// TestAccountsMetrics: the accounts' Clients record into one
// MeterProvider; without WithAccountMetrics the series of all accounts are
// one (usage summed), with it each account has its own.
func TestAccountsMetrics(t *testing.T) {
	for _, per := range []bool{false, true} {
		t.Run(fmt.Sprintf("perAccount=%v", per), func(t *testing.T) {
			srv := videotest.NewServer(videotest.Options{WritesPerSecond: -1, ReadsPerSecond: -1})
			t.Cleanup(srv.Close)
			subs := subaccounts(t, srv, 3)
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			opts := []video.Option{video.WithMeterProvider(mp)}
			if per {
				opts = append(opts, video.WithAccountMetrics())
			}
			a := newAccounts(t, srv, &emulatorLookup{srv: srv}, opts...)
			ctx := context.Background()
			for i, s := range subs {
				c, err := a.Client(ctx, s.AccountSID())
				if err != nil {
					t.Fatal(err)
				}
				for j := range i + 1 {
					if _, err := c.CreateRoom(ctx, room(fmt.Sprintf("r%d", j))); err != nil {
						t.Fatal(err)
					}
				}
			}
			m := &metricsReader{t: t, r: reader}
			m.collect()
			usage := m.ints("videoquota.concurrency.usage")
			if !per {
				if got := usage["videoquota.resource=rooms"]; got != 6 {
					t.Fatalf("aggregate Room usage = %d, want 6 (1+2+3): %v", got, usage)
				}
				return
			}
			for i, s := range subs {
				key := "twilio.account_sid=" + s.AccountSID() + ",videoquota.resource=rooms"
				if got := usage[key]; got != int64(i+1) {
					t.Fatalf("%s: Room usage = %d, want %d: %v", s.AccountSID(), got, i+1, usage)
				}
			}
		})
	}
}

// BenchmarkAccountsWriteLoad: N subaccounts, created through twilio-go's
// ApiV2010.CreateAccount, each offered three times its write quota (three
// callers each creating Rooms back to back) for five seconds through one
// Accounts. It reports the slowest and the median account's accepted
// writes as a share of its quota (20/s), the 429s the emulator sent and
// the 20429s the callers got.
func BenchmarkAccountsWriteLoad(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("accounts=%d", n), func(b *testing.B) {
			const d = 5 * time.Second
			srv := videotest.NewServer(videotest.Options{CallbackLogSize: -1, RequestLogSize: -1})
			b.Cleanup(srv.Close)
			subs := subaccounts(b, srv, n)
			for b.Loop() {
				a, err := video.NewAccounts((&emulatorLookup{srv: srv}).lookup, video.WithBaseURL(srv.URL()))
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), d)
				counts := make([]atomic.Int64, n)
				var throttled atomic.Int64
				var wg sync.WaitGroup
				for i, s := range subs {
					for range 3 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for ctx.Err() == nil {
								c, err := a.Client(ctx, s.AccountSID())
								if err != nil {
									return
								}
								_, err = c.CreateRoom(ctx, room(""))
								var re *quota.RateLimitError
								switch {
								case err == nil:
									counts[i].Add(1)
								case errors.As(err, &re) && re.Cause != quota.CauseLocalDeadline:
									throttled.Add(1)
								}
							}
						}()
					}
				}
				wg.Wait()
				cancel()
				a.Close()
				shares := make([]float64, n)
				var server429 int64
				for i, s := range subs {
					shares[i] = float64(counts[i].Load()) / (d.Seconds() * videotest.DefaultWritesPerSecond)
					server429 += s.Stats().Throttled
					s.ResetStats()
				}
				slices.Sort(shares)
				b.ReportMetric(100*shares[0], "%quota-min")
				b.ReportMetric(100*shares[n/2], "%quota-median")
				b.ReportMetric(float64(server429), "server-429s")
				b.ReportMetric(float64(throttled.Load()), "20429s-returned")
			}
		})
	}
}

// BenchmarkAccountsIsolation: one subaccount's reads (50/s, within its
// 80/s quota) timed while a neighbour is idle and while the neighbour is
// flooded with ten times its write quota (200 callers creating Rooms),
// both through one Accounts. It reports the p50 and p99 of the reads in
// each run, in µs.
func BenchmarkAccountsIsolation(b *testing.B) {
	srv := videotest.NewServer(videotest.Options{CallbackLogSize: -1, RequestLogSize: -1})
	b.Cleanup(srv.Close)
	subs := subaccounts(b, srv, 2)
	quiet, flooded := subs[0], subs[1]
	run := func(flood bool) (p50, p99 time.Duration) {
		a, err := video.NewAccounts((&emulatorLookup{srv: srv}).lookup, video.WithBaseURL(srv.URL()))
		if err != nil {
			b.Fatal(err)
		}
		defer a.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		q, err := a.Client(ctx, quiet.AccountSID())
		if err != nil {
			b.Fatal(err)
		}
		r, err := q.CreateRoom(ctx, room(""))
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		if flood {
			for range 200 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						c, err := a.Client(ctx, flooded.AccountSID())
						if err != nil {
							return
						}
						_, _ = c.CreateRoom(ctx, room(""))
					}
				}()
			}
			time.Sleep(time.Second) // the flood's queue builds up
		}
		lat := make([]time.Duration, 0, 200)
		tick := time.NewTicker(20 * time.Millisecond)
		for range 200 {
			<-tick.C
			c, err := a.Client(ctx, quiet.AccountSID())
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := c.FetchRoom(ctx, *r.Sid); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		tick.Stop()
		cancel()
		wg.Wait()
		slices.Sort(lat)
		return lat[len(lat)/2], lat[len(lat)*99/100]
	}
	for b.Loop() {
		i50, i99 := run(false)
		f50, f99 := run(true)
		b.ReportMetric(float64(i50.Microseconds()), "µs-p50-idle")
		b.ReportMetric(float64(i99.Microseconds()), "µs-p99-idle")
		b.ReportMetric(float64(f50.Microseconds()), "µs-p50-flood")
		b.ReportMetric(float64(f99.Microseconds()), "µs-p99-flood")
	}
}

// ExampleAccounts serves two subaccounts of an emulator from one Accounts:
// each has its own quota, and one refuses its third Room while the other
// goes on.
func ExampleAccounts() {
	srv := videotest.NewServer(videotest.Options{})
	defer srv.Close()
	clinic, _ := srv.CreateAccount(videotest.AccountOptions{FriendlyName: "clinic", ConcurrentRooms: 2})
	school, _ := srv.CreateAccount(videotest.AccountOptions{FriendlyName: "school"})

	// The platform's own record of its customers' subaccounts.
	customers := map[string]video.Account{
		clinic.AccountSID(): {AuthToken: clinic.AuthToken(), Limits: quota.Limits{ConcurrentRooms: 2}},
		school.AccountSID(): {AuthToken: school.AuthToken()},
	}
	accounts, err := video.NewAccounts(func(ctx context.Context, sid string) (video.Account, error) {
		a, ok := customers[sid]
		if !ok {
			return video.Account{}, video.ErrUnknownAccount
		}
		return a, nil
	}, video.WithBaseURL(srv.URL()))
	if err != nil {
		panic(err)
	}
	defer accounts.Close()

	ctx := context.Background()
	for _, sid := range []string{clinic.AccountSID(), school.AccountSID()} {
		vq, _ := accounts.Client(ctx, sid)
		for range 3 {
			if _, err := vq.CreateRoom(ctx, room("")); err != nil {
				fmt.Println(errors.Is(err, quota.ErrExceeded))
			}
		}
		u := vq.Usage()
		fmt.Printf("%d of %d Rooms\n", u.Rooms.Used, u.Rooms.Limit)
	}
	// Output:
	// true
	// 2 of 2 Rooms
	// 3 of 10000 Rooms
}
