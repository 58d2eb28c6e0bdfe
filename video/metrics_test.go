package video_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/memstore"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// metricsReader collects a ManualReader and looks series up by name and attributes.
type metricsReader struct {
	t  *testing.T
	r  *sdkmetric.ManualReader
	rm metricdata.ResourceMetrics
}

func (m *metricsReader) collect() {
	m.t.Helper()
	if err := m.r.Collect(context.Background(), &m.rm); err != nil {
		m.t.Fatalf("Collect: %v", err)
	}
}

func (m *metricsReader) find(name string) (metricdata.Metrics, bool) {
	for _, sm := range m.rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name == name {
				return mt, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// attrString renders an attribute set as "k=v,k=v", sorted by key.
func attrString(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// ints returns the int64 points of a Sum or Gauge by attributes.
func (m *metricsReader) ints(name string) map[string]int64 {
	m.t.Helper()
	mt, ok := m.find(name)
	if !ok {
		return nil
	}
	out := map[string]int64{}
	switch d := mt.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out[attrString(p.Attributes)] = p.Value
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out[attrString(p.Attributes)] = p.Value
		}
	default:
		m.t.Fatalf("%s: unexpected data %T", name, mt.Data)
	}
	return out
}

// floats returns the float64 points of a Gauge by attributes.
func (m *metricsReader) floats(name string) map[string]float64 {
	m.t.Helper()
	mt, ok := m.find(name)
	if !ok {
		return nil
	}
	d, ok := mt.Data.(metricdata.Gauge[float64])
	if !ok {
		m.t.Fatalf("%s: unexpected data %T", name, mt.Data)
	}
	out := map[string]float64{}
	for _, p := range d.DataPoints {
		out[attrString(p.Attributes)] = p.Value
	}
	return out
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// sidLike matches the Twilio SIDs and the emulator's credentials' shape.
var sidLike = regexp.MustCompile(`^[A-Z]{2}[0-9a-fA-F]{32}$`)

// TestMetrics runs a scripted scenario against the emulator and reads the
// Client's metrics through a ManualReader: every series matches what
// happened, counted independently (the emulator's own statistics, the
// threshold func, the Drift).
func TestMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m := &metricsReader{t: t, r: reader}

	var log eventLog
	// The emulator holds 10 Rooms; the Client believes in 12, so the 11th
	// create meets Twilio's 53119. Writes are paced at 50/s, reads unlimited.
	srv, vq := setup(t, videotest.Options{ConcurrentRooms: 10, ReadsPerSecond: -1, WritesPerSecond: -1, Seed: 7},
		video.WithMeterProvider(mp), video.WithThresholds(log.add), fastRetry(3),
		video.WithLimits(quota.Limits{ConcurrentRooms: 12, WritesPerSecond: 50, ReadsPerSecond: quota.Unlimited}))
	ctx := context.Background()

	// 1. The first create meets two 429s, then succeeds: 2 write retries, one throttle onset.
	srv.SetFaults(videotest.Faults{Force429: 2})
	var sids []string
	for i := range 10 {
		r, err := vq.CreateRoom(ctx, room(fmt.Sprintf("m-%d", i)))
		if err != nil {
			t.Fatalf("CreateRoom %d: %v", i, err)
		}
		sids = append(sids, *r.Sid)
	}
	// 2. Twilio refuses the 11th (53119): Rooms marked full, so the 12th is refused locally.
	if _, err := vq.CreateRoom(ctx, room("m-twilio-refuses")); err == nil {
		t.Fatal("11th room: want Twilio's 53119")
	}
	if _, err := vq.CreateRoom(ctx, room("m-local-refuses")); err == nil {
		t.Fatal("12th room: want a local refusal")
	}
	// 3. Three Rooms complete: 10 -> 7, under the 0.7 level of 12 (9) minus the hysteresis.
	for _, sid := range sids[:3] {
		if _, err := vq.UpdateRoom(ctx, sid, completed()); err != nil {
			t.Fatalf("UpdateRoom: %v", err)
		}
	}
	// 4. Callbacks: one status callback applied, delivered again, and forged; a
	// Debugger 53121 event delivered twice.
	token := srv.AuthToken()
	sh, ah := vq.StatusCallbackHandler(), vq.AlertHandler()
	const statusURL, alertURL = "http://example.test/status", "http://example.test/alerts"
	form := roomForm(srv.AccountSID(), video.EventParticipantConnected, sids[5], testPart, time.Now().UTC().Format(time.RFC3339))
	for i, want := range []int{200, 200, 403} {
		req := signedPost(token, statusURL, form)
		if i == 2 {
			req.Header.Set("X-Twilio-Signature", "forged")
		}
		w := httptest.NewRecorder()
		sh.ServeHTTP(w, req)
		if w.Code != want {
			t.Fatalf("status callback %d: %d, want %d", i, w.Code, want)
		}
	}
	alert := alertForm(srv.AccountSID(), "NO0123456789abcdef0123456789abcdef",
		`{"resource_sid":"`+sids[4]+`","error_code":"53121","more_info":{"resource":"rooms"}}`)
	for i := range 2 {
		w := httptest.NewRecorder()
		ah.ServeHTTP(w, signedPost(token, alertURL, alert))
		if w.Code != http.StatusOK {
			t.Fatalf("debugger event %d: %d", i, w.Code)
		}
	}
	// 5. A Room created behind the Client's back, then a reconcile: +1 Room,
	// -1 Participant (the callback's, which never connected to the emulator).
	if _, err := openapi.NewApiServiceWithClient(srv.Client()).CreateRoom(&openapi.CreateRoomParams{}); err != nil {
		t.Fatalf("direct CreateRoom: %v", err)
	}
	drift, err := vq.Reconcile(ctx)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if drift.Rooms.Added != 1 || drift.Participants.Removed != 1 {
		t.Fatalf("drift %v; want +1 room, -1 participant", drift)
	}
	// 6. A read meets one 429.
	srv.SetFaults(videotest.Faults{Force429: 1})
	if _, err := vq.FetchRoom(ctx, sids[4]); err != nil {
		t.Fatalf("FetchRoom: %v", err)
	}

	// Threshold events are counted on the ledger's goroutine: wait for them.
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.collect()
		if sum(m.ints("videoquota.threshold.events")) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := srv.Stats()

	check := func(name string, got map[string]int64, want map[string]int64) {
		t.Helper()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s{%s} = %d, want %d (all: %v)", name, k, got[k], v, got)
			}
		}
	}

	// Usage and limits.
	check("videoquota.concurrency.usage", m.ints("videoquota.concurrency.usage"), map[string]int64{
		"videoquota.resource=rooms": 8, "videoquota.resource=participants": 0})
	check("videoquota.concurrency.limit", m.ints("videoquota.concurrency.limit"), map[string]int64{
		"videoquota.resource=rooms": 12, "videoquota.resource=participants": int64(quota.DefaultLimits().ConcurrentParticipants)})
	check("videoquota.concurrency.full", m.ints("videoquota.concurrency.full"), map[string]int64{
		"videoquota.resource=rooms": 0, "videoquota.resource=participants": 0})
	if u := m.floats("videoquota.concurrency.utilization")["videoquota.resource=rooms"]; u != 8.0/12 {
		t.Errorf("rooms utilization %v, want 8/12", u)
	}
	if u := vq.Usage(); u.Rooms.Used != 8 || st.RoomsNow != 8 {
		t.Errorf("Usage rooms %d, emulator %d; the metrics say 8", u.Rooms.Used, st.RoomsNow)
	}

	// Requests by outcome, against the emulator's own count of responses.
	req := m.ints("videoquota.requests")
	var em2xx, em429, em4xx int64
	for code, n := range st.Requests {
		switch {
		case code < 400:
			em2xx += n
		case code == 429:
			em429 += n
		default:
			em4xx += n
		}
	}
	check("videoquota.requests", req, map[string]int64{
		"videoquota.outcome=throttled,videoquota.request.class=write":    2,
		"videoquota.outcome=throttled,videoquota.request.class=read":     1,
		"videoquota.outcome=error,videoquota.request.class=write":        1, // the 53119
		"videoquota.outcome=refused,videoquota.request.class=write":      0,
		"videoquota.outcome=network_error,videoquota.request.class=read": 0,
	})
	success := req["videoquota.outcome=success,videoquota.request.class=read"] + req["videoquota.outcome=success,videoquota.request.class=write"]
	if success != em2xx-1 || em429 != 3 || em4xx != 1 { // -1: the direct create
		t.Errorf("successful requests %d; the emulator answered %d 2xx (one not the Client's), %d 429, %d 4xx", success, em2xx, em429, em4xx)
	}
	// 10 creates + 3 completes succeeded as writes; the reads are the fetch and the reconcile's.
	check("videoquota.requests", req, map[string]int64{
		"videoquota.outcome=success,videoquota.request.class=write": 13,
		"videoquota.outcome=success,videoquota.request.class=read":  int64(1 + drift.Requests),
	})

	// Retries, throttle onsets, refusals.
	check("videoquota.retries", m.ints("videoquota.retries"), map[string]int64{
		"videoquota.request.class=write,videoquota.retry.cause=throttled": 2,
		"videoquota.request.class=read,videoquota.retry.cause=throttled":  1,
	})
	if n := sum(m.ints("videoquota.retries")); n != 3 || vq.Usage().Retries != 3 {
		t.Errorf("retries: metrics %d, Usage %d; want 3", n, vq.Usage().Retries)
	}
	check("videoquota.throttles", m.ints("videoquota.throttles"), map[string]int64{
		"videoquota.request.class=write": 1, "videoquota.request.class=read": 1})
	check("videoquota.concurrency.refusals", m.ints("videoquota.concurrency.refusals"), map[string]int64{
		"videoquota.resource=rooms,videoquota.source=local":         1,
		"videoquota.resource=rooms,videoquota.source=twilio":        1,
		"videoquota.resource=participants,videoquota.source=local":  0,
		"videoquota.resource=participants,videoquota.source=twilio": 0,
	})

	// Threshold events, matching what the application's func received.
	th := m.ints("videoquota.threshold.events")
	check("videoquota.threshold.events", th, map[string]int64{
		"videoquota.direction=rising,videoquota.resource=rooms,videoquota.source=local,videoquota.threshold.level=0.7,videoquota.twilio.code=53121":  1,
		"videoquota.direction=falling,videoquota.resource=rooms,videoquota.source=local,videoquota.threshold.level=0.7,videoquota.twilio.code=53121": 1,
		"videoquota.direction=rising,videoquota.resource=rooms,videoquota.source=twilio,videoquota.threshold.level=1,videoquota.twilio.code=53119":   1,
		// The listing shows room under the quota: the full episode ends.
		"videoquota.direction=falling,videoquota.resource=rooms,videoquota.source=reconcile,videoquota.threshold.level=1,videoquota.twilio.code=53119": 1,
		// Twilio's own 53121 for the crossing the ledger reported when it
		// reserved the slot (before the request) is not a second event.
		"videoquota.direction=rising,videoquota.resource=rooms,videoquota.source=twilio,videoquota.threshold.level=0.7,videoquota.twilio.code=53121": 0,
	})
	log.mu.Lock()
	if n := len(log.ev); int64(n) != sum(th) || n != 4 {
		t.Errorf("threshold func got %d events, metrics counted %d: %+v", n, sum(th), log.ev)
	}
	log.mu.Unlock()

	// Rates: the write bucket was slowed down by the 429s; reads are unlimited.
	rl := m.floats("videoquota.rate.limit")
	if rl["videoquota.request.class=write"] != 50 || len(rl) != 1 {
		t.Errorf("rate.limit %v; want write 50 only (reads unlimited)", rl)
	}
	f := m.floats("videoquota.rate.factor")
	if w := f["videoquota.request.class=write"]; !(w >= 0.9 && w < 1) { // 0.9: the adaptive rate's least cut per 429
		t.Errorf("write factor %v; want slowed down by the 429s", w)
	}
	if r := f["videoquota.request.class=read"]; r != 1 {
		t.Errorf("read factor %v; want 1: reads are unlimited, there is no bucket to slow", r)
	}
	est := m.floats("videoquota.rate.estimate")
	if w := est["videoquota.request.class=write"]; len(est) != 1 || math.Abs(w-50*f["videoquota.request.class=write"]) > 1e-9 {
		t.Errorf("rate.estimate %v; want write 50 x the write factor only (reads unlimited)", est)
	}
	mt, ok := m.find("videoquota.limiter.wait")
	if !ok {
		t.Fatal("no videoquota.limiter.wait")
	}
	h := mt.Data.(metricdata.Histogram[float64])
	if len(h.DataPoints) != 1 || attrString(h.DataPoints[0].Attributes) != "videoquota.request.class=write" {
		t.Fatalf("limiter.wait points %+v; want writes only (reads are unlimited)", h.DataPoints)
	}
	// 13 successful writes, 1 refused by Twilio, 2 throttled: 16 tokens at
	// 50/s (35/s once slowed) in a burst of 1 cannot all come at once.
	if p := h.DataPoints[0]; p.Count < 1 || p.Count > 16 || p.Sum <= 0 || mt.Unit != "s" {
		t.Errorf("limiter.wait: %d waits, %v s (unit %q); want 1..16 waits of positive time", p.Count, p.Sum, mt.Unit)
	}

	// Callbacks and reconciliation.
	check("videoquota.callbacks", m.ints("videoquota.callbacks"), map[string]int64{
		"videoquota.delivery=status_callback,videoquota.outcome=accepted":   1,
		"videoquota.delivery=status_callback,videoquota.outcome=duplicate":  1,
		"videoquota.delivery=status_callback,videoquota.outcome=rejected":   1,
		"videoquota.delivery=debugger_webhook,videoquota.outcome=accepted":  1,
		"videoquota.delivery=debugger_webhook,videoquota.outcome=duplicate": 1,
	})
	if n := sum(m.ints("videoquota.callbacks")); n != 5 {
		t.Errorf("%d callbacks counted, want 5", n)
	}
	check("videoquota.reconcile.runs", m.ints("videoquota.reconcile.runs"), map[string]int64{"": 1})
	driftSeries := m.ints("videoquota.reconcile.drift")
	check("videoquota.reconcile.drift", driftSeries, map[string]int64{
		"videoquota.direction=added,videoquota.resource=rooms":          1,
		"videoquota.direction=removed,videoquota.resource=rooms":        0,
		"videoquota.direction=added,videoquota.resource=participants":   0,
		"videoquota.direction=removed,videoquota.resource=participants": 1,
	})
	if len(driftSeries) != 4 {
		t.Errorf("drift series %v; want all four, zeros included", driftSeries)
	}
	if n := sum(m.ints("videoquota.reconcile.drift")); n != 2 {
		t.Errorf("drift total %d, want 2", n)
	}

	// No attribute carries a SID, an identity or a credential.
	keySID, keySecret := srv.APIKey()
	for _, sm := range m.rm.ScopeMetrics {
		if sm.Scope.Name != video.MeterName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, video.MeterName)
		}
		for _, mt := range sm.Metrics {
			for _, s := range pointAttrs(mt.Data) {
				for _, kv := range s.ToSlice() {
					v := kv.Value.String()
					if sidLike.MatchString(v) || v == token || v == keySID || v == keySecret || strings.Contains(v, "id-") {
						t.Errorf("%s: attribute %s=%q leaks an identifier", mt.Name, kv.Key, v)
					}
				}
			}
		}
	}

	// After Close the Client is no longer observed.
	vq.Close()
	m.collect()
	if got := m.ints("videoquota.concurrency.usage"); len(got) != 0 {
		t.Errorf("usage observed after Close: %v", got)
	}
}

func pointAttrs(d metricdata.Aggregation) []attribute.Set {
	var out []attribute.Set
	switch d := d.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	}
	return out
}

// TestMetricsOff: without a MeterProvider nothing is instrumented, and a nil
// provider is refused.
func TestMetricsOff(t *testing.T) {
	if _, err := video.New("AC0123456789abcdef0123456789abcdef", "token", video.WithMeterProvider(nil)); err == nil ||
		!strings.Contains(err.Error(), "WithMeterProvider") {
		t.Fatalf("nil MeterProvider: %v; want an error naming the option", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

// TestThrottleLogOnce: a run of 429s logs one line when throttling starts
// and one when it is over, not one per request.
func TestThrottleLogOnce(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Every 429 is attributed to the platform's concurrency limit (hint 1), so
	// the adaptive rate stays at 1 and recovery needs only a quiet interval.
	srv, vq := setup(t, videotest.Options{Seed: 3}, video.WithLogger(logger), video.WithConcurrencyHint(1), fastRetry(10))
	ctx := context.Background()
	const onset, recovery = "Twilio is throttling requests", "Twilio stopped throttling requests"

	srv.SetFaults(videotest.Faults{Force429: 6})
	r, err := vq.CreateRoom(ctx, room("log-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vq.CreateRoom(ctx, room("log-2")); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Throttled != 6 {
		t.Fatalf("emulator sent %d 429s, want 6", st.Throttled)
	}
	if n, m := buf.count(onset), buf.count(recovery); n != 1 || m != 0 {
		t.Fatalf("after 6 429s: %d onset and %d recovery lines, want 1 and 0:\n%s", n, m, buf.b.String())
	}
	time.Sleep(time.Second + 100*time.Millisecond) // one probe interval of the adaptive rate
	if _, err := vq.UpdateRoom(ctx, *r.Sid, completed()); err != nil {
		t.Fatal(err)
	}
	if _, err := vq.CreateRoom(ctx, room("log-3")); err != nil {
		t.Fatal(err)
	}
	if n, m := buf.count(onset), buf.count(recovery); n != 1 || m != 1 {
		t.Fatalf("after a quiet interval: %d onset and %d recovery lines, want 1 and 1:\n%s", n, m, buf.b.String())
	}
	if !strings.Contains(buf.b.String(), "throttled=6") || !strings.Contains(buf.b.String(), "cause=\"api concurrency limit\"") {
		t.Errorf("log lines lack the episode's 429 count or cause:\n%s", buf.b.String())
	}
	// A new run is a new episode.
	srv.SetFaults(videotest.Faults{Force429: 1})
	if _, err := vq.CreateRoom(ctx, room("log-4")); err != nil {
		t.Fatal(err)
	}
	if n := buf.count(onset); n != 2 {
		t.Fatalf("%d onset lines after a second run, want 2", n)
	}
	if n := buf.count("level=WARN"); n != 2 {
		t.Errorf("%d Warn lines, want the 2 onsets only:\n%s", n, buf.b.String())
	}
}

// Record the Client's metrics through an OpenTelemetry MeterProvider; here
// the SDK's with an in-memory reader, in production one with a Prometheus or
// OTLP exporter (see examples/metrics).
func ExampleWithMeterProvider() {
	srv := videotest.NewServer(videotest.Options{ConcurrentRooms: 10})
	defer srv.Close()

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithLimits(quota.Limits{ConcurrentRooms: 10}),
		video.WithMeterProvider(mp))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer vq.Close()
	for range 7 {
		if _, err := vq.CreateRoom(context.Background(), &openapi.CreateRoomParams{}); err != nil {
			fmt.Println(err)
			return
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch m.Name {
		case "videoquota.concurrency.usage", "videoquota.concurrency.limit":
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if r, _ := p.Attributes.Value(video.AttrResource); r.AsString() == "rooms" {
					fmt.Printf("%s{rooms} = %d %s\n", m.Name, p.Value, m.Unit)
				}
			}
		case "videoquota.requests":
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				o, _ := p.Attributes.Value(video.AttrOutcome)
				c, _ := p.Attributes.Value(video.AttrClass)
				if p.Value > 0 {
					fmt.Printf("%s{%s, %s} = %d\n", m.Name, c.AsString(), o.AsString(), p.Value)
				}
			}
		}
	}
	// Unordered output:
	// videoquota.concurrency.usage{rooms} = 7 {slot}
	// videoquota.concurrency.limit{rooms} = 10 {slot}
	// videoquota.requests{write, success} = 7
}

// BenchmarkMetrics measures FetchRoom against the loopback emulator with
// metrics off and on (the SDK with a ManualReader, collected every 1,000
// calls), interleaved so that drift of the machine affects both alike.
func BenchmarkMetrics(b *testing.B) {
	srv := videotest.NewServer(videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1})
	b.Cleanup(srv.Close)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	limits := video.WithLimits(quota.Limits{ReadsPerSecond: 1e9, WritesPerSecond: 1e9, ReadBurst: 1 << 20, WriteBurst: 1 << 20})
	mk := func(opts ...video.Option) *video.Client {
		vq, err := video.New(srv.AccountSID(), srv.AuthToken(), append([]video.Option{video.WithBaseURL(srv.URL()), limits}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { vq.Close() })
		return vq
	}
	off, on := mk(), mk(video.WithMeterProvider(mp))
	ctx := context.Background()
	r, err := off.CreateRoom(ctx, room("bench-metrics"))
	if err != nil {
		b.Fatal(err)
	}
	var tOff, tOn time.Duration
	var rm metricdata.ResourceMetrics
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := off.FetchRoom(ctx, *r.Sid); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := on.FetchRoom(ctx, *r.Sid); err != nil {
			b.Fatal(err)
		}
		tOff, tOn = tOff+t1.Sub(t0), tOn+time.Since(t1)
		if n++; n%1000 == 0 {
			_ = reader.Collect(ctx, &rm)
		}
	}
	b.ReportMetric(float64(tOff.Nanoseconds())/float64(n), "ns/call-off")
	b.ReportMetric(float64(tOn.Nanoseconds())/float64(n), "ns/call-on")
	b.ReportMetric(float64(tOn)/float64(tOff), "on/off")
}

// TestMetricsPendingAndAttributes: JoinToken reservations are reported
// pending, and WithMetricAttributes labels every series.
func TestMetricsPendingAndAttributes(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m := &metricsReader{t: t, r: reader}
	srv := videotest.NewServer(videotest.Options{})
	t.Cleanup(srv.Close)
	keySID, keySecret := srv.APIKey()
	vq := newClient(t, srv, video.WithAPIKey(keySID, keySecret), video.WithMeterProvider(mp),
		video.WithMetricAttributes(attribute.String("app", "lobby-service")))
	ctx := context.Background()
	for _, id := range []string{"alice", "alice", "bob"} {
		if _, err := vq.JoinToken(ctx, "lobby", id); err != nil {
			t.Fatalf("JoinToken(%s): %v", id, err)
		}
	}
	m.collect()
	want := map[string]int64{
		"app=lobby-service,videoquota.resource=rooms":        1,
		"app=lobby-service,videoquota.resource=participants": 2,
	}
	if got := m.ints("videoquota.reservations.pending"); len(got) != len(want) ||
		got["app=lobby-service,videoquota.resource=rooms"] != 1 ||
		got["app=lobby-service,videoquota.resource=participants"] != 2 {
		t.Errorf("reservations.pending %v, want %v", got, want)
	}
	if got := m.ints("videoquota.concurrency.usage"); got["app=lobby-service,videoquota.resource=participants"] != 2 {
		t.Errorf("usage %v; want the 2 reserved participants", got)
	}
	for _, sm := range m.rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			for _, s := range pointAttrs(mt.Data) {
				if v, ok := s.Value("app"); !ok || v.AsString() != "lobby-service" {
					t.Errorf("%s{%s} lacks app=lobby-service", mt.Name, attrString(s))
				}
			}
		}
	}
	if _, err := video.New(srv.AccountSID(), srv.AuthToken(),
		video.WithMetricAttributes(attribute.String("videoquota.resource", "x"))); err == nil {
		t.Error("WithMetricAttributes accepted a videoquota. key")
	}
}

// opaqueStore hides the store's backend.Inspector methods.
type opaqueStore struct{ backend.Store }

// TestMetricsTokensAndPending: with a store that implements backend.Inspector,
// videoquota.rate.tokens and videoquota.reservations.pending (and Usage)
// report the store's bucket and pending reservations; without one, tokens
// are absent and pending falls back to this Client's JoinToken reservations.
func TestMetricsTokensAndPending(t *testing.T) {
	ctx := context.Background()
	// The store's clock stands still: no token comes back, no reservation lapses.
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	store := memStore(t, memstore.WithClock(clockFunc(func() time.Time { return at })))
	limits := quota.Limits{WritesPerSecond: 1, WriteBurst: 5, ReadsPerSecond: quota.Unlimited}
	srv := videotest.NewServer(videotest.Options{})
	t.Cleanup(srv.Close)

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m := &metricsReader{t: t, r: reader}
	vq := newClient(t, srv, video.WithMeterProvider(mp), video.WithStore(store), video.WithLimits(limits))

	var rooms []string
	for i := range 2 {
		r, err := vq.CreateRoom(ctx, room(fmt.Sprintf("tokens-%d", i)))
		if err != nil {
			t.Fatalf("CreateRoom %d: %v", i, err)
		}
		rooms = append(rooms, *r.Sid)
	}
	for _, k := range []string{"k1", "k2"} {
		if err := vq.ReserveParticipant(ctx, k); err != nil {
			t.Fatalf("ReserveParticipant(%s): %v", k, err)
		}
	}
	m.collect()
	// Two creates took 2 of the 5 write tokens; reads are unlimited: no series.
	if got := m.floats("videoquota.rate.tokens"); len(got) != 1 || got["videoquota.request.class=write"] != 3 {
		t.Errorf("rate.tokens %v; want write 3 only", got)
	}
	if mt, _ := m.find("videoquota.rate.tokens"); mt.Unit != "{request}" {
		t.Errorf("rate.tokens unit %q, want {request}", mt.Unit)
	}
	pendingWant := func(when string, participants int64) {
		t.Helper()
		got := m.ints("videoquota.reservations.pending")
		if len(got) != 2 || got["videoquota.resource=rooms"] != 0 || got["videoquota.resource=participants"] != participants {
			t.Errorf("%s: reservations.pending %v; want rooms 0 (committed), participants %d", when, got, participants)
		}
	}
	pendingWant("2 reserved", 2)
	u := vq.Usage()
	if u.Writes.Tokens != 3 || u.Reads.Tokens != 0 || u.Participants.Pending != 2 || u.Participants.Used != 2 ||
		u.Rooms.Pending != 0 || u.Rooms.Used != 2 {
		t.Errorf("Usage: write tokens %v, read tokens %v, participants %d pending of %d used, rooms %d of %d; want 3, 0 (unlimited), 2 of 2, 0 of 2",
			u.Writes.Tokens, u.Reads.Tokens, u.Participants.Pending, u.Participants.Used, u.Rooms.Pending, u.Rooms.Used)
	}

	// Committing one reservation leaves one pending, two used.
	if err := vq.CommitParticipant(ctx, "k1", rooms[0], "PA0123456789abcdef0123456789abcdef"); err != nil {
		t.Fatalf("CommitParticipant: %v", err)
	}
	m.collect()
	pendingWant("1 committed", 1)
	if u := vq.Usage(); u.Participants.Pending != 1 || u.Participants.Used != 2 {
		t.Errorf("Usage after a commit: participants %d pending of %d used; want 1 of 2", u.Participants.Pending, u.Participants.Used)
	}

	// Another Client on the same store sees the bucket and the reservation:
	// pending is the store's, not only this Client's.
	reader2 := sdkmetric.NewManualReader()
	mp2 := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader2))
	t.Cleanup(func() { _ = mp2.Shutdown(context.Background()) })
	m2 := &metricsReader{t: t, r: reader2}
	newClient(t, srv, video.WithMeterProvider(mp2), video.WithStore(store), video.WithLimits(limits))
	m2.collect()
	if got := m2.ints("videoquota.reservations.pending")["videoquota.resource=participants"]; got != 1 {
		t.Errorf("second Client on the store: participants pending %d, want 1", got)
	}
	if got := m2.floats("videoquota.rate.tokens")["videoquota.request.class=write"]; got != 3 {
		t.Errorf("second Client on the store: write tokens %v, want 3", got)
	}

	// A store without backend.Inspector: no tokens series, zero in Usage, and
	// pending counts this Client's JoinToken reservations.
	reader3 := sdkmetric.NewManualReader()
	mp3 := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader3))
	t.Cleanup(func() { _ = mp3.Shutdown(context.Background()) })
	m3 := &metricsReader{t: t, r: reader3}
	keySID, keySecret := srv.APIKey()
	opaque := newClient(t, srv, video.WithAPIKey(keySID, keySecret), video.WithMeterProvider(mp3),
		video.WithStore(opaqueStore{memStore(t)}), video.WithLimits(limits))
	if err := opaque.ReserveParticipant(ctx, "k3"); err != nil {
		t.Fatalf("ReserveParticipant: %v", err)
	}
	if _, err := opaque.JoinToken(ctx, "lobby", "carol"); err != nil {
		t.Fatalf("JoinToken: %v", err)
	}
	m3.collect()
	if got := m3.floats("videoquota.rate.tokens"); len(got) != 0 {
		t.Errorf("rate.tokens without an Inspector: %v; want none", got)
	}
	if got := m3.ints("videoquota.reservations.pending"); got["videoquota.resource=participants"] != 1 || got["videoquota.resource=rooms"] != 1 {
		t.Errorf("reservations.pending without an Inspector: %v; want the JoinToken's 1 room and 1 participant", got)
	}
	if u := opaque.Usage(); u.Writes.Tokens != 0 || u.Participants.Pending != 0 || u.Participants.Used != 2 {
		t.Errorf("Usage without an Inspector: write tokens %v, participants %d pending of %d used; want 0, 0 of 2",
			u.Writes.Tokens, u.Participants.Pending, u.Participants.Used)
	}
}
