// Package memstore is the in-process quota store: a backend.Store (and
// backend.Inspector) whose request buckets are golang.org/x/time/rate
// limiters and whose ledgers are maps. Every quota.Ledger and quota.Limiter
// (and every video.Client) that shares one Store shares its accounts'
// quotas; package video makes one when given no store. Across processes,
// use quota/redisstore.
//
// Each ledger remembers the holdings it gave back for [backend.EndedTTL]
// (at most [backend.MaxEnded] of them, oldest forgotten first), so that a
// late Hold or Commit onto an ended SID holds nothing (see
// [backend.Store.Release]).
package memstore

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/videoquota/videoquota/internal/sidmap"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"golang.org/x/time/rate"
)

// Store is the in-process [backend.Store] (and [backend.Inspector]): every
// client that shares one Store shares its accounts' buckets and ledgers.
//
// A Store is safe for simultaneous use. Its zero value is not usable; call
// [New].
type Store struct {
	clock    quota.Clock
	mu       sync.Mutex                             // serialises adding accounts
	accounts atomic.Pointer[map[string]*memAccount] // copied on write, read without a lock
	last     atomic.Pointer[memAccount]             // the account found last: most stores serve one
	peaks    memPeaks                               // the peak report (peaks.go)
}

// Option configures a [Store].
type Option func(*Store) error

// WithClock sets the clock (default the system's) that the Store runs its
// buckets, leases and full marks on. Tests inject a fake one; a nil Clock is
// an error.
func WithClock(c quota.Clock) Option {
	return func(s *Store) error {
		if c == nil {
			return errors.New("memstore: WithClock: nil Clock")
		}
		s.clock = c
		return nil
	}
}

// systemClock is the default clock: time.Now.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// New returns an empty in-process store. It fails for a nil or invalid option.
func New(opts ...Option) (*Store, error) {
	s := &Store{clock: systemClock{}}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("memstore: New: nil Option")
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

var (
	_ backend.Store     = (*Store)(nil)
	_ backend.Inspector = (*Store)(nil)
)

type memAccount struct {
	name    string
	buckets [2]memBucket
	ledgers [2]memLedger
	seq     atomic.Uint64 // numbers the ledger operations that cross a level

	limMu    sync.Mutex            // guards limits and limUntil
	limits   backend.AccountLimits // in force until limUntil; zero Since when none was offered
	limUntil time.Time
}

type memBucket struct {
	mu     sync.Mutex // guards conf, factor and the creation of lim
	conf   backend.Rate
	factor float64
	lim    *rate.Limiter
	cur    atomic.Pointer[memConf] // conf and lim as last set, read without mu
	until  atomic.Int64            // when a factor below 1 expires (unix ns); 0 when the factor is 1; written under mu
}

type memConf struct {
	conf backend.Rate
	lim  *rate.Limiter
}

// memLevel is the state of one threshold level at one limit: when the
// limit in force changes (see backend.LimitsStore), the levels start afresh.
type memLevel struct {
	level float64
	limit int
	above bool
}

type memLedger struct {
	seq        *atomic.Uint64 // the account's crossing counter
	mu         sync.Mutex
	pending    map[string]int64  // reservation key -> lapse time (unix ns)
	held       sidmap.Map[int64] // holding key -> expiry (unix ns); SIDs in 16 bytes
	levels     []memLevel
	fullUntil  time.Time
	nextExpiry int64             // earliest lapse or expiry among pending and held (unix ns); 0 when none
	ended      sidmap.Map[int64] // holding key given back -> when (unix ns), for backend.EndedTTL
	endedQ     []endedKey        // the same, oldest first from endedHead: the order they lapse in
	endedHead  int
}

// endedKey is a holding given back at at (unix ns).
type endedKey struct {
	key string
	at  int64
}

func (s *Store) account(account string) *memAccount {
	if a := s.last.Load(); a != nil && a.name == account {
		return a
	}
	if m := s.accounts.Load(); m != nil {
		if a, ok := (*m)[account]; ok {
			s.last.Store(a)
			return a
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.accounts.Load()
	if old != nil {
		if a, ok := (*old)[account]; ok {
			return a
		}
	}
	a := &memAccount{name: account}
	for i := range a.buckets {
		a.buckets[i].factor = 1
	}
	for i := range a.ledgers {
		a.ledgers[i].seq = &a.seq
		a.ledgers[i].pending = make(map[string]int64)
	}
	m := make(map[string]*memAccount, 1)
	if old != nil {
		m = make(map[string]*memAccount, len(*old)+1)
		for k, v := range *old {
			m[k] = v
		}
	}
	m[account] = a
	s.accounts.Store(&m)
	return a
}

func (b *memBucket) limiter(r backend.Rate) *rate.Limiter {
	if c := b.cur.Load(); c != nil && c.conf == r {
		return c.lim
	}
	b.mu.Lock()
	if b.lim == nil || b.conf != r {
		b.conf = r
		burst := max(r.Burst, 1)
		if b.lim == nil {
			b.lim = rate.NewLimiter(b.limit(), burst)
		} else {
			b.lim.SetLimit(b.limit())
			b.lim.SetBurst(burst)
		}
		b.cur.Store(&memConf{conf: r, lim: b.lim})
	}
	lim := b.lim
	b.mu.Unlock()
	return lim
}

// limit returns the bucket's effective rate; requires b.mu held.
func (b *memBucket) limit() rate.Limit {
	if b.conf.PerSecond < 0 {
		return rate.Inf
	}
	return rate.Limit(b.conf.PerSecond * b.factor)
}

// TakeToken implements [backend.Store].
func (s *Store) TakeToken(ctx context.Context, account string, class backend.Class, r backend.Rate, maxWait time.Duration) (time.Duration, bool, error) {
	if r.PerSecond < 0 {
		return 0, true, nil
	}
	b := &s.account(account).buckets[class&1]
	lim := b.limiter(r)
	now := s.clock.Now()
	b.expire(now)
	if lim.AllowN(now, 1) {
		return 0, true, nil
	}
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return math.MaxInt64, false, nil
	}
	wait := res.DelayFrom(now)
	if wait > maxWait {
		res.CancelAt(now)
		return wait, false, nil
	}
	return wait, true, nil
}

// expire puts the factor back to 1 once its ttl has passed.
func (b *memBucket) expire(now time.Time) {
	if u := b.until.Load(); u == 0 || now.UnixNano() < u {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if u := b.until.Load(); u != 0 && now.UnixNano() >= u {
		b.setFactor(now, 1, 0)
	}
}

// setFactor sets the factor and its expiry; requires b.mu held.
func (b *memBucket) setFactor(now time.Time, f float64, ttl time.Duration) {
	b.factor = f
	if f >= 1 {
		b.until.Store(0)
	} else {
		b.until.Store(now.Add(ttl).UnixNano())
	}
	if b.lim != nil {
		b.lim.SetLimitAt(now, b.limit())
	}
}

// ReturnToken implements [backend.Store]: the token goes back into the
// golang.org/x/time/rate limiter, which never counts more than its burst.
func (s *Store) ReturnToken(ctx context.Context, account string, class backend.Class, r backend.Rate) error {
	if r.PerSecond < 0 {
		return nil
	}
	lim := s.account(account).buckets[class&1].limiter(r)
	// A reservation of -1 tokens adds one; the limiter caps its tokens at
	// the burst the next time it counts them.
	lim.ReserveN(s.clock.Now(), -1)
	return nil
}

// RateFactor implements [backend.Store].
func (s *Store) RateFactor(ctx context.Context, account string, class backend.Class) (float64, error) {
	b := &s.account(account).buckets[class&1]
	b.expire(s.clock.Now())
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.factor, nil
}

// AdjustRateFactor implements [backend.Store].
func (s *Store) AdjustRateFactor(ctx context.Context, account string, class backend.Class, from, to float64, ttl time.Duration) (float64, error) {
	if err := checkFactor(to, ttl); err != nil {
		return 0, err
	}
	b := &s.account(account).buckets[class&1]
	now := s.clock.Now()
	b.expire(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	if to < from && to < b.factor || to > from && math.Abs(b.factor-from) <= backend.FactorTolerance {
		b.setFactor(now, to, ttl)
	}
	return b.factor, nil
}

// checkFactor validates the arguments of [backend.Store.AdjustRateFactor].
func checkFactor(f float64, ttl time.Duration) error {
	if !(f > 0 && f <= 1) || ttl <= 0 {
		return &backend.FactorError{Factor: f, TTL: ttl}
	}
	return nil
}

func (s *Store) ledger(account string, res backend.Resource) *memLedger {
	return &s.account(account).ledgers[res&1]
}

// used returns held plus pending after dropping lapsed entries; requires l.mu held.
func (l *memLedger) used(now time.Time) int {
	if n := now.UnixNano(); l.nextExpiry != 0 && n >= l.nextExpiry {
		var next int64
		keep := func(t int64) bool {
			if n >= t {
				return false
			}
			if next == 0 || t < next {
				next = t
			}
			return true
		}
		for k, t := range l.pending {
			if !keep(t) {
				delete(l.pending, k)
			}
		}
		for k, t := range l.held.All() {
			if !keep(*t) {
				l.held.DeleteKey(k)
			}
		}
		l.nextExpiry = next
	}
	return len(l.pending) + l.held.Len()
}

// expiry returns the time (unix ns) an entry added now lapses after ttl
// (never for ttl <= 0), noting it as the next expiry if it is; requires
// l.mu held.
func (l *memLedger) expiry(now time.Time, ttl time.Duration) int64 {
	t := int64(math.MaxInt64)
	if ttl > 0 {
		t = now.Add(ttl).UnixNano()
		if l.nextExpiry == 0 || t < l.nextExpiry {
			l.nextExpiry = t
		}
	}
	return t
}

// change completes a ledger operation: it computes the threshold crossings of
// the new usage; requires l.mu held.
func (l *memLedger) change(now time.Time, b *backend.Bounds, changed bool) backend.Change {
	return l.result(l.used(now), b, changed)
}

// result is the Change for usage used, numbered when it crosses a level;
// requires l.mu held, so that the numbers follow the order of decisions.
func (l *memLedger) result(used int, b *backend.Bounds, changed bool) backend.Change {
	c := backend.Change{Used: used, Changed: changed, Crossings: l.crossings(used, b)}
	if len(c.Crossings) > 0 {
		c.Seq = l.seq.Add(1)
	}
	return c
}

// crossings updates the per-level state for usage used; requires l.mu held.
func (l *memLedger) crossings(used int, b *backend.Bounds) []backend.Crossing {
	if b == nil || b.Limit < 0 || len(b.Levels) == 0 {
		return nil
	}
	var out []backend.Crossing
	for _, level := range b.Levels {
		st := l.level(level, b.Limit)
		rise := backend.RisePoint(level, b.Limit)
		switch {
		case !st.above && used >= rise:
			st.above = true
			out = append(out, backend.Crossing{Level: level, Rising: true})
		case st.above && used < rise-max(b.Hysteresis, 1):
			st.above = false
			out = append(out, backend.Crossing{Level: level, Rising: false})
		}
	}
	return out
}

func (l *memLedger) level(level float64, limit int) *memLevel {
	for i := range l.levels {
		if l.levels[i].level == level && l.levels[i].limit == limit {
			return &l.levels[i]
		}
	}
	l.levels = append(l.levels, memLevel{level: level, limit: limit})
	return &l.levels[len(l.levels)-1]
}

// endedTTL is how long an ended key is remembered: [backend.EndedTTL].
const endedTTL = int64(backend.EndedTTL)

// isEnded reports whether holding key was given back within
// [backend.EndedTTL], after forgetting the ends older than that; requires
// l.mu held.
func (l *memLedger) isEnded(key string, now int64) bool {
	l.forgetEnded(now - endedTTL)
	_, ok := l.ended.Get(key)
	return ok
}

// markEnded remembers that holding key was given back at now, dropping the
// oldest ends past [backend.MaxEnded]; requires l.mu held.
func (l *memLedger) markEnded(key string, now int64) {
	l.forgetEnded(now - endedTTL)
	key = strings.Clone(key) // kept: not the caller's memory
	l.ended.Set(key, now)
	l.endedQ = append(l.endedQ, endedKey{key: key, at: now})
	for l.ended.Len() > backend.MaxEnded {
		l.popEnded()
	}
}

// forgetEnded forgets the ends at or before cut (unix ns); requires l.mu held.
func (l *memLedger) forgetEnded(cut int64) {
	for l.endedHead < len(l.endedQ) && l.endedQ[l.endedHead].at <= cut {
		l.popEnded()
	}
}

// popEnded forgets the oldest end queued (unless the key ended again
// since, or was held again); requires l.mu held and the queue not empty.
func (l *memLedger) popEnded() {
	e := l.endedQ[l.endedHead]
	if at, ok := l.ended.Get(e.key); ok && at == e.at {
		l.ended.Delete(e.key)
	}
	l.endedQ[l.endedHead] = endedKey{}
	l.endedHead++
	switch {
	case l.endedHead == len(l.endedQ):
		l.endedQ, l.endedHead = l.endedQ[:0], 0
	case l.endedHead >= 64 && l.endedHead*2 >= len(l.endedQ):
		n := copy(l.endedQ, l.endedQ[l.endedHead:])
		clear(l.endedQ[n:])
		l.endedQ, l.endedHead = l.endedQ[:n], 0
	}
}

// Reserve implements [backend.Store].
func (s *Store) Reserve(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	l := s.ledger(account, res)
	now := s.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	used := l.used(now)
	if t, ok := l.pending[key]; ok {
		// Asked again (by another client of the store, under a key they
		// share): it lapses with the later of the two.
		if ttl <= 0 {
			l.pending[key] = math.MaxInt64
		} else if e := now.Add(ttl).UnixNano(); e > t {
			l.pending[key] = e
		}
		return backend.Change{Used: used}, nil
	}
	if l.held.Has(key) {
		return backend.Change{Used: used}, nil
	}
	if now.Before(l.fullUntil) || (b != nil && b.Limit >= 0 && used >= b.Limit) {
		limit := -1
		if b != nil {
			limit = b.Limit
		}
		return backend.Change{Used: used, Refused: true, Limit: limit}, nil
	}
	l.pending[key] = l.expiry(now, ttl)
	return l.change(now, b, true), nil
}

// Commit implements [backend.Store].
func (s *Store) Commit(ctx context.Context, account string, res backend.Resource, key, holdKey string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	l := s.ledger(account, res)
	now := s.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used(now)
	_, wasPending := l.pending[key]
	delete(l.pending, key)
	if l.isEnded(holdKey, now.UnixNano()) {
		// The Room or Participant ended already: nothing to hold.
		return l.change(now, b, wasPending), nil
	}
	wasHeld := l.held.Has(holdKey)
	l.held.Set(holdKey, l.expiry(now, ttl))
	return l.change(now, b, wasPending || !wasHeld), nil
}

// Hold implements [backend.Store].
func (s *Store) Hold(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	l := s.ledger(account, res)
	now := s.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used(now)
	if l.held.Has(key) || l.isEnded(key, now.UnixNano()) {
		return l.change(now, b, false), nil
	}
	// A pending reservation under the same key becomes the holding.
	delete(l.pending, key)
	l.held.Set(key, l.expiry(now, ttl))
	return l.change(now, b, true), nil
}

// Release implements [backend.Store].
//
// Release drops no lapsed entry: the next operation that does (Reserve,
// Used, ...) drops them, so the usage it reports may still count them.
func (s *Store) Release(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds) (backend.Change, error) {
	l := s.ledger(account, res)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.pending[key]; ok {
		delete(l.pending, key)
	} else if l.held.Delete(key) {
		l.fullUntil = time.Time{}
		l.markEnded(key, s.clock.Now().UnixNano())
	} else {
		if key != "" {
			// An end heard before its start: the start, if it comes, is late.
			l.markEnded(key, s.clock.Now().UnixNano())
		}
		return l.result(len(l.pending)+l.held.Len(), b, false), nil
	}
	return l.result(len(l.pending)+l.held.Len(), b, true), nil
}

// Sync implements [backend.Store].
func (s *Store) Sync(ctx context.Context, account string, res backend.Resource, keys []string, b *backend.Bounds, ttl, keep time.Duration) (backend.Change, int, int, error) {
	l := s.ledger(account, res)
	now := s.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used(now)
	var want sidmap.Map[struct{}]
	want.Grow(len(keys))
	added := 0
	ns := now.UnixNano()
	l.forgetEnded(ns - endedTTL)
	for _, k := range keys {
		want.Set(k, struct{}{})
		if !l.held.Has(k) && !l.isEnded(k, ns) {
			delete(l.pending, k)
			l.held.Set(k, l.expiry(now, ttl))
			added++
		}
	}
	removed := 0
	young := int64(math.MaxInt64) // expiries above this were added within keep
	if keep > 0 && ttl > 0 {
		young = now.Add(ttl - keep).UnixNano()
	}
	for k, exp := range l.held.All() {
		if !want.HasKey(k) && *exp <= young {
			l.held.DeleteKey(k)
			l.markEnded(k.String(), ns)
			removed++
		}
	}
	l.fullUntil = time.Time{}
	return l.change(now, b, added+removed > 0), added, removed, nil
}

// MarkFull implements [backend.Store].
func (s *Store) MarkFull(ctx context.Context, account string, res backend.Resource, d time.Duration) error {
	l := s.ledger(account, res)
	now := s.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fullUntil = now.Add(d)
	return nil
}

// Used implements [backend.Store].
func (s *Store) Used(ctx context.Context, account string, res backend.Resource) (int, bool, error) {
	l := s.ledger(account, res)
	now := s.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.used(now), now.Before(l.fullUntil), nil
}

// Holds implements [backend.Store].
func (s *Store) Holds(ctx context.Context, account string, res backend.Resource, key string) (bool, error) {
	l := s.ledger(account, res)
	now := s.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used(now)
	_, p := l.pending[key]
	return p || l.held.Has(key), nil
}

// Tokens implements [backend.Inspector]: the bucket's golang.org/x/time/rate
// limiter read at the store's clock. A bucket never used is created with r,
// as TakeToken would create it.
func (s *Store) Tokens(ctx context.Context, account string, class backend.Class, r backend.Rate) (float64, error) {
	if r.PerSecond < 0 {
		return math.Inf(1), nil
	}
	lim := s.account(account).buckets[class&1].limiter(r)
	return lim.TokensAt(s.clock.Now()), nil
}

// Pending implements [backend.Inspector]: the reservations left after dropping the
// lapsed ones.
func (s *Store) Pending(ctx context.Context, account string, res backend.Resource) (int, error) {
	l := s.ledger(account, res)
	now := s.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used(now)
	return len(l.pending), nil
}
