package video_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/forecast"
	"github.com/videoquota/videoquota/video"
)

// TestForecastHookAndMetric ramps Participants up and then holds them,
// in a bubble of fake time: the ForecastFunc is told once when the ramp
// comes within the horizon and once after it stops; the metric and Usage
// carry the forecast while it lasts, and not after.
func TestForecastHookAndMetric(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var got []quota.ForecastEvent
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer mp.Shutdown(context.Background())
		cfg := forecast.Config{Short: time.Minute, Long: 10 * time.Minute, Step: time.Second, Horizon: 5 * time.Minute}
		vq, err := video.New(testAccount, "token", video.WithBaseURL("http://127.0.0.1:1"),
			video.WithLimits(quota.Limits{ConcurrentParticipants: 2600}), video.WithMeterProvider(mp),
			video.WithForecast(func(e quota.ForecastEvent) {
				mu.Lock()
				got = append(got, e)
				mu.Unlock()
			}, cfg))
		if err != nil {
			t.Fatal(err)
		}
		defer vq.Close()
		ctx := context.Background()
		// 2 Participants a second for 20 minutes (2,400 of 2,600), then flat.
		var during forecast.Forecast
		for s := range 20 * 60 {
			for k := range 2 {
				if err := vq.HoldParticipant(ctx, roomSID(1), participantSID(2*s+k)); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(time.Second)
			if s == 19*60 {
				during = vq.Usage().Participants.Forecast
			}
		}
		synctest.Wait()
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		if !hasForecastPoint(rm) {
			t.Errorf("no videoquota.concurrency.forecast point during the ramp")
		}
		if !during.Rising || during.Earliest > 161*time.Second || during.Latest < 159*time.Second {
			t.Errorf("Usage forecast at 19 min: %+v, want 160 s (2,280 used, 320 left at 2/s)", during)
		}
		time.Sleep(15 * time.Minute) // flat
		synctest.Wait()
		mu.Lock()
		events := got
		mu.Unlock()
		if len(events) != 2 || !events[0].Exhausting || events[1].Exhausting || events[0].Resource != quota.Participants {
			t.Fatalf("forecast events %+v, want one onset and one end for participants", events)
		}
		if u := events[0].Used; u < 1990 || u > 2010 {
			t.Errorf("onset at %d Participants, want about 2,000 (5 minutes before 2,600 at 2/s)", u)
		}
		if f := vq.Usage().Participants.Forecast; f.Rising {
			t.Errorf("forecast on a flat line: %+v", f)
		}
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		if hasForecastPoint(rm) {
			t.Errorf("videoquota.concurrency.forecast reported on a flat line")
		}
		rep := vq.Status()
		var kinds []string
		for _, e := range rep.Events {
			kinds = append(kinds, e.Kind)
		}
		if k := strings.Join(kinds, " "); !strings.Contains(k, "forecast-start") || !strings.Contains(k, "forecast-end") {
			t.Errorf("status events %q lack the forecast episode", k)
		}
	})
}

func hasForecastPoint(rm metricdata.ResourceMetrics) bool {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if g, ok := m.Data.(metricdata.Gauge[float64]); ok && m.Name == "videoquota.concurrency.forecast" && len(g.DataPoints) > 0 {
				return true
			}
		}
	}
	return false
}
