package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/videoquota/videoquota/quota"
)

// FailurePolicy is what a [Store] does when Redis cannot be reached (a
// network error, a timeout under [WithTimeout], a Redis that is loading or
// read-only).
type FailurePolicy uint8

const (
	// FailClosed returns an *[UnavailableError] from every operation until
	// Redis answers again: nothing is sent to Twilio on an unknown quota.
	FailClosed FailurePolicy = iota
	// FailLocal serves every operation but Sync from an in-process store
	// holding this process's share of each quota ([WithLocalShare]) until
	// Redis answers again, then writes back what it did and switches back.
	FailLocal
)

// String returns "fail-closed" or "fail-local".
func (p FailurePolicy) String() string {
	switch p {
	case FailClosed:
		return "fail-closed"
	case FailLocal:
		return "fail-local"
	}
	return fmt.Sprintf("FailurePolicy(%d)", uint8(p))
}

// ErrUnavailable matches every *[UnavailableError] with errors.Is.
var ErrUnavailable = errors.New("redis unavailable")

// errDegraded is the cause of a Sync refused while serving the local share.
var errDegraded = errors.New("serving the local share since Redis became unreachable; Sync needs Redis")

// UnavailableError is an operation refused because Redis could not be reached.
type UnavailableError struct {
	Op  string // the Store method: "Reserve", "TakeToken", ...
	Err error  // the Redis client's error
}

// Error names the operation and the cause.
func (e *UnavailableError) Error() string {
	return "redisstore: " + e.Op + ": redis unavailable: " + e.Err.Error()
}

// Is reports whether target is [ErrUnavailable].
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the Redis client's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// fallback is the local side of FailLocal: an in-process store with this
// process's share of each quota, and a journal of the slots taken and given
// back while degraded, which is written back to Redis on recovery.
//
// Every slot lives in one place at a time. While degraded, slots are taken in
// the local store only; releases of keys that may live in Redis are recorded.
// On recovery, under the write lock (no local operation runs), one script per
// ledger removes the released keys from Redis and adds the local leases with
// their remaining time (ZADD NX: a key already in Redis, for instance from an
// operation that timed out after Redis applied it, stays counted once), then
// the local store is dropped and operations go to Redis again.
type fallback struct {
	share float64
	probe time.Duration
	now   func() time.Time

	degraded atomic.Bool

	// sw is held for reading by every local operation and for writing
	// while switching back to Redis, so no local change escapes the write-back.
	sw    sync.RWMutex
	local *quota.MemoryStore // replaced under sw held for writing

	probeMu   sync.Mutex // one recovery attempt at a time; guards nextProbe
	nextProbe time.Time

	jmu      sync.Mutex // guards leases and released
	leases   map[ledgerID]map[string]lease
	released map[ledgerID]map[string]struct{}

	// own are the slots this process took in Redis and has not given back,
	// so that a switch to the local share starts from them.
	omu    sync.Mutex // guards own and epochs
	own    map[ledgerID]map[string]lease
	epochs map[ledgerID]int64 // each ledger's epoch at the last reply from Redis
}

type ledgerID struct {
	account string
	res     quota.Resource
}

type lease struct {
	held  bool
	until time.Time // zero: no expiry
	// seeded marks a slot taken in Redis before the outage, which the
	// write-back restores only if Redis lost its data meanwhile.
	seeded bool
}

func newFallback(share float64, probe time.Duration) *fallback {
	return &fallback{
		share:    share,
		probe:    probe,
		now:      time.Now,
		local:    quota.NewMemoryStore(),
		leases:   make(map[ledgerID]map[string]lease),
		released: make(map[ledgerID]map[string]struct{}),
		own:      make(map[ledgerID]map[string]lease),
		epochs:   make(map[ledgerID]int64),
	}
}

// sawEpoch records the epoch of a ledger Redis replied with.
func (fb *fallback) sawEpoch(account string, res quota.Resource, epoch int64) {
	fb.omu.Lock()
	fb.epochs[ledgerID{account, res}] = epoch
	fb.omu.Unlock()
}

// until returns the expiry of a lease of ttl taken now (zero: none).
func (fb *fallback) until(ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return fb.now().Add(ttl)
}

// owned records that this process took key in Redis (held or pending).
func (fb *fallback) owned(account string, res quota.Resource, key string, held bool, ttl time.Duration) {
	id := ledgerID{account, res}
	fb.omu.Lock()
	defer fb.omu.Unlock()
	m := fb.own[id]
	if m == nil {
		m = make(map[string]lease)
		fb.own[id] = m
	}
	m[key] = lease{held: held, until: fb.until(ttl)}
}

// disowned records that key was given back in Redis.
func (fb *fallback) disowned(account string, res quota.Resource, keys ...string) {
	id := ledgerID{account, res}
	fb.omu.Lock()
	defer fb.omu.Unlock()
	for _, k := range keys {
		delete(fb.own[id], k)
	}
}

// synced keeps, of the holdings this process took, those in keys.
func (fb *fallback) synced(account string, res quota.Resource, keys []string) {
	id := ledgerID{account, res}
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	fb.omu.Lock()
	defer fb.omu.Unlock()
	for k, l := range fb.own[id] {
		if l.held && !want[k] {
			delete(fb.own[id], k)
		}
	}
}

// degrade switches to the local share; it reports whether this call did.
// The local store starts with the slots this process holds in Redis, so its
// share counts them, and they are written back on recovery like the others
// (a Redis that restarted empty gets them back).
func (fb *fallback) degrade() bool {
	fb.sw.Lock()
	defer fb.sw.Unlock()
	if fb.degraded.Load() {
		return false
	}
	fb.omu.Lock()
	now := fb.now()
	ctx := context.Background()
	for id, m := range fb.own {
		for k, l := range m {
			ttl := time.Duration(0)
			if !l.until.IsZero() {
				if ttl = l.until.Sub(now); ttl <= 0 {
					delete(m, k)
					continue
				}
			}
			// Unbounded: the slots are held already, whatever the share.
			if l.held {
				fb.local.Hold(ctx, id.account, id.res, k, nil, ttl)
			} else {
				fb.local.Reserve(ctx, id.account, id.res, k, nil, ttl)
			}
			fb.jmu.Lock()
			if fb.leases[id] == nil {
				fb.leases[id] = make(map[string]lease)
			}
			fb.leases[id][k] = lease{held: l.held, until: l.until, seeded: true}
			fb.jmu.Unlock()
		}
	}
	fb.omu.Unlock()
	fb.probeMu.Lock()
	fb.nextProbe = now.Add(fb.probe)
	fb.probeMu.Unlock()
	fb.degraded.Store(true)
	return true
}

// runLocal runs local under the read lock if the store is still degraded.
func runLocal[T any](fb *fallback, local func(*fallback) (T, error)) (T, error, bool) {
	fb.sw.RLock()
	defer fb.sw.RUnlock()
	if !fb.degraded.Load() {
		var zero T
		return zero, nil, false
	}
	v, err := local(fb)
	return v, err, true
}

// bounds scales b to the local share: floor(Limit*share), so n processes
// with share 1/n never exceed the quota together.
func (fb *fallback) bounds(b *quota.Bounds) *quota.Bounds {
	if b == nil || b.Limit < 0 {
		return b
	}
	c := *b
	c.Limit = int(math.Floor(float64(b.Limit)*fb.share + 1e-9))
	return &c
}

// rate scales r to the local share.
func (fb *fallback) rate(r quota.Rate) quota.Rate {
	if r.PerSecond < 0 {
		return r
	}
	r.PerSecond *= fb.share
	r.Burst = max(1, int(math.Floor(float64(r.Burst)*fb.share+1e-9)))
	return r
}

// journal records a slot taken locally; requires sw held for reading.
func (fb *fallback) journal(account string, res quota.Resource, key string, held bool, ttl time.Duration) {
	until := fb.until(ttl)
	id := ledgerID{account, res}
	fb.jmu.Lock()
	defer fb.jmu.Unlock()
	m := fb.leases[id]
	if m == nil {
		m = make(map[string]lease)
		fb.leases[id] = m
	}
	m[key] = lease{held: held, until: until}
}

// forget records a slot given back locally, which may live in Redis;
// requires sw held for reading.
func (fb *fallback) forget(account string, res quota.Resource, key string) {
	id := ledgerID{account, res}
	fb.jmu.Lock()
	defer fb.jmu.Unlock()
	delete(fb.leases[id], key)
	m := fb.released[id]
	if m == nil {
		m = make(map[string]struct{})
		fb.released[id] = m
	}
	m[key] = struct{}{}
}

// recover tries to switch back to Redis, at most once per probe interval and
// by one caller at a time. It reports whether the store is on Redis.
func (fb *fallback) recover(ctx context.Context, s *Store) bool {
	if !fb.degraded.Load() {
		return true
	}
	if !fb.probeMu.TryLock() {
		return false
	}
	defer fb.probeMu.Unlock()
	if !fb.degraded.Load() {
		return true
	}
	now := fb.now()
	if now.Before(fb.nextProbe) {
		return false
	}
	fb.nextProbe = now.Add(fb.probe)

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return false
	}
	fb.sw.Lock()
	defer fb.sw.Unlock()
	n, err := fb.restore(ctx, s)
	if err != nil {
		s.logger().Warn("redisstore: Redis answers but the write-back failed; still serving the local share", "err", err)
		return false
	}
	fb.local = quota.NewMemoryStore()
	fb.degraded.Store(false)
	s.logger().Info("redisstore: Redis reachable again; local slots written back", "slots", n)
	return true
}

// restore writes the journal back to Redis and clears it; requires sw held
// for writing. It is idempotent, so a failed attempt is simply repeated.
func (fb *fallback) restore(ctx context.Context, s *Store) (int, error) {
	fb.jmu.Lock()
	defer fb.jmu.Unlock()
	ids := make(map[ledgerID]struct{})
	for id := range fb.leases {
		ids[id] = struct{}{}
	}
	for id := range fb.released {
		ids[id] = struct{}{}
	}
	now := fb.now()
	written := 0
	for id := range ids {
		rel := fb.released[id]
		fb.omu.Lock()
		known := fb.epochs[id]
		fb.omu.Unlock()
		extra := []any{known, millis(2 * fb.probe), len(rel)}
		for k := range rel {
			extra = append(extra, k)
		}
		for k, l := range fb.leases[id] {
			var ms int64
			if !l.until.IsZero() {
				if ms = l.until.Sub(now).Milliseconds(); ms <= 0 {
					continue // lapsed while degraded
				}
			}
			kind := "p"
			if l.held {
				kind = "h"
			}
			if l.seeded {
				kind = "o" + kind
			}
			extra = append(extra, kind, k, ms)
			written++
		}
		vals, err := ledgerScript.Run(ctx, s.rdb, s.ledgerKeys(id.account, id.res), ledgerArgs("restore", nil, extra...)...).Int64Slice()
		if err != nil {
			return 0, err
		}
		if len(vals) == 3 {
			fb.sawEpoch(id.account, id.res, vals[2])
		}
	}
	// What was written back is this process's own in Redis now.
	fb.omu.Lock()
	clear(fb.own)
	for id, m := range fb.leases {
		for k, l := range m {
			if l.until.IsZero() || l.until.After(now) {
				if fb.own[id] == nil {
					fb.own[id] = make(map[string]lease)
				}
				l.seeded = false
				fb.own[id][k] = l
			}
		}
	}
	fb.omu.Unlock()
	clear(fb.leases)
	clear(fb.released)
	return written, nil
}
