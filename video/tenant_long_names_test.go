package video_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestLongTenantNamesKeptShort: 20 callers with tenant names of 100 KB
// each (taken from a request, say) wait for write tokens. What the Client
// keeps of them, and shows in Usage and the metrics' tenant attribute, is
// at most MaxTenantName bytes per tenant, still telling them apart.
func TestLongTenantNamesKeptShort(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: -1, ReadsPerSecond: -1})
	t.Cleanup(srv.Close)
	vq := newClient(t, srv, video.WithStore(memStore(t)),
		video.WithLimits(quota.Limits{WritesPerSecond: 100, WriteBurst: 1, ReadsPerSecond: quota.Unlimited}))
	const callers = 20
	var wg sync.WaitGroup
	for i := range callers {
		name := strings.Repeat("x", 100<<10) + fmt.Sprint(i)
		wg.Go(func() {
			if _, err := vq.CreateRoom(video.WithTenant(context.Background(), name), room("")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	tenants := vq.Usage().Writes.Tenants
	if len(tenants) == 0 {
		t.Fatal("no tenant waited: the test made no contention")
	}
	seen := map[string]bool{}
	for _, tu := range tenants {
		if len(tu.Name) > video.MaxTenantName {
			t.Errorf("Usage names a tenant with %d bytes, more than MaxTenantName (%d)", len(tu.Name), video.MaxTenantName)
		}
		if seen[tu.Name] {
			t.Errorf("two tenants shown under one name %.40q", tu.Name)
		}
		seen[tu.Name] = true
	}
	t.Logf("%d tenants shown in Usage", len(tenants))
}
