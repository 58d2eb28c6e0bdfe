package backoff

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	cbackoff "github.com/cenkalti/backoff/v4"
)

func constRand(x float64) func() float64 { return func() float64 { return x } }

var throttled = Outcome{Method: "POST", StatusCode: 429, Code: 20429}

func TestFullJitterBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := &FullJitter{Base: 50 * time.Millisecond, Cap: 2 * time.Second, Rand: rng.Float64}
	ceilings := []time.Duration{50, 100, 200, 400, 800, 1600, 2000, 2000}
	for n, c := range ceilings {
		c *= time.Millisecond
		if got := b.Ceiling(n); got != c {
			t.Fatalf("Ceiling(%d) = %v, want %v", n, got, c)
		}
		lo, hi := c, time.Duration(0)
		for range 2000 {
			d := b.Delay(n)
			if d < 0 || d >= c {
				t.Fatalf("Delay(%d) = %v, outside [0, %v)", n, d, c)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// Full jitter spreads over the whole range, not a band near the ceiling.
		if lo > c/20 || hi < c-c/20 {
			t.Errorf("retry %d: samples span [%v, %v], want about [0, %v)", n, lo, hi, c)
		}
	}
}

func TestFullJitterEdges(t *testing.T) {
	tests := []struct {
		name  string
		b     FullJitter
		retry int
		want  time.Duration
	}{
		{"half", FullJitter{Base: 100 * time.Millisecond, Cap: time.Second, Rand: constRand(0.5)}, 2, 200 * time.Millisecond},
		{"rand 1 is the ceiling", FullJitter{Base: 100 * time.Millisecond, Cap: time.Second, Rand: constRand(1)}, 1, 200 * time.Millisecond},
		{"rand above 1 clamps", FullJitter{Base: 100 * time.Millisecond, Cap: time.Second, Rand: constRand(7)}, 0, 100 * time.Millisecond},
		{"negative rand is 0", FullJitter{Base: 100 * time.Millisecond, Cap: time.Second, Rand: constRand(-1)}, 3, 0},
		{"NaN rand is 0", FullJitter{Base: 100 * time.Millisecond, Cap: time.Second, Rand: constRand(math.NaN())}, 3, 0},
		{"capped", FullJitter{Base: 100 * time.Millisecond, Cap: time.Second, Rand: constRand(1)}, 5, time.Second},
		{"huge retry does not overflow", FullJitter{Base: 100 * time.Millisecond, Cap: time.Second, Rand: constRand(1)}, 1000, time.Second},
		{"shift overflow", FullJitter{Base: time.Hour, Cap: math.MaxInt64, Rand: constRand(1)}, 40, math.MaxInt64},
		{"zero fields take defaults", FullJitter{Rand: constRand(1)}, 0, DefaultBase},
		{"zero fields take default cap", FullJitter{Rand: constRand(1)}, 30, DefaultCap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.Delay(tt.retry); got != tt.want {
				t.Errorf("Delay(%d) = %v, want %v", tt.retry, got, tt.want)
			}
		})
	}
}

func TestFullJitterIsACbackoffBackOff(t *testing.T) {
	var b cbackoff.BackOff = &FullJitter{Base: 10 * time.Millisecond, Cap: 50 * time.Millisecond, Rand: constRand(1)}
	want := []time.Duration{10, 20, 40, 50, 50}
	for i, w := range want {
		if got := b.NextBackOff(); got != w*time.Millisecond {
			t.Fatalf("call %d: NextBackOff = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	b.Reset()
	if got := b.NextBackOff(); got != 10*time.Millisecond {
		t.Fatalf("after Reset: NextBackOff = %v, want 10ms", got)
	}
}

func TestPolicyBackOffWithRetryNotify(t *testing.T) {
	p := Policy{Base: time.Microsecond, Cap: 4 * time.Microsecond, MaxRetries: 3, Rand: constRand(1)}
	fail := errors.New("still failing")
	var calls int
	var waits []time.Duration
	err := cbackoff.RetryNotify(func() error { calls++; return fail }, p.BackOff(),
		func(_ error, d time.Duration) { waits = append(waits, d) })
	if !errors.Is(err, fail) || calls != 4 {
		t.Fatalf("RetryNotify = %v after %d calls, want %v after 4", err, calls, fail)
	}
	want := []time.Duration{time.Microsecond, 2 * time.Microsecond, 4 * time.Microsecond}
	if len(waits) != len(want) {
		t.Fatalf("waits = %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits = %v, want %v", waits, want)
		}
	}
	calls = 0
	_ = cbackoff.Retry(func() error { calls++; return fail }, NoRetry().BackOff())
	if calls != 1 {
		t.Errorf("NoRetry().BackOff() made %d calls, want 1", calls)
	}
}

func TestNextRetryAfter(t *testing.T) {
	tests := []struct {
		name          string
		rnd           float64
		maxRetryAfter time.Duration
		retryAfter    time.Duration
		want          time.Duration
	}{
		{"no Retry-After: jitter", 0.5, 0, 0, 25 * time.Millisecond},
		{"Retry-After is a floor", 0.5, 0, 3 * time.Second, 3 * time.Second},
		{"jitter above a small Retry-After wins", 1, 0, 10 * time.Millisecond, 50 * time.Millisecond},
		{"huge Retry-After capped by default", 0, 0, maxDuration, DefaultMaxRetryAfter},
		{"huge Retry-After capped by policy", 0, 5 * time.Second, 484289 * time.Hour, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Policy{Rand: constRand(tt.rnd), MaxRetryAfter: tt.maxRetryAfter}.Start()
			o := throttled
			o.RetryAfter = tt.retryAfter
			wait, retry, err := r.Next(o)
			if err != nil || !retry || wait != tt.want {
				t.Errorf("Next = %v, %v, %v; want %v, true, nil", wait, retry, err, tt.want)
			}
		})
	}
}

type twilioErr struct{ code int }

func (e *twilioErr) Error() string { return "twilio error" }

func TestMaxAttempts(t *testing.T) {
	p := Policy{MaxRetries: 3, Rand: constRand(1), Base: time.Millisecond, Cap: time.Second}
	r := p.Start()
	for i := range 3 {
		wait, retry, err := r.Next(throttled)
		if err != nil || !retry {
			t.Fatalf("retry %d: Next = %v, %v, %v", i, wait, retry, err)
		}
		if want := time.Millisecond << i; wait != want {
			t.Errorf("retry %d: wait %v, want %v", i, wait, want)
		}
		if r.Attempts() != i+2 || r.LastReason() != ReasonThrottled {
			t.Errorf("retry %d: Attempts %d, LastReason %v", i, r.Attempts(), r.LastReason())
		}
	}
	last := throttled
	last.Err = &twilioErr{code: 20429}
	_, retry, err := r.Next(last)
	if retry {
		t.Fatal("Next granted a 4th retry with MaxRetries 3")
	}
	var mae *MaxAttemptsError
	if !errors.As(err, &mae) || mae.Attempts != 4 {
		t.Fatalf("err = %v, want *MaxAttemptsError with 4 attempts", err)
	}
	var te *twilioErr
	if !errors.As(err, &te) || te != last.Err || errors.Unwrap(err) != last.Err {
		t.Fatalf("errors.As/Unwrap did not reach the last cause: %v", err)
	}

	// Without an Err, the cause is a *StatusError describing the response.
	r = Policy{MaxRetries: 1}.Start()
	r.Next(throttled)
	_, _, err = r.Next(Outcome{Method: "GET", StatusCode: 503})
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 503 || se.Method != "GET" {
		t.Fatalf("err = %v, want the 503 as a *StatusError", err)
	}
	if want := "backoff: giving up after 2 attempts: backoff: GET answered HTTP 503"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestNotRetryable(t *testing.T) {
	b := NewBudget(100)
	for name, p := range map[string]Policy{"default": {Budget: b}, "NoRetry": NoRetry()} {
		r := p.Start()
		for _, o := range []Outcome{{Method: "POST", StatusCode: 400}, {Method: "GET", Err: context.Canceled}} {
			if wait, retry, err := r.Next(o); wait != 0 || retry || err != nil {
				t.Errorf("%s: Next(%+v) = %v, %v, %v; want 0, false, nil", name, o, wait, retry, err)
			}
		}
	}
	r := NoRetry().Start()
	if wait, retry, err := r.Next(throttled); wait != 0 || retry || err != nil {
		t.Errorf("NoRetry: Next(429) = %v, %v, %v; want 0, false, nil", wait, retry, err)
	}
	if b.Available() != 100 {
		t.Errorf("non-retryable outcomes took budget: %d left of 100", b.Available())
	}
}

func TestCustomCheckRetry(t *testing.T) {
	p := Policy{CheckRetry: func(o Outcome) Reason {
		if o.StatusCode == 409 {
			return ReasonServer
		}
		return ReasonNone
	}}
	r := p.Start()
	if _, retry, _ := r.Next(Outcome{StatusCode: 409}); !retry {
		t.Error("custom CheckRetry ignored for 409")
	}
	if _, retry, _ := r.Next(throttled); retry {
		t.Error("custom CheckRetry ignored for 429")
	}
}

func TestBudgetConcurrency(t *testing.T) {
	const capacity, callers = 50, 30 // 50 tokens pay for 10 throttle retries
	b := NewBudget(capacity)
	p := Policy{Budget: b, Base: time.Nanosecond}

	var (
		mu        sync.Mutex
		granted   []*Retrier
		exhausted int
		wg        sync.WaitGroup
		start     = make(chan struct{})
	)
	for range callers {
		wg.Go(func() {
			<-start
			r := p.Start()
			_, retry, err := r.Next(throttled)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case retry && err == nil:
				granted = append(granted, &r)
			case errors.Is(err, ErrBudgetExhausted):
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != 429 {
					t.Errorf("budget error does not wrap the cause: %v", err)
				}
				exhausted++
			default:
				t.Errorf("Next = %v, %v", retry, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(granted) != capacity/ThrottleRetryCost || exhausted != callers-capacity/ThrottleRetryCost || b.Available() != 0 {
		t.Fatalf("granted %d, exhausted %d, available %d; want %d, %d, 0",
			len(granted), exhausted, b.Available(), capacity/ThrottleRetryCost, callers-capacity/ThrottleRetryCost)
	}

	// Dry: nothing is retried, server errors included.
	r := p.Start()
	if _, retry, err := r.Next(Outcome{Method: "GET", StatusCode: 503}); retry || !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("dry budget: Next(503 GET) = %v, %v", retry, err)
	}

	// First-attempt successes refill one token each, concurrently.
	for range ThrottleRetryCost {
		wg.Go(func() { r := p.Start(); r.Succeeded() })
	}
	wg.Wait()
	if b.Available() != ThrottleRetryCost {
		t.Fatalf("after %d successes: available %d", ThrottleRetryCost, b.Available())
	}
	r = p.Start()
	if _, retry, err := r.Next(throttled); !retry || err != nil {
		t.Fatalf("refilled budget refused a retry: %v", err)
	}
	if b.Available() != 0 {
		t.Fatalf("available %d after the retry, want 0", b.Available())
	}

	// Successes after a retry give the retry's cost back, never past capacity.
	for _, g := range granted {
		wg.Go(func() { g.Succeeded(); g.Succeeded() })
	}
	wg.Wait()
	if b.Available() != capacity {
		t.Fatalf("after refunds: available %d, want %d", b.Available(), capacity)
	}
}

func TestBudgetCosts(t *testing.T) {
	b := NewBudget(1000)
	p := Policy{Budget: b}
	r := p.Start()
	r.Next(throttled)
	r.Next(Outcome{Method: "GET", StatusCode: 502})
	r.Next(Outcome{Method: "GET", Err: errors.New("connection reset")})
	if want := 1000 - ThrottleRetryCost - 2*RetryCost; b.Available() != want {
		t.Fatalf("available %d, want %d", b.Available(), want)
	}
	r.Succeeded()
	r.Succeeded() // no double refund
	if want := 1000 - ThrottleRetryCost - RetryCost; b.Available() != want {
		t.Fatalf("after success: available %d, want %d (last retry's cost back, once)", b.Available(), want)
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		time.AfterFunc(10*time.Millisecond, cancel)
		if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep = %v, want context.Canceled", err)
		}
		if got := time.Since(start); got != 10*time.Millisecond {
			t.Fatalf("Sleep returned after %v, want at the cancel (10ms)", got)
		}

		dctx, dcancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		defer dcancel()
		start = time.Now()
		// A wait that would outlast the deadline fails at once.
		if err := Sleep(dctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Sleep = %v, want context.DeadlineExceeded", err)
		}
		if got := time.Since(start); got != 0 {
			t.Fatalf("Sleep waited %v for a wait past the deadline, want 0", got)
		}
		// A wait inside the deadline sleeps in full.
		if err := Sleep(dctx, 20*time.Millisecond); err != nil {
			t.Fatalf("Sleep inside the deadline = %v, want nil", err)
		}
		if got := time.Since(start); got != 20*time.Millisecond {
			t.Fatalf("Sleep slept %v, want 20ms", got)
		}
		// Cancelled by the deadline while sleeping (the deadline moved closer).
		time.Sleep(10*time.Millisecond - 1) // 1ns before the deadline
		if err := Sleep(dctx, time.Nanosecond); err != nil {
			t.Fatalf("Sleep(1ns) just inside the deadline = %v, want nil", err)
		}
		if err := Sleep(dctx, time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Sleep after the deadline = %v, want context.DeadlineExceeded", err)
		}

		start = time.Now()
		if err := Sleep(t.Context(), 250*time.Millisecond); err != nil {
			t.Fatalf("Sleep = %v, want nil", err)
		}
		if got := time.Since(start); got != 250*time.Millisecond {
			t.Fatalf("Sleep slept %v, want 250ms", got)
		}

		if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep(done ctx, 0) = %v, want context.Canceled", err)
		}
		if err := Sleep(t.Context(), -time.Second); err != nil {
			t.Fatalf("Sleep(ctx, negative) = %v, want nil", err)
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		p     Policy
		field string // "" = valid
	}{
		{"zero", Policy{}, ""},
		{"default", DefaultPolicy(), ""},
		{"NoRetry", NoRetry(), ""},
		{"equal base and cap", Policy{Base: time.Second, Cap: time.Second}, ""},
		{"negative Base", Policy{Base: -time.Millisecond}, "Base"},
		{"negative Cap", Policy{Cap: -1}, "Cap"},
		{"Cap below Base", Policy{Base: time.Second, Cap: time.Millisecond}, "Cap"},
		{"Base above default Cap", Policy{Base: time.Minute}, "Cap"},
		{"MaxRetries below NoRetries", Policy{MaxRetries: -2}, "MaxRetries"},
		{"negative MaxRetryAfter", Policy{MaxRetryAfter: -time.Second}, "MaxRetryAfter"},
		{"zero Budget", Policy{Budget: &Budget{}}, "Budget"},
		{"empty Budget", Policy{Budget: NewBudget(0)}, "Budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Field != tt.field {
				t.Fatalf("Validate = %v, want a *PolicyError naming %s", err, tt.field)
			}
			if want := "Policy." + tt.field + ":"; !contains(err.Error(), want) {
				t.Errorf("message %q does not name %s", err.Error(), want)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestStartSucceededDoesNotAllocate(t *testing.T) {
	p := DefaultPolicy()
	allocs := testing.AllocsPerRun(1000, func() {
		r := p.Start()
		r.Succeeded()
	})
	if allocs != 0 {
		t.Errorf("Start+Succeeded allocates %v times, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(1000, func() {
		r := p.Start()
		r.Next(throttled)
		r.Succeeded()
	})
	if allocs != 0 {
		t.Errorf("Start+Next+Succeeded allocates %v times, want 0", allocs)
	}
}

func TestZeroRetrier(t *testing.T) {
	var r Retrier
	for i := range DefaultMaxRetries {
		wait, retry, err := r.Next(throttled)
		if !retry || err != nil || wait < 0 || wait >= DefaultCap {
			t.Fatalf("retry %d: Next = %v, %v, %v", i, wait, retry, err)
		}
	}
	if _, _, err := r.Next(throttled); !errors.As(err, new(*MaxAttemptsError)) {
		t.Fatalf("after %d retries: err = %v, want *MaxAttemptsError", DefaultMaxRetries, err)
	}
	var z Retrier
	z.Succeeded() // no budget, no panic
	if z.Attempts() != 1 {
		t.Fatalf("zero Retrier: Attempts = %d, want 1", z.Attempts())
	}
}
