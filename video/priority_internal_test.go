package video

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
)

// acquireClient returns a Client whose write bucket never makes a caller
// wait, so that the benchmarks measure the acquire path itself.
func acquireClient(tb testing.TB, opts ...Option) *Client {
	tb.Helper()
	c, err := New("AC00000000000000000000000000000000", "token", append([]Option{
		WithLimits(quota.Limits{ReadsPerSecond: 1e9, WritesPerSecond: 1e9, ReadBurst: 1 << 20, WriteBurst: 1 << 20}),
	}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkAcquire compares, in one run, the rate-token acquire of a Client:
// the limiter alone (the acquire before priorities existed), a plain ctx,
// and a ctx with a priority and a tenant under a tenant policy.
func BenchmarkAcquire(b *testing.B) {
	c := acquireClient(b, WithTenantPolicy(func(string) TenantPolicy { return TenantPolicy{Weight: 2} }))
	req, _ := http.NewRequest(http.MethodPost, "https://video.twilio.com/v1/Rooms", nil)
	plain := context.Background()
	tagged := WithTenant(WithPriority(context.Background(), PriorityBackground), "acme")
	b.Run("limiter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.limiter.Wait(plain, quota.Write); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{{"plain", plain}, {"tagged", tagged}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.acquire(bc.ctx, quota.Write, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// ratio interleaves the three in one loop, in batches, so that drift of
	// a shared machine affects them alike, and reports tagged/plain and
	// plain/limiter.
	b.Run("ratio", func(b *testing.B) {
		const batch = 64
		var d [3]time.Duration
		for b.Loop() {
			for k := range 3 {
				start := time.Now()
				for range batch {
					var err error
					switch k {
					case 0:
						err = c.limiter.Wait(plain, quota.Write)
					case 1:
						err = c.acquire(plain, quota.Write, req)
					case 2:
						err = c.acquire(tagged, quota.Write, req)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				d[k] += time.Since(start)
			}
		}
		b.ReportMetric(float64(d[2])/float64(d[1]), "tagged/plain")
		b.ReportMetric(float64(d[1])/float64(d[0]), "plain/limiter")
	})
	// ratio-parallel is ratio with every caller contending: each goroutine
	// alternates batches of plain and tagged acquires, so that both meet
	// the same contention, and reports tagged/plain.
	b.Run("ratio-parallel", func(b *testing.B) {
		const batch = 64
		var plainNs, taggedNs atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for k := 0; pb.Next(); k++ {
				ctx, sum := plain, &plainNs
				if k%2 == 1 {
					ctx, sum = tagged, &taggedNs
				}
				start := time.Now()
				for range batch {
					if err := c.acquire(ctx, quota.Write, req); err != nil {
						b.Error(err)
						return
					}
				}
				sum.Add(int64(time.Since(start)))
			}
		})
		b.ReportMetric(float64(taggedNs.Load())/float64(plainNs.Load()), "tagged/plain")
	})
	b.Run("limiter-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := c.limiter.Wait(plain, quota.Write); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{{"plain-parallel", plain}, {"tagged-parallel", tagged}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.acquire(bc.ctx, quota.Write, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func TestAcquireFastPathAllocatesNothing(t *testing.T) {
	c := acquireClient(t, WithTenantPolicy(func(string) TenantPolicy { return TenantPolicy{Weight: 2} }))
	req, _ := http.NewRequest(http.MethodPost, "https://video.twilio.com/v1/Rooms", nil)
	ctx := WithTenant(WithPriority(context.Background(), PriorityBackground), "acme")
	if n := testing.AllocsPerRun(1000, func() {
		if err := c.acquire(ctx, quota.Write, req); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("acquire allocated %v times per call", n)
	}
}

func TestDefaultPriority(t *testing.T) {
	for _, tc := range []struct {
		method, path, body string
		want               Priority
	}{
		{"POST", "/v1/Rooms/RM123", "Status=completed", PriorityCritical},
		{"POST", "/v1/Rooms/my-room", "RecordParticipantsOnConnect=true&Status=completed", PriorityCritical},
		{"POST", "/v1/Rooms/RM123/Participants/PA1", "Status=disconnected", PriorityCritical},
		{"POST", "/v1/Rooms/RM123", "Status=in-progress", PriorityNormal},
		{"POST", "/v1/Rooms", "Status=completed", PriorityNormal},
		{"POST", "/v1/Rooms/RM123/Participants/PA1", "Status=completed", PriorityNormal},
		{"GET", "/v1/Rooms/RM123", "", PriorityNormal},
		{"POST", "/v1/Rooms/RM123/Recordings/RT1", "Status=completed", PriorityNormal},
	} {
		var body *strings.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		u := &url.URL{Scheme: "https", Host: "video.twilio.com", Path: tc.path}
		var req *http.Request
		if body != nil {
			req, _ = http.NewRequest(tc.method, u.String(), body)
		} else {
			req, _ = http.NewRequest(tc.method, u.String(), nil)
		}
		if got := defaultPriority(req); got != tc.want {
			t.Errorf("%s %s %q: %v, want %v", tc.method, tc.path, tc.body, got, tc.want)
		}
	}
}

func TestPriorityAndTenantOnCtx(t *testing.T) {
	ctx := WithTenant(WithPriority(context.Background(), PriorityCritical), "acme")
	if tag := tagOf(ctx); tag.prio != PriorityCritical || !tag.set || tag.tenant != "acme" {
		t.Errorf("tag %+v", tag)
	}
	ctx = WithPriority(ctx, 9)
	if tag := tagOf(ctx); tag.prio != PriorityBackground || tag.tenant != "acme" {
		t.Errorf("tag %+v after an out-of-range level", tag)
	}
	if tag := tagOf(backgroundLoop(WithPriority(context.Background(), PriorityNormal))); tag.prio != PriorityNormal {
		t.Errorf("a loop's explicit level was overridden: %+v", tag)
	}
	if tag := tagOf(backgroundLoop(context.Background())); tag.prio != PriorityBackground {
		t.Errorf("a loop without a level runs at %v", tag.prio)
	}
}
