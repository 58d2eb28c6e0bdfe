package video_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// capPolicy caps tenant "acme" at 4 Rooms (20% of the account's 20) and
// leaves every other tenant uncapped.
func capPolicy(tenant string) video.TenantPolicy {
	if tenant == "acme" {
		return video.TenantPolicy{Weight: 1, Limits: quota.Limits{ConcurrentRooms: 4}}
	}
	return video.TenantPolicy{}
}

// TestTenantRoomCap: two Clients on one store race to create Rooms for a
// tenant capped at 4: exactly 4 are created, the others are refused locally
// naming the tenant, another tenant proceeds, and completing one of the
// tenant's Rooms lets it create one more.
func TestTenantRoomCap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) backend.Store
	}{
		{"memory", func(t *testing.T) backend.Store { return memStore(t) }},
		{"redis", func(t *testing.T) backend.Store {
			srv := redistest.Start(t)
			st, err := redisstore.New(srv.Client(t))
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := videotest.NewServer(videotest.Options{})
			t.Cleanup(srv.Close)
			st := tc.store(t)
			opts := []video.Option{video.WithStore(st), video.WithTenantPolicy(capPolicy),
				video.WithLimits(quota.Limits{ConcurrentRooms: 20})}
			clients := [2]*video.Client{newClient(t, srv, opts...), newClient(t, srv, opts...)}
			acme := video.WithTenant(context.Background(), "acme")

			var mu sync.Mutex
			var created []string
			creator := map[string]*video.Client{}
			var refused int
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					r, err := clients[i%2].CreateRoom(acme, room(""))
					mu.Lock()
					defer mu.Unlock()
					var ex *quota.ExceededError
					switch {
					case err == nil:
						created = append(created, *r.Sid)
						creator[*r.Sid] = clients[i%2]
					case errors.As(err, &ex) && errors.Is(err, quota.ErrExceeded) && ex.Tenant == "acme" && ex.Limit == 4:
						refused++
					default:
						t.Errorf("CreateRoom: %v", err)
					}
				})
			}
			wg.Wait()
			if len(created) != 4 || refused != 12 {
				t.Fatalf("created %d and refused %d of 16; want 4 and 12", len(created), refused)
			}
			if u := clients[0].TenantUsage("acme"); u.Rooms != 4 || u.RoomsCap != 4 {
				t.Errorf("TenantUsage = %+v, want 4 of 4 Rooms", u)
			}
			if n := clients[0].TenantUsage("acme").Refused + clients[1].TenantUsage("acme").Refused; n != 12 {
				t.Errorf("refusals counted %d, want 12", n)
			}

			// Another tenant proceeds.
			other := video.WithTenant(context.Background(), "globex")
			for i := range 6 {
				if _, err := clients[i%2].CreateRoom(other, room("")); err != nil {
					t.Fatalf("other tenant refused: %v", err)
				}
			}

			// Completing one of acme's Rooms, through the Client that
			// created it, frees one of its slots (a Client knows the tenant
			// of the Rooms it created only).
			sid := created[0]
			if _, err := creator[sid].UpdateRoom(acme, sid, completed()); err != nil {
				t.Fatal(err)
			}
			if u := clients[0].TenantUsage("acme"); u.Rooms != 3 {
				t.Errorf("after a completion, acme holds %d Rooms, want 3", u.Rooms)
			}
			if _, err := clients[1].CreateRoom(acme, room("")); err != nil {
				t.Errorf("acme refused below its cap: %v", err)
			}
			if _, err := clients[0].CreateRoom(acme, room("")); !errors.Is(err, quota.ErrExceeded) {
				t.Errorf("acme at its cap again: %v, want ErrExceeded", err)
			}
		})
	}
}

// TestTenantShares: two tenants flood one Client from 40 and 10 goroutines
// (first come first served would split the writes about 80/20); the writes
// are shared by the tenants' weights instead. Counts, not times, are
// compared.
func TestTenantShares(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights [2]float64
		want    float64 // share of the first tenant
	}{
		{"weights 1:1", [2]float64{1, 1}, 0.5},
		{"weights 1:3", [2]float64{1, 3}, 0.25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			policy := func(tenant string) video.TenantPolicy {
				if tenant == "big" {
					return video.TenantPolicy{Weight: tc.weights[0]}
				}
				return video.TenantPolicy{Weight: tc.weights[1]}
			}
			_, vq := setup(t, videotest.Options{WritesPerSecond: -1}, video.WithTenantPolicy(policy),
				video.WithLimits(quota.Limits{WritesPerSecond: 100, WriteBurst: 1}))
			const total = 200
			var mu sync.Mutex
			var got [2]int
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			var wg sync.WaitGroup
			for i, n := range [2]int{40, 10} {
				tctx := video.WithTenant(ctx, [2]string{"big", "small"}[i])
				for range n {
					wg.Go(func() {
						for ctx.Err() == nil {
							_, err := vq.CreateRoom(tctx, room(""))
							if err != nil {
								continue
							}
							mu.Lock()
							got[i]++
							if got[0]+got[1] >= total {
								stop()
							}
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			share := float64(got[0]) / float64(got[0]+got[1])
			if share < tc.want-0.05 || share > tc.want+0.05 {
				t.Errorf("big got %d, small %d: share %.2f, want %.2f ± 0.05", got[0], got[1], share, tc.want)
			}
		})
	}
}
