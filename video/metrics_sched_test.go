package video_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestMetricsPriorityAndTenant: callers queued behind a background flood
// are counted by class and priority, and refusals at a tenant's cap by
// tenant, apart from the waits.
func TestMetricsPriorityAndTenant(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m := &metricsReader{t: t, r: reader}
	_, vq := setup(t, videotest.Options{WritesPerSecond: 50}, video.WithMeterProvider(mp),
		video.WithTenantPolicy(capPolicy),
		video.WithLimits(quota.Limits{WritesPerSecond: 50, WriteBurst: 1, ConcurrentRooms: 20}))
	bg := video.WithTenant(video.WithPriority(context.Background(), video.PriorityBackground), "acme")
	var wg sync.WaitGroup
	var refused, created int
	var mu sync.Mutex
	for range 8 {
		wg.Go(func() {
			_, err := vq.CreateRoom(bg, room(""))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case errors.Is(err, quota.ErrExceeded):
				refused++
			default:
				t.Error(err)
			}
		})
	}
	other := video.WithTenant(video.WithPriority(context.Background(), video.PriorityBackground), "globex")
	for range 10 {
		wg.Go(func() {
			if _, err := vq.CreateRoom(other, room("")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if created != 4 || refused != 4 {
		t.Fatalf("created %d, refused %d; want 4 and 4", created, refused)
	}
	m.collect()
	queued := m.ints("videoquota.rate.queued")
	if queued["videoquota.outcome=granted,videoquota.priority=background,videoquota.request.class=write"] == 0 {
		t.Errorf("no background write counted as queued: %v", queued)
	}
	if n := queued["videoquota.outcome=granted,videoquota.priority=critical,videoquota.request.class=write"]; n != 0 {
		t.Errorf("%d critical writes counted; none was made", n)
	}
	tq := m.ints("videoquota.tenant.rate.queued")
	if tq["videoquota.outcome=granted,videoquota.request.class=write,videoquota.tenant=globex"] == 0 {
		t.Errorf("no write of globex counted as queued: %v", tq)
	}
	if n := m.ints("videoquota.rate.refusals")["videoquota.priority=background,videoquota.request.class=write"]; n != 0 {
		t.Errorf("%d background writes counted as refused a token; none was", n)
	}
	if got := m.ints("videoquota.tenant.refusals")["videoquota.tenant=acme"]; got != 4 {
		t.Errorf("tenant refusals = %d, want 4", got)
	}
}
