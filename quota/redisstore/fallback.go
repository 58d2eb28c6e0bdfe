package redisstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/memstore"
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
var ErrUnavailable = errors.New("redisstore: redis unavailable")

// errDegraded is the cause of a Sync refused while serving the local share.
var errDegraded = errors.New("serving the local share since Redis became unreachable; Sync needs Redis")

// UnavailableError is an operation refused because Redis could not be reached.
type UnavailableError struct {
	Op  string // the Store method: "Reserve", "TakeToken", ...
	Err error  // the Redis client's error
}

// Error names the operation and the cause.
func (e *UnavailableError) Error() string {
	return "redisstore: " + e.Op + ": redis unavailable: " + strings.TrimPrefix(e.Err.Error(), "redisstore: ")
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
//
// The request buckets are GCRA buckets of its own at the share of each rate,
// each starting after the tokens granted from Redis that this process saw
// (see [schedule]); on recovery their arrival times are carried back to Redis.
// seed is what a ledger's local share starts from (see [fallback.bounds]).
type seed struct {
	own  int // this process's slots in Redis
	used int // every process's slots in Redis, at the last reply
}

type fallback struct {
	share float64
	probe time.Duration
	now   func() time.Time

	degraded atomic.Bool

	// sw is held for reading by every local operation and for writing
	// while switching back to Redis, so no local change escapes the write-back.
	sw    sync.RWMutex
	local *memstore.Store // ledgers and factors; replaced under sw held for writing

	probeMu   sync.Mutex // guards nextProbe and probing
	nextProbe time.Time
	probing   bool // a recovery probe is running

	failover atomic.Bool // a failover seen by a recovery not yet done

	bmu     sync.Mutex             // guards buckets
	buckets map[bucketID]time.Time // local arrival times

	// seeds are, per ledger this process had slots in or saw when it
	// degraded, its own slots and the whole usage then; set under sw held
	// for writing, read under sw held for reading.
	seeds map[ledgerID]seed

	jmu      sync.Mutex // guards leases and released
	leases   map[ledgerID]map[string]lease
	released map[ledgerID]map[string]struct{}
}

func newFallback(share float64, probe time.Duration, now func() time.Time) *fallback {
	return &fallback{
		share:    share,
		probe:    probe,
		now:      now,
		local:    newLocal(now),
		buckets:  make(map[bucketID]time.Time),
		seeds:    make(map[ledgerID]seed),
		leases:   make(map[ledgerID]map[string]lease),
		released: make(map[ledgerID]map[string]struct{}),
	}
}

// degrade switches to the local share; it reports whether this call did.
// The local store starts with the slots this process holds in Redis, so its
// share counts them, and they are written back on recovery like the others
// (a Redis that restarted empty gets them back). Each local bucket starts
// one local interval after the horizon of what this process saw granted
// from Redis (see [booking.horizon]), so that the tokens already granted
// from Redis and the local ones together stay within the rate.
func (fb *fallback) degrade(s *Store) bool {
	fb.sw.Lock()
	defer fb.sw.Unlock()
	if fb.degraded.Load() {
		return false
	}
	now := fb.now()
	ctx := context.Background()
	var failed error
	clear(fb.seeds)
	s.hold.each(now, func(id ledgerID, m map[string]lease) {
		if used, ok := s.hold.usage(id); ok {
			fb.seeds[id] = seed{own: len(m), used: max(used, len(m))}
		}
		for k, l := range m {
			ttl := time.Duration(0)
			if !l.until.IsZero() {
				ttl = l.until.Sub(now)
			}
			// Unbounded (nil Bounds): the slots are held already, whatever
			// the share, so the in-process store cannot refuse them; an error
			// would be a bug, logged below.
			var err error
			if l.held {
				_, err = fb.local.Hold(ctx, id.account, id.res, k, nil, ttl)
			} else {
				_, err = fb.local.Reserve(ctx, id.account, id.res, k, nil, ttl)
			}
			if err != nil {
				failed = err
				continue
			}
			fb.jmu.Lock()
			if fb.leases[id] == nil {
				fb.leases[id] = make(map[string]lease)
			}
			fb.leases[id][k] = lease{held: l.held, until: l.until, seeded: true}
			fb.jmu.Unlock()
		}
	})
	for id, used := range s.hold.usedAll() {
		if _, ok := fb.seeds[id]; !ok {
			fb.seeds[id] = seed{used: used}
		}
	}
	if failed != nil {
		s.logger().Error("redisstore: seeding the local share with this process's slots", "err", failed)
	}
	fb.bmu.Lock()
	clear(fb.buckets)
	for id, b := range s.sched.ahead(now) {
		if !(b.rate.PerSecond > 0) {
			continue
		}
		// One local interval after the horizon: the last token granted
		// from Redis goes out one shared interval before it, so this
		// leaves one shared interval of margin for its sender's delays.
		fb.buckets[id] = b.local(b.tat).Add(time.Duration(float64(time.Second) / (b.rate.PerSecond * fb.share)))
	}
	fb.bmu.Unlock()
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

// bounds scales b to the local share of the ledger id. When the process
// knew the ledger's usage as it degraded, the local limit is its own slots
// plus its share of the room left then: own + floor((Limit-used)*share),
// with used the highest usage it saw in the last two seconds (the others
// may have taken slots since it last looked), so
// that n processes with share 1/n stay within the quota together however
// unevenly they held it. Otherwise it is floor(Limit*share). Requires sw
// held for reading.
func (fb *fallback) bounds(id ledgerID, b *backend.Bounds) *backend.Bounds {
	if b == nil || b.Limit < 0 {
		return b
	}
	c := *b
	if sd, ok := fb.seeds[id]; ok {
		c.Limit = sd.own + int(math.Floor(float64(max(b.Limit-sd.used, 0))*fb.share+1e-9))
	} else {
		c.Limit = int(math.Floor(float64(b.Limit)*fb.share + 1e-9))
	}
	return &c
}

// rate scales r to the local share.
func (fb *fallback) rate(r backend.Rate) backend.Rate {
	if r.PerSecond < 0 {
		return r
	}
	r.PerSecond *= fb.share
	r.Burst = max(1, int(math.Floor(float64(r.Burst)*fb.share+1e-9)))
	return r
}

// interval returns the local bucket's interval between tokens for r, slowed
// by the local adaptive factor.
func (fb *fallback) interval(ctx context.Context, id bucketID, r backend.Rate) (time.Duration, int, error) {
	lr := fb.rate(r)
	f, err := fb.local.RateFactor(ctx, id.account, id.class)
	if err != nil {
		return 0, 0, err
	}
	return time.Duration(float64(time.Second) / (lr.PerSecond * f)), lr.Burst, nil
}

// takeToken is TakeToken on the local GCRA bucket of id; requires sw held for reading.
func (fb *fallback) takeToken(ctx context.Context, id bucketID, r backend.Rate, maxWait time.Duration) (time.Duration, bool, error) {
	iv, burst, err := fb.interval(ctx, id, r)
	if err != nil {
		return 0, false, err
	}
	now := fb.now()
	fb.bmu.Lock()
	defer fb.bmu.Unlock()
	tat := fb.buckets[id]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(iv)
	wait := max(next.Sub(now)-time.Duration(burst)*iv, 0)
	if wait > maxWait {
		return wait, false, nil
	}
	fb.buckets[id] = next
	return wait, true, nil
}

// tokens is Tokens on the local GCRA bucket of id; requires sw held for reading.
func (fb *fallback) tokens(ctx context.Context, id bucketID, r backend.Rate) (float64, error) {
	iv, burst, err := fb.interval(ctx, id, r)
	if err != nil {
		return 0, err
	}
	now := fb.now()
	fb.bmu.Lock()
	defer fb.bmu.Unlock()
	owed := max(fb.buckets[id].Sub(now), 0)
	return float64(burst) - float64(owed)/float64(iv), nil
}

// journal records a slot taken locally; requires sw held for reading.
func (fb *fallback) journal(account string, res backend.Resource, key string, held bool, ttl time.Duration) {
	var until time.Time
	if ttl > 0 {
		until = fb.now().Add(ttl)
	}
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
func (fb *fallback) forget(account string, res backend.Resource, key string) {
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

// recover starts a recovery probe in a goroutine of its own, unless one is
// running or the last started less than a probe interval ago, and reports
// whether the store is on Redis. The caller does not wait for the probe: it
// serves the local share meanwhile.
func (fb *fallback) recover(s *Store) bool {
	if !fb.degraded.Load() {
		return true
	}
	fb.probeMu.Lock()
	now := fb.now()
	if fb.probing || now.Before(fb.nextProbe) || s.isClosed() {
		fb.probeMu.Unlock()
		return !fb.degraded.Load()
	}
	fb.probing, fb.nextProbe = true, now.Add(fb.probe)
	s.probes.Add(1) // under probeMu, so that Close's Wait comes after
	fb.probeMu.Unlock()
	go func() {
		defer s.probes.Done()
		fb.tryRecover(s)
		fb.probeMu.Lock()
		fb.probing = false
		fb.probeMu.Unlock()
	}()
	return false
}

// tryRecover pings Redis and, when it answers, writes back what was done
// locally and switches back; each step waits for Redis at most the store's
// deadline. No local operation runs during the write-back, so it waits that
// long at most too.
func (fb *fallback) tryRecover(s *Store) {
	ctx := context.Background()
	failover, err := call(s, ctx, func(ctx context.Context) (bool, error) {
		if err := s.rdb.Ping(ctx).Err(); err != nil {
			return false, err
		}
		// A new replication ID: a replica was promoted and may have missed
		// the last writes, so the slots from before the outage are written
		// back too.
		return s.repl.changed(ctx, s.rdb), nil
	}, nil)
	if err != nil {
		return
	}
	if failover {
		fb.failover.Store(true) // kept until a write-back succeeds
	}
	fb.sw.Lock()
	defer fb.sw.Unlock()
	if !fb.degraded.Load() {
		return
	}
	w := fb.snapshot(s, fb.failover.Load())
	n, err := call(s, ctx, w.write, nil)
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			s.logger().Warn("redisstore: Redis answers but the write-back failed; still serving the local share", "err", err)
		}
		return
	}
	fb.failover.Store(false)
	s.hold.replace(w.leases, w.now)
	clear(fb.leases)
	clear(fb.released)
	fb.bmu.Lock()
	clear(fb.buckets)
	fb.bmu.Unlock()
	fb.local = newLocal(fb.now)
	fb.degraded.Store(false)
	s.logger().Info("redisstore: Redis reachable again; local slots written back", "slots", n)
}

// writeBack is what a recovery writes to Redis, copied from the journal and
// the local buckets under sw held for writing, so that the write can run in
// a goroutine of its own (see [call]) that may outlive the lock.
type writeBack struct {
	s        *Store
	now      time.Time
	failover bool
	share    string
	calm     int64
	buckets  map[bucketID]time.Time
	accounts map[string]struct{}
	ids      map[ledgerID]struct{}
	leases   map[ledgerID]map[string]lease
	released map[ledgerID]map[string]struct{}
}

// snapshot copies what the write-back needs; requires sw held for writing.
func (fb *fallback) snapshot(s *Store, failover bool) *writeBack {
	w := &writeBack{s: s, now: fb.now(), failover: failover, share: fb.shareArg(), calm: millis(2 * fb.probe),
		accounts: s.sched.accounts(), ids: make(map[ledgerID]struct{}),
		leases: make(map[ledgerID]map[string]lease), released: make(map[ledgerID]map[string]struct{})}
	fb.bmu.Lock()
	w.buckets = maps.Clone(fb.buckets)
	fb.bmu.Unlock()
	fb.jmu.Lock()
	defer fb.jmu.Unlock()
	for id, m := range fb.leases {
		w.leases[id] = maps.Clone(m)
		w.ids[id] = struct{}{}
	}
	for id, m := range fb.released {
		w.released[id] = maps.Clone(m)
		w.ids[id] = struct{}{}
	}
	// Every ledger this process knows gets the grace, written back to or
	// not: the other processes may be serving it from their local shares.
	for id := range s.hold.usedAll() {
		w.ids[id] = struct{}{}
	}
	return w
}

// write writes the journal and the local buckets back to Redis and returns
// how many slots it wrote. It is idempotent, so a failed attempt is simply
// repeated.
func (w *writeBack) write(ctx context.Context) (int, error) {
	s := w.s
	if err := w.reseed(ctx); err != nil {
		return 0, err
	}
	written := 0
	for id := range w.ids {
		rel := w.released[id]
		known := s.hold.epoch(id)
		if w.failover && known != 0 {
			known = -1 // no epoch matches: write back everything, with the grace
		}
		extra := []any{known, w.calm, millis(s.endedTTL), s.maxEnded, len(rel)}
		for k := range rel {
			extra = append(extra, k)
		}
		for k, l := range w.leases[id] {
			var ms int64
			if !l.until.IsZero() {
				if ms = l.until.Sub(w.now).Milliseconds(); ms <= 0 {
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
		vals, err := ledgerScript.Run(ctx, s.rdb, s.ledgerKeys(id.account, id.res), ledgerArgs("restore", 0, 0, nil, extra...)...).Int64Slice()
		if err != nil {
			return 0, err
		}
		if len(vals) == 3 {
			s.hold.sawEpoch(id, vals[2])
		}
	}
	return written, nil
}

// reseed carries the local buckets' arrival times back to Redis, and puts
// every account this process knows into calm for two probe intervals: the
// account's buckets run at this process's share meanwhile, as the other
// processes, which probe as often, may still be serving theirs.
func (w *writeBack) reseed(ctx context.Context) error {
	s := w.s
	accounts := maps.Clone(w.accounts)
	for id := range w.buckets {
		accounts[id.account] = struct{}{}
	}
	for id, tat := range w.buckets {
		if !tat.After(w.now) {
			continue
		}
		keys := []string{s.key(id.account, "rate", id.class.String()), s.key(id.account, "calm")}
		if err := seedScript.Run(ctx, s.rdb, keys, s.sched.redisTime(tat), w.share, w.calm).Err(); err != nil {
			return err
		}
		delete(accounts, id.account)
	}
	for a := range accounts {
		keys := []string{s.key(a, "rate", backend.Write.String()), s.key(a, "calm")}
		if err := seedScript.Run(ctx, s.rdb, keys, 0, w.share, w.calm).Err(); err != nil {
			return err
		}
	}
	return nil
}

// shareArg is the share as a script argument.
func (fb *fallback) shareArg() string { return strconv.FormatFloat(fb.share, 'g', -1, 64) }

// clockFunc is a quota.Clock made of a func.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// newLocal returns the in-process store of the local share, on the clock now.
func newLocal(now func() time.Time) *memstore.Store {
	m, err := memstore.New(memstore.WithClock(clockFunc(now)))
	if err != nil {
		panic(err) // unreachable: the one option is valid
	}
	return m
}
