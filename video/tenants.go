package video

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/video/internal/sched"
)

// MaxTenantName is the longest tenant name, in bytes, that a Room or
// Participant reservation for a tenant with a cap accepts; a longer one is
// a *[ValidationError] whose Param is "tenant".
const MaxTenantName = 128

// maxTenantKeys bounds how many slot keys the Client remembers the tenant of.
// Past it, a slot is still counted against its tenant's cap, but only a
// release through a key remembered gives it back early; the others lapse with
// the store's holding TTL ([quota.MaxHold]).
const maxTenantKeys = 1 << 16

// maxTenantStats bounds the tenants whose refusals are counted by name; the
// others are counted together under sched.OtherTenants.
const maxTenantStats = 256

// tenantSlots keeps the tenants' caps on concurrent Rooms and Participants:
// each tenant with a cap has its own ledger account in the Client's store,
// "<AccountSID>/tenant/<tenant>", whose limits are the tenant's. A slot is
// reserved there first, then in the account's ledger (the tenant's slot is
// given back if the account refuses); commits and releases go to both. The
// store decides each step atomically, so the caps hold across every Client
// of a shared store.
//
// Commits and releases carry no tenant (a status callback has no ctx of the
// caller's): the Client remembers the tenant of each slot key it reserved
// (up to maxTenantKeys) and follows it from the reservation key to the SID
// it is committed under. A slot reserved by another Client of the store and
// ended through this one's callback is not known here: its tenant slot stays
// until the holding's TTL.
type tenantSlots struct {
	c *Client

	mu      sync.Mutex
	keys    map[string]string // slot key (reservation key or SID) → tenant
	refused map[string]int64  // tenant → local refusals for its cap; sched.OtherTenants for the rest
}

// tenantAccount is the ledger account of tenant's caps.
func (c *Client) tenantAccount(tenant string) string {
	return c.accountSID + "/tenant/" + tenant
}

// tenantCap returns tenant's cap on res, 0 when it has none.
func (c *Client) tenantCap(tenant string, res quota.Resource) int {
	if tenant == "" || c.tenantPolicy == nil {
		return 0
	}
	return max(c.policy(tenant).Limits.Concurrency(res), 0)
}

// reserve reserves key's slot of res for ctx's tenant (if it has a cap on
// res), then in the account's ledger through account; a tenant at its cap
// is refused with a *quota.ExceededError naming it.
func (t *tenantSlots) reserve(ctx context.Context, res quota.Resource, key string, ttl time.Duration,
	account func(context.Context, quota.Resource, string, time.Duration) error) error {
	tenant := tagOf(ctx).tenant
	limit := t.c.tenantCap(tenant, res)
	if limit == 0 {
		return account(ctx, res, key, ttl)
	}
	if len(tenant) > MaxTenantName {
		return &ValidationError{Param: "tenant", Value: shorten(tenant),
			Reason: fmt.Sprintf("a name of %d bytes, longer than MaxTenantName (%d)", len(tenant), MaxTenantName)}
	}
	b := &backend.Bounds{Limit: limit, Hysteresis: 1}
	c, err := t.c.store.Reserve(ctx, t.c.tenantAccount(tenant), backend.Resource(res), key, b, ttl)
	if err == nil && c.Refused {
		t.countRefusal(tenant)
		return &quota.ExceededError{Resource: res, Used: c.Used, Limit: limit, Code: res.ExceededCode(),
			Source: quota.SourceLocal, Tenant: tenant}
	}
	if err != nil {
		return err
	}
	if err := account(ctx, res, key, ttl); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_, _ = t.c.store.Release(rctx, t.c.tenantAccount(tenant), backend.Resource(res), key, b) // best effort: it lapses after ttl anyway
		return err
	}
	t.mu.Lock()
	if t.keys == nil {
		t.keys = make(map[string]string)
	}
	if len(t.keys) < maxTenantKeys {
		t.keys[key] = tenant
	}
	t.mu.Unlock()
	return nil
}

// commit moves the tenant slot reserved under key to holdKey.
func (t *tenantSlots) commit(ctx context.Context, res quota.Resource, key, holdKey string) {
	t.mu.Lock()
	tenant, ok := t.keys[key]
	if ok {
		delete(t.keys, key)
		t.keys[holdKey] = tenant
	}
	t.mu.Unlock()
	if !ok {
		return
	}
	b := &backend.Bounds{Limit: max(t.c.tenantCap(tenant, res), 1), Hysteresis: 1}
	if _, err := t.c.store.Commit(ctx, t.c.tenantAccount(tenant), backend.Resource(res), key, holdKey, b, quota.MaxHold); err != nil {
		t.c.logWarn(ctx, "committing a tenant slot failed", err, "tenant", tenant, "resource", res.String())
	}
}

// release gives back the tenant slot under key, if this Client knows it.
func (t *tenantSlots) release(ctx context.Context, res quota.Resource, key string) {
	t.mu.Lock()
	tenant, ok := t.keys[key]
	delete(t.keys, key)
	t.mu.Unlock()
	if !ok {
		return
	}
	b := &backend.Bounds{Limit: max(t.c.tenantCap(tenant, res), 1), Hysteresis: 1}
	if _, err := t.c.store.Release(context.WithoutCancel(ctx), t.c.tenantAccount(tenant), backend.Resource(res), key, b); err != nil {
		t.c.logWarn(ctx, "releasing a tenant slot failed", err, "tenant", tenant, "resource", res.String())
	}
}

func (t *tenantSlots) countRefusal(tenant string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refused == nil {
		t.refused = make(map[string]int64)
	}
	if _, ok := t.refused[tenant]; !ok && len(t.refused) >= maxTenantStats {
		tenant = sched.OtherTenants
	}
	t.refused[tenant]++
}

// tenantCount is one tenant's count of refusals at its cap.
type tenantCount struct {
	tenant string
	n      int64
}

// top returns the refusals at their caps of the n tenants refused most
// (ties by name), then the others' sum under sched.OtherTenants.
func (t *tenantSlots) top(n int) []tenantCount {
	t.mu.Lock()
	all := make([]tenantCount, 0, len(t.refused))
	for tenant, k := range t.refused {
		all = append(all, tenantCount{tenant, k})
	}
	t.mu.Unlock()
	slices.SortFunc(all, func(a, b tenantCount) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.tenant, b.tenant)) })
	if len(all) <= n {
		return all
	}
	other := tenantCount{tenant: sched.OtherTenants}
	for _, c := range all[n:] {
		other.n += c.n
	}
	return append(all[:n], other)
}

// TenantUsage is what one tenant uses of its caps; see [Client.TenantUsage].
type TenantUsage struct {
	Tenant          string
	Rooms           int   // Rooms the tenant holds or has reserved (store-wide); 0 without a cap
	Participants    int   // Participants likewise
	RoomsCap        int   // the tenant's cap on Rooms; 0 is none
	ParticipantsCap int   // the tenant's cap on Participants; 0 is none
	Refused         int64 // this Client's local refusals at the tenant's caps
}

// TenantUsage returns what tenant uses of its caps, read from the store
// (so counting every Client of a shared store) with a one-second bound, and
// this Client's refusals at its caps. Refusals are counted by name for the
// first 256 tenants refused; TenantUsage("other") returns the rest together.
func (c *Client) TenantUsage(tenant string) TenantUsage {
	ctx, cancel := context.WithTimeout(context.Background(), usageTimeout)
	defer cancel()
	u := TenantUsage{Tenant: tenant, RoomsCap: c.tenantCap(tenant, quota.Rooms),
		ParticipantsCap: c.tenantCap(tenant, quota.Participants)}
	if u.RoomsCap > 0 {
		u.Rooms, _, _ = c.store.Used(ctx, c.tenantAccount(tenant), backend.Rooms)
	}
	if u.ParticipantsCap > 0 {
		u.Participants, _, _ = c.store.Used(ctx, c.tenantAccount(tenant), backend.Participants)
	}
	c.tenants.mu.Lock()
	u.Refused = c.tenants.refused[tenant]
	c.tenants.mu.Unlock()
	return u
}
