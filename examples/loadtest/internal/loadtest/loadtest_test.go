package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/videoquota/videoquota/quota"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 100, 100 * time.Millisecond},
		{ms(hundred...), 0, 1 * time.Millisecond},
	} {
		if got := Percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("Percentile(%d values, %v) = %v, want %v", len(tc.in), tc.p, got, tc.want)
		}
	}
	var l Latencies
	for _, d := range ms(5, 1, 9, 3) {
		l.Add(d)
	}
	if s := l.Summary(); s.N != 4 || s.P50 != 3*time.Millisecond || s.Max != 9*time.Millisecond {
		t.Errorf("Summary = %+v", s)
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tl := NewTimeline(t0)
	tl.Add(t0.Add(-time.Second), 1) // before start: first bucket
	tl.Add(t0, 1)
	tl.Add(t0.Add(999*time.Millisecond), 1)
	tl.Add(t0.Add(time.Second), 2)
	tl.Add(t0.Add(3500*time.Millisecond), 5)
	got := tl.Buckets(6)
	want := []int64{3, 2, 0, 5, 0, 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Buckets = %v, want %v", got, want)
	}
	if r := SteadyRate(got, 1, 4); r != 7.0/3 {
		t.Errorf("SteadyRate(1, 4) = %v, want %v", r, 7.0/3)
	}
	if r := SteadyRate(got, 4, 2); r != 0 {
		t.Errorf("SteadyRate of an empty window = %v, want 0", r)
	}
}

func TestClassify(t *testing.T) {
	tw := func(code, status int) error { return &client.TwilioRestError{Code: code, Status: status} }
	for _, tc := range []struct {
		err  error
		want Kind
	}{
		{nil, OK},
		{tw(20429, 429), Rate429},
		{fmt.Errorf("wrapped: %w", tw(20429, 429)), Rate429},
		{&quota.RateLimitError{Cause: quota.CauseVideoRate, Err: tw(20429, 429)}, Rate429},
		{tw(53119, 400), Quota53119},
		{tw(53206, 400), Quota53119},
		{&quota.ExceededError{Resource: quota.Rooms, Source: quota.SourceLocal}, LocalRefusal},
		{&quota.ExceededError{Resource: quota.Rooms, Source: quota.SourceTwilio, Err: tw(53119, 400)}, Quota53119},
		{&quota.RateLimitError{Cause: quota.CauseLocalDeadline}, LocalRefusal},
		{context.Canceled, Cancelled},
		{tw(20404, 404), Other},
		{errors.New("boom"), Other},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestWriteChart(t *testing.T) {
	var buf bytes.Buffer
	series := []Series{
		{Name: "a", Color: Palette[0], Values: []float64{0, 40, 5, 0}},
		{Name: "b", Color: Palette[2], Values: []float64{20, 20, 20, 19}},
	}
	c := Chart{Title: "t", XLabel: "seconds", Width: 400, Height: 300, Panels: []Panel{
		{YLabel: "ops/s", RefValue: 20, RefLabel: "quota", Series: series},
	}}
	if err := WriteChart(&buf, c); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a valid PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 300 {
		t.Fatalf("size %v, want 400x300", b)
	}
	// Each series colour must appear in the image.
	for _, s := range series {
		found := false
		for y := 0; y < 300 && !found; y++ {
			for x := 0; x < 400 && !found; x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				found = uint8(r>>8) == s.Color.R && uint8(g>>8) == s.Color.G && uint8(b>>8) == s.Color.B
			}
		}
		if !found {
			t.Errorf("series %q colour not drawn", s.Name)
		}
	}
	if err := WriteChart(&buf, Chart{}); err == nil {
		t.Error("WriteChart with no series: want an error")
	}
	if err := WriteChart(&buf, Chart{Panels: c.Panels, Width: 10, Height: 10}); err == nil {
		t.Error("WriteChart 10x10: want an error")
	}
	// Two panels at the default size.
	buf.Reset()
	c.Width, c.Height = 0, 0
	c.Panels = append(c.Panels, Panel{YLabel: "429s/s", Series: []Series{{Name: "a", Color: Palette[0], Values: []float64{3, 0}}}})
	if err := WriteChart(&buf, c); err != nil {
		t.Fatal(err)
	}
	img, err = png.Decode(&buf)
	if err != nil || img.Bounds().Dy() != 840 {
		t.Fatalf("two panels: %v, %v; want a valid 960x840 PNG", img.Bounds(), err)
	}
}

func TestPace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var ran atomic.Int64
	acc, shed := Pace(ctx, 100, 4, func(context.Context) { ran.Add(1) })
	if acc != ran.Load() {
		t.Errorf("accepted %d, ran %d", acc, ran.Load())
	}
	// 100/s for 0.5 s is about 50 arrivals; allow for a slow, shared machine.
	if tot := acc + shed; tot < 30 || tot > 60 {
		t.Errorf("arrivals = %d, want about 50", tot)
	}
	// One worker stuck on a slow job sheds the arrivals that find it busy.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	acc, shed = Pace(ctx2, 100, 1, func(ctx context.Context) { <-ctx.Done() })
	if acc < 1 || acc > 2 || shed < 10 { // a second arrival may slip in as the run ends
		t.Errorf("blocked worker: accepted %d, shed %d; want 1 and many", acc, shed)
	}
}

func TestBatch(t *testing.T) {
	var seen [50]atomic.Int32
	Batch(context.Background(), 50, 8, func(_ context.Context, i int) { seen[i].Add(1) })
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("job %d ran %d times", i, n)
		}
	}
}

// TestRawAndNaive drives twilio-go's real client through Rewrite and Counter
// against a loopback server that answers 429 to the first three requests.
func TestRawAndNaive(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v1/Rooms/RM00000000000000000000000000000001" {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"code":20404,"message":"not found","status":404}`)
			return
		}
		if calls.Add(1) <= 3 {
			w.WriteHeader(429)
			fmt.Fprint(w, `{"code":20429,"message":"Too Many Requests","status":429}`)
			return
		}
		fmt.Fprint(w, `{"sid":"RM00000000000000000000000000000001","status":"in-progress"}`)
	}))
	defer srv.Close()

	cnt := NewCounter(http.DefaultTransport, time.Now())
	raw, err := NewRaw("AC00000000000000000000000000000001", "token", srv.URL, cnt)
	if err != nil {
		t.Fatal(err)
	}
	const sid = "RM00000000000000000000000000000001"
	if _, err := raw.FetchRoom(context.Background(), sid); Classify(err) != Rate429 {
		t.Fatalf("raw FetchRoom: %v, want a 20429", err)
	}
	n := &Naive{Next: raw, Base: time.Millisecond, Retries: 5}
	room, err := n.FetchRoom(context.Background(), sid)
	if err != nil || room.Sid == nil || *room.Sid != sid {
		t.Fatalf("naive FetchRoom = %v, %v", room, err)
	}
	if got := cnt.Stats(quota.Read); got.Sent != 4 || got.Throttled != 3 || got.OK != 1 {
		t.Errorf("counter = %+v, want 4 sent, 3 throttled, 1 ok", got)
	}
	// The retry gives up after Retries retries.
	calls.Store(-100)
	n.Retries = 2
	if _, err := n.FetchRoom(context.Background(), sid); Classify(err) != Rate429 {
		t.Fatalf("naive FetchRoom out of retries: %v, want a 20429", err)
	}
	if got := cnt.Stats(quota.Read).Sent; got != 7 {
		t.Errorf("sent %d requests, want 7 (1 + 2 retries more)", got)
	}
	var _ API = raw
	var _ API = n
}

func TestRecorderMerge(t *testing.T) {
	t0 := time.Now()
	a := NewRecorder(t0, "op")
	_ = a.Do("op", func() error { return nil })
	_ = a.Do("op", func() error { return &client.TwilioRestError{Code: 20429, Status: 429} })
	b := NewRecorder(t0, "op")
	b.Merge(a.Data(3))
	b.Merge(a.Data(3))
	if got := b.Count("op", OK); got != 2 {
		t.Errorf("merged OK = %d, want 2", got)
	}
	if got := b.Count("op", Rate429); got != 2 {
		t.Errorf("merged 20429 = %d, want 2", got)
	}
	if s := b.Latency("op"); s.N != 2 {
		t.Errorf("merged latencies = %d, want 2", s.N)
	}
	if got := b.Successes().Buckets(3); got[0] != 2 || len(got) != 3 {
		t.Errorf("merged successes = %v, want [2 0 0]", got)
	}
}
