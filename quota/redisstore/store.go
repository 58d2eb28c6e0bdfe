package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
)

var (
	//go:embed rate.lua
	rateSource string
	//go:embed ledger.lua
	ledgerSource string
	//go:embed factor.lua
	factorSource string
	//go:embed rate_return.lua
	returnSource string
	//go:embed seed.lua
	seedSource string
)

// The scripts are immutable after init: Script caches only its own SHA.
var (
	rateScript   = redis.NewScript(rateSource)
	ledgerScript = redis.NewScript(ledgerSource)
	factorScript = redis.NewScript(factorSource)
	returnScript = redis.NewScript(returnSource)
	seedScript   = redis.NewScript(seedSource)
)

// DefaultPrefix starts every key the store writes, unless [WithPrefix] says otherwise.
const DefaultPrefix = "videoquota"

// DefaultProbeInterval is how often a degraded store (see [FailLocal]) tries
// Redis again: at most once per interval, in a goroutine of its own started
// by the first operation after it (or by the watch), so that a Redis that
// answers again is followed within about one interval. Two intervals are the
// grace after a write-back.
const DefaultProbeInterval = 250 * time.Millisecond

// restoreTimeout bounds the write-back when a degraded store recovers.
const restoreTimeout = 2 * time.Second

// Store is a [backend.Store] kept in Redis, shared by every process that uses
// the same Redis and prefix. Each operation is one round trip: a Lua script
// that reads Redis server time, decides and writes atomically.
//
// A Store is safe for simultaneous use.
type Store struct {
	rdb      redis.UniversalClient
	prefix   string
	log      *slog.Logger
	policy   FailurePolicy
	share    float64
	timeout  time.Duration
	probe    time.Duration
	shareSet bool

	repl  replication // the replication ID of the Redis last reached (FailLocal, WithWatch)
	sched *schedule   // the arrival times seen of each bucket
	hold  *holdings   // the slots this process took, and each ledger's epoch
	calls rateCalls   // the keys and constant arguments of each bucket's rate script call
	// wb is held for reading by every ledger operation on Redis and for
	// writing while writing back to a Redis that lost its data, so that no
	// release of this process slips between the snapshot and the write.
	wb sync.RWMutex

	// endedTTL and maxEnded bound the ended holdings each ledger remembers
	// (backend.EndedTTL and backend.MaxEnded; tests shorten them).
	endedTTL time.Duration
	maxEnded int

	fb *fallback // nil under FailClosed

	watch     time.Duration      // [WithWatch]
	stop      context.CancelFunc // ends the watch goroutine; nil without one
	stopped   chan struct{}      // closed when the watch goroutine has ended
	closeOnce sync.Once
	closed    chan struct{}  // closed by Close
	ownClient bool           // NewFromURL: Close closes rdb
	probes    sync.WaitGroup // the recovery probes running
	waiting   atomic.Int64   // calls waiting on Redis (tests)
	dials     *dialWatch     // the outcome of rdb's latest dial
	limits    limitsSeen     // the limits in force last seen per account

	qmu     sync.Mutex // guards q
	flushMu sync.Mutex // one write-back of the queue at a time
	q       writeQueue // FailClosed: the writes Twilio reported while Redis was unreachable

	// granted, set by tests only, sees the Redis server time (µs) at which
	// each token granted from Redis may be used.
	granted func(bucketID, int64)
	// returned, if set (tests), is called for each token given back to Redis.
	returned func(bucketID)
}

// Option configures a [Store].
type Option func(*Store) error

// WithPrefix sets the prefix of every key (default [DefaultPrefix]). Stores
// that share a prefix on one Redis share their quotas. It must not be empty
// nor contain braces, which Redis Cluster reads as a hash tag.
func WithPrefix(prefix string) Option {
	return func(s *Store) error {
		if prefix == "" || strings.ContainsAny(prefix, "{}") {
			return fmt.Errorf("redisstore: WithPrefix(%q): want a non-empty prefix without braces", prefix)
		}
		s.prefix = prefix
		return nil
	}
}

// WithLogger sets the logger for Redis trouble and recovery (nil: silent).
// go-redis's own lines (a dial that failed, a pool in trouble) go to it too,
// at level Warn: a non-nil logger makes [New] install, once per process, a
// go-redis logger (redis.SetLogger) that sends each line caused by a store's
// call to that store's logger, and the lines go-redis logs with no trace of
// their call to the logger of the first store built with one, or the one
// given to [RouteRedisLog]. A program that sets a go-redis logger of its own
// with redis.SetLogger should set it after New (it then gets every line).
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) error {
		s.log = l
		return nil
	}
}

// WithFailurePolicy sets what the store does when Redis cannot be reached
// (default [FailClosed]). [FailLocal] needs [WithLocalShare] too.
func WithFailurePolicy(p FailurePolicy) Option {
	return func(s *Store) error {
		if p != FailClosed && p != FailLocal {
			return fmt.Errorf("redisstore: WithFailurePolicy(%d): want FailClosed or FailLocal", p)
		}
		s.policy = p
		return nil
	}
}

// WithLocalShare sets the share of every quota (limits and rates) this
// process may use on its own while Redis is unreachable under [FailLocal]:
// 1/n for n processes keeps them together within the quota.
func WithLocalShare(share float64) Option {
	return func(s *Store) error {
		if !(share > 0 && share <= 1) {
			return fmt.Errorf("redisstore: WithLocalShare(%v): want a share in (0, 1]", share)
		}
		s.share, s.shareSet = share, true
		return nil
	}
}

// WithTimeout sets how long an operation waits for Redis (default
// [DefaultTimeout]), whatever the Redis client's own dial, read and write
// timeouts and retries: a Redis that has not answered by then counts as
// unreachable (an *[UnavailableError] with a *[TimeoutError] cause under
// [FailClosed], the local share under [FailLocal]). The caller's ctx and
// [Store.Close] end the wait sooner. New's check of the connection waits as
// long.
func WithTimeout(d time.Duration) Option {
	return func(s *Store) error {
		if d <= 0 {
			return fmt.Errorf("redisstore: WithTimeout(%v): want a positive duration", d)
		}
		s.timeout = d
		return nil
	}
}

// WithProbeInterval sets how often a degraded store tries Redis again
// (default [DefaultProbeInterval]). Two probe intervals are also the grace
// after Redis lost its data, during which a ledger refuses new reservations
// and the buckets run at the local share while every process writes back
// what it holds (see the package doc), under either policy.
func WithProbeInterval(d time.Duration) Option {
	return func(s *Store) error {
		if d <= 0 {
			return fmt.Errorf("redisstore: WithProbeInterval(%v): want a positive duration", d)
		}
		s.probe = d
		return nil
	}
}

// New returns a Store on rdb (a *redis.Client, *redis.ClusterClient or
// *redis.Ring), which the caller owns: [Store.Close] leaves it open. New
// checks that Redis answers (a PING within the store's deadline,
// [WithTimeout]) and returns an *[UnavailableError] with Op "New" when it
// does not, under either policy: a store that is built is one that reached
// Redis. [WithWatch] starts a goroutine, which [Store.Close] stops. New adds
// a hook to rdb that keeps the error of its latest failed dial, so that an
// operation that times out while Redis refuses connections says so (see
// [TimeoutError]); the hook stays on rdb after Close.
func New(rdb redis.UniversalClient, opts ...Option) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("redisstore: New: nil Redis client")
	}
	return newStore(rdb, false, opts)
}

// NewFromURL returns a Store on a Redis client built from url with go-redis's
// ParseURL (redis://[user:password@]host:port/db, rediss:// for TLS, with
// query options such as ?dial_timeout=1s), checked as [New] checks it. The
// store owns the client: [Store.Close] closes it. An error for an empty or
// malformed url names the url without its password.
func NewFromURL(url string, opts ...Option) (*Store, error) {
	if url == "" {
		// An unset environment variable, as often as not.
		return nil, errors.New(`redisstore: NewFromURL(""): empty URL, want redis://[user:password@]host:port/db`)
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		// net/url's errors quote the whole url, password included: keep
		// only what they say was wrong.
		var ue *neturl.Error
		var esc neturl.EscapeError
		switch {
		case errors.As(err, &esc):
			err = errors.New("malformed URL: invalid %-escape")
		case errors.As(err, &ue):
			err = fmt.Errorf("malformed URL: %v", ue.Err)
		}
		return nil, fmt.Errorf("redisstore: NewFromURL(%q): %w", redacted(url), err)
	}
	return newStore(redis.NewClient(o), true, opts)
}

// redacted returns url with its password, if any, replaced by "xxxxx". A
// string that is no URL with a scheme (it may be a secret pasted where the
// URL should be), a url net/url cannot parse, or one with an "@" outside a
// user-info part (a mistyped scheme, as in "redis//:password@host") is not
// shown at all.
func redacted(raw string) string {
	u, err := neturl.Parse(raw)
	switch {
	case err != nil:
		return "(unparsable)"
	case u.Scheme == "" || u.Opaque != "":
		return "(not a redis:// URL)"
	}
	if u.User == nil && strings.Contains(raw, "@") {
		return "(not shown: it may hold a password)"
	}
	return u.Redacted()
}

func newStore(rdb redis.UniversalClient, own bool, opts []Option) (*Store, error) {
	s, err := build(rdb, own, opts)
	if err != nil && own {
		_ = rdb.Close() // the store that would have owned it is not built
	}
	return s, err
}

func build(rdb redis.UniversalClient, own bool, opts []Option) (*Store, error) {
	s := &Store{rdb: rdb, prefix: DefaultPrefix, policy: FailClosed, share: 1, probe: DefaultProbeInterval,
		timeout: DefaultTimeout, sched: newSchedule(), hold: newHoldings(time.Now),
		closed: make(chan struct{}), ownClient: own, endedTTL: backend.EndedTTL, maxEnded: backend.MaxEnded}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("redisstore: New: nil Option")
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if s.policy == FailLocal {
		if !s.shareSet {
			return nil, errors.New("redisstore: WithFailurePolicy(FailLocal) needs WithLocalShare: the share of the quota one process may use alone")
		}
		s.fb = newFallback(s.share, s.probe, time.Now)
	}
	if s.log != nil {
		routeRedisLog(s.log)
	}
	s.dials = &dialWatch{}
	rdb.AddHook(s.dials)
	if _, err := call(s, context.Background(), func(ctx context.Context) (string, error) {
		return rdb.Ping(ctx).Result()
	}, nil); err != nil {
		return nil, &UnavailableError{Op: "New", Err: err}
	}
	s.startWatch()
	return s, nil
}

// Degraded reports whether the store is serving from its local share because
// Redis was unreachable (always false under [FailClosed]).
func (s *Store) Degraded() bool { return s.fb != nil && s.fb.degraded.Load() }

func (s *Store) logger() *slog.Logger {
	if s.log == nil {
		return discardLogger
	}
	return s.log
}

// discardLogger is the logger of a Store without [WithLogger].
var discardLogger = slog.New(slog.DiscardHandler)

func (s *Store) key(account string, parts ...string) string {
	return s.prefix + ":{" + account + "}:" + strings.Join(parts, ":")
}

func (s *Store) ledgerKeys(account string, res backend.Resource) []string {
	r := res.String()
	return []string{
		s.key(account, r, "pending"),
		s.key(account, r, "held"),
		s.key(account, r, "full"),
		s.key(account, r, "levels"),
		s.key(account, r, "epoch"),
		s.key(account, r, "grace"),
		s.key(account, r, "ended"),
	}
}

// unavailable reports whether err (from a call under ctx, whose parent is
// caller) means Redis trouble rather than a caller's cancellation or a bug.
func unavailable(caller context.Context, err error) bool {
	if err == nil || caller.Err() != nil {
		return false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) && !errors.Is(err, redis.ErrClosed) {
		msg := rerr.Error()
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	return true
}

// do runs remote against Redis under the failure policy and the store's
// deadline (see [call]): on Redis trouble it returns an *UnavailableError
// (FailClosed) or runs local (FailLocal); late, if not nil, gets remote's
// result when it comes after the caller has gone (FailClosed only: under
// FailLocal the local side has taken over the operation).
func do[T any](s *Store, ctx context.Context, op string, remote func(context.Context) (T, error), local func(*fallback) (T, error), late func(T, error)) (T, error) {
	var zero T
	if ctx == nil {
		return zero, fmt.Errorf("redisstore: %s: nil Context", op)
	}
	if s.isClosed() {
		return zero, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("redisstore: %s: %w", op, context.Cause(ctx))
	}
	fb := s.fb
	if fb == nil && s.queueLen() > 0 {
		// The write-back and this operation's own round trip share one
		// deadline; a lone round trip takes its deadline in call.
		ctx = s.withBudget(ctx)
		if !s.flushNow(ctx) {
			return zero, &UnavailableError{Op: op, Err: ErrBacklog}
		}
	}
	if fb != nil && fb.degraded.Load() && !fb.recover(s) {
		if local == nil {
			return zero, &UnavailableError{Op: op, Err: errDegraded}
		}
		if v, err, ok := runLocal(fb, local); ok {
			return v, localErr(op, err)
		}
		// Recovered meanwhile: go to Redis.
	}
	if fb != nil {
		late = nil
	}
	v, err := call(s, ctx, remote, late)
	if err == nil {
		if fb != nil || s.watch > 0 {
			// Once per store, with a deadline of its own.
			_, _ = call(s, context.WithValue(ctx, budgetKey{}, time.Now().Add(s.timeout)), func(ctx context.Context) (struct{}, error) {
				s.repl.learn(ctx, s.rdb)
				return struct{}{}, nil
			}, nil)
		}
		return v, nil
	}
	if errors.Is(err, ErrClosed) {
		return zero, ErrClosed
	}
	if errors.Is(err, redis.ErrClosed) {
		// The application closed the Redis client: the store is closed too.
		return zero, fmt.Errorf("redisstore: %s: %w", op, errors.Join(ErrClosed, err))
	}
	if !unavailable(ctx, err) {
		return zero, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if fb == nil || local == nil {
		if te := (*TimeoutError)(nil); fb == nil && errors.As(err, &te) {
			s.timedOut()
		}
		return zero, &UnavailableError{Op: op, Err: err}
	}
	if fb.degrade(s) {
		s.logger().Warn("redisstore: Redis unreachable; serving from the local share", "op", op, "share", s.share, "err", err)
	}
	if v, err, ok := runLocal(fb, local); ok {
		return v, localErr(op, err)
	}
	return zero, &UnavailableError{Op: op, Err: err}
}

// localErr makes a refusal of the local share an *UnavailableError whose
// cause matches quota.ErrExceeded: errors.Is finds both ErrUnavailable and
// quota.ErrExceeded, and the text says the refusal is the local share's, not
// the account's.
func localErr(op string, err error) error {
	if !errors.Is(err, quota.ErrExceeded) {
		return err
	}
	return &UnavailableError{Op: op, Err: err}
}

// localRefusal is the error of a reservation the local share refused.
func localRefusal(c backend.Change) error {
	return fmt.Errorf("refused by this process's local share (%d of %d) while Redis is unreachable: %w", c.Used, c.Limit, quota.ErrExceeded)
}

// TakeToken implements [backend.Store] with a GCRA bucket in Redis, on Redis
// server time: one EVALSHA per call.
func (s *Store) TakeToken(ctx context.Context, account string, class backend.Class, r backend.Rate, maxWait time.Duration) (time.Duration, bool, error) {
	if r.PerSecond < 0 || math.IsInf(r.PerSecond, 1) {
		return 0, true, nil // unlimited
	}
	if !(r.PerSecond > 0) {
		return 0, false, fmt.Errorf("redisstore: TakeToken: Rate.PerSecond %v: want a positive rate, or negative for unlimited", r.PerSecond)
	}
	type result struct {
		wait time.Duration
		ok   bool
	}
	id := bucketID{account, class}
	res, err := do(s, ctx, "TakeToken", func(ctx context.Context) (result, error) {
		horizon, gen := s.sched.last(id)
		vals, err := s.rateCall(id, r).run(ctx, s.rdb, max(maxWait.Microseconds(), 0), horizon, gen)
		if err != nil {
			return result{}, err
		}
		if len(vals) != 6 {
			return result{}, fmt.Errorf("rate script replied %v", vals)
		}
		s.sawGrant(ctx, id, r, vals, gen)
		return result{time.Duration(vals[1]) * time.Microsecond, vals[0] == 1}, nil
	}, func(fb *fallback) (result, error) {
		w, ok, err := fb.takeToken(ctx, id, r, maxWait)
		return result{w, ok}, err
	}, nil)
	return res.wait, res.ok, err
}

// lostBucket handles a bucket of account that Redis lost (the rate script
// re-seeded it): Redis has most likely lost the account's ledgers too, so
// this process writes its slots back now rather than at its next ledger
// operation.
// sawGrant records what a rate script's reply says of bucket id: vals are
// its granted (0 or 1), wait (µs), theoretical arrival time and Redis's now
// (µs), whether the bucket was lost (0 or 1) and its generation (0: the
// generation gen the call sent).
func (s *Store) sawGrant(ctx context.Context, id bucketID, r backend.Rate, vals []int64, gen int64) {
	if vals[5] == 0 {
		vals[5] = gen
	}
	s.sched.saw(id, booking{tat: vals[2], now: vals[3], at: time.Now(), rate: r, gen: vals[5]})
	if s.granted != nil && vals[0] == 1 {
		s.granted(id, vals[3]+vals[1])
	}
	if vals[4] == 1 {
		s.lostBucket(ctx, id.account)
	}
}

func (s *Store) lostBucket(ctx context.Context, account string) {
	s.logger().Warn("redisstore: Redis lost a request bucket; re-seeded from the tokens this process saw granted")
	for _, id := range s.hold.ledgers(account) {
		known := s.hold.epoch(id)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		vals, err := ledgerScript.Run(rctx, s.rdb, s.ledgerKeys(id.account, id.res), ledgerArgs("used", known, millis(2*s.probe), nil)...).Int64Slice()
		cancel()
		if err != nil || len(vals) != 4 {
			continue // the next ledger operation finds the loss
		}
		if s.hold.sawEpoch(id, vals[3]) {
			s.lostLedger(ctx, id, known)
		}
	}
}

// RateFactor implements [backend.Store].
func (s *Store) RateFactor(ctx context.Context, account string, class backend.Class) (float64, error) {
	return do(s, ctx, "RateFactor", func(ctx context.Context) (float64, error) {
		v, err := s.rdb.Get(ctx, s.key(account, "factor", class.String())).Result()
		if errors.Is(err, redis.Nil) {
			return 1, nil
		}
		if err != nil {
			return 0, err
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= 1) {
			return 1, nil
		}
		return f, nil
	}, func(fb *fallback) (float64, error) {
		return fb.local.RateFactor(ctx, account, class)
	}, nil)
}

// AdjustRateFactor implements [backend.Store] with one script: the factor is
// one key per account and class, read by every TakeToken of every process,
// with a PX expiry of ttl (deleted when raised back to 1).
func (s *Store) AdjustRateFactor(ctx context.Context, account string, class backend.Class, from, to float64, ttl time.Duration) (float64, error) {
	if !(to > 0 && to <= 1) || ttl <= 0 {
		return 0, &backend.FactorError{Factor: to, TTL: ttl}
	}
	return do(s, ctx, "AdjustRateFactor", func(ctx context.Context) (float64, error) {
		v, err := factorScript.Run(ctx, s.rdb, []string{s.key(account, "factor", class.String())},
			strconv.FormatFloat(from, 'g', -1, 64), strconv.FormatFloat(to, 'g', -1, 64), max(ttl.Milliseconds(), 1)).Text()
		if err != nil {
			return 0, err
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("factor script replied %q", v)
		}
		return f, nil
	}, func(fb *fallback) (float64, error) {
		return fb.local.AdjustRateFactor(ctx, account, class, from, to, ttl)
	}, nil)
}

// ReturnToken implements [backend.Store]: one script moves the bucket's
// theoretical arrival time back one interval, never before Redis server time.
func (s *Store) ReturnToken(ctx context.Context, account string, class backend.Class, r backend.Rate) error {
	if r.PerSecond < 0 || math.IsInf(r.PerSecond, 1) || !(r.PerSecond > 0) {
		return nil // unlimited, or a rate TakeToken refuses: nothing was taken
	}
	_, err := do(s, ctx, "ReturnToken", func(ctx context.Context) (struct{}, error) {
		keys := []string{s.key(account, "rate", class.String()), s.key(account, "factor", class.String())}
		moved, err := returnScript.Run(ctx, s.rdb, keys, strconv.FormatFloat(r.PerSecond, 'g', -1, 64)).Int64()
		if err == nil && moved == 1 && s.returned != nil {
			s.returned(bucketID{account, class})
		}
		return struct{}{}, err
	}, func(fb *fallback) (struct{}, error) {
		return struct{}{}, fb.local.ReturnToken(ctx, account, class, fb.rate(r))
	}, nil)
	return err
}

// ledgerArgs returns the script's leading arguments for op under b: known
// is the ledger's epoch as last seen (0: none) and grace how long a ledger
// found lost refuses reservations, in ms.
func ledgerArgs(op string, known, grace int64, b *backend.Bounds, extra ...any) []any {
	limit, hyst := -1, 1
	var levels []float64
	if b != nil {
		limit, hyst, levels = b.Limit, max(b.Hysteresis, 1), b.Levels
	}
	if limit < 0 {
		levels = nil
	}
	args := make([]any, 0, 6+2*len(levels)+len(extra))
	args = append(args, op, known, grace, limit, hyst, len(levels))
	for _, l := range levels {
		// A level's state is kept per limit: when the limit in force
		// changes (see backend.LimitsStore), the levels start afresh
		// rather than stay up at the old limit's rising points.
		args = append(args, strconv.FormatFloat(l, 'g', -1, 64)+"@"+strconv.Itoa(limit), backend.RisePoint(l, limit))
	}
	return append(args, extra...)
}

func millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(d.Milliseconds(), 1)
}

// ledgerReply is the decoded reply of a ledger script.
type ledgerReply struct {
	ok             bool
	grace          bool // a reservation refused for the ledger's grace
	change         backend.Change
	added, removed int
}

// runLedger runs op with extra arguments on the ledger of account and res,
// then after (when the script succeeded) to record what this process owns,
// all under s.wb held for reading. When the reply shows that Redis lost the
// ledger, it writes this process's slots back before returning.
func (s *Store) runLedger(ctx context.Context, account string, res backend.Resource, b *backend.Bounds, op string, extra []any, after func(ledgerReply)) (ledgerReply, error) {
	id := ledgerID{account, res}
	s.wb.RLock()
	known := s.hold.epoch(id)
	vals, err := ledgerScript.Run(ctx, s.rdb, s.ledgerKeys(account, res), ledgerArgs(op, known, millis(2*s.probe), b, extra...)...).Int64Slice()
	if err != nil {
		s.wb.RUnlock()
		return ledgerReply{}, err
	}
	if len(vals) < 6 || (len(vals)-6)%2 != 0 {
		s.wb.RUnlock()
		return ledgerReply{}, fmt.Errorf("ledger script replied %v", vals)
	}
	lost := s.hold.sawEpoch(id, vals[5])
	s.hold.sawUsed(id, int(vals[1]))
	r, err := decodeLedger(vals, b)
	if err == nil && after != nil {
		after(r)
	}
	s.wb.RUnlock()
	if lost {
		s.lostLedger(ctx, id, known)
	}
	return r, err
}

func decodeLedger(vals []int64, b *backend.Bounds) (ledgerReply, error) {
	r := ledgerReply{
		ok:      vals[0] == 1,
		grace:   vals[0] == 2,
		change:  backend.Change{Used: int(vals[1]), Changed: vals[2] == 1},
		added:   int(vals[3]),
		removed: int(vals[4]),
	}
	for i := 6; i+1 < len(vals); i += 2 {
		if vals[i] == 0 {
			r.change.Seq = uint64(vals[i+1])
			continue
		}
		idx := int(vals[i]) - 1
		if b == nil || idx < 0 || idx >= len(b.Levels) {
			return ledgerReply{}, fmt.Errorf("ledger script replied crossing of level %d", idx+1)
		}
		r.change.Crossings = append(r.change.Crossings, backend.Crossing{Level: b.Levels[idx], Rising: vals[i+1] == 1})
	}
	return r, nil
}

// Reserve implements [backend.Store]: the check and the add are one script.
func (s *Store) Reserve(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	r, err := do(s, ctx, "Reserve", func(ctx context.Context) (ledgerReply, error) {
		return s.runLedger(ctx, account, res, b, "reserve", []any{key, millis(ttl)}, func(r ledgerReply) {
			if r.change.Changed {
				s.hold.owned(ledgerID{account, res}, key, false, ttl)
			}
		})
	}, func(fb *fallback) (ledgerReply, error) {
		// A refusal here is the local share's: an error, so that it is not
		// taken for the account's (see localErr).
		c, err := fb.local.Reserve(ctx, account, res, key, fb.bounds(ledgerID{account, res}, b), ttl)
		if err == nil && c.Refused {
			err = localRefusal(c)
		}
		switch {
		case err == nil && c.Changed:
			fb.journal(account, res, key, false, ttl)
		case err != nil:
			// The reservation that failed over here may still run in a
			// Redis that hung (its command queued): give it back there
			// on recovery, or it would hold a slot until it lapses.
			fb.forget(account, res, key)
		}
		return ledgerReply{ok: true, change: c}, err
	}, func(r ledgerReply, err error) {
		// Redis took the reservation after the caller had given up on it
		// (a hung Redis that resumed): give it back, or it would hold a
		// slot until it lapses.
		if err == nil && r.change.Changed {
			s.giveBack(account, res, key, b)
		}
	})
	switch {
	case err != nil:
		return r.change, err
	case r.grace:
		return r.change, &UnavailableError{Op: "Reserve", Err: ErrGrace}
	case !r.ok:
		// A fact, not an error: package quota builds the error.
		r.change.Refused, r.change.Limit = true, -1
		if b != nil {
			r.change.Limit = b.Limit
		}
	}
	return r.change, nil
}

// giveBack releases in Redis a reservation taken after its caller had gone.
func (s *Store) giveBack(account string, res backend.Resource, key string, b *backend.Bounds) {
	_, err := call(s, context.Background(), func(ctx context.Context) (ledgerReply, error) {
		return s.runLedger(ctx, account, res, b, "release", []any{key, millis(s.endedTTL), s.maxEnded}, func(ledgerReply) {
			s.hold.disowned(ledgerID{account, res}, key)
		})
	}, nil)
	if err != nil && !errors.Is(err, ErrClosed) {
		s.logger().Warn("redisstore: giving back a reservation Redis took after its caller had gone failed; it lapses with its ttl", "err", err)
	}
}

// Commit implements [backend.Store]. Under [FailClosed], while Redis cannot
// be reached, it is queued and written back when Redis answers (see the
// package doc), rather than refused: Twilio reported the Room or
// Participant.
func (s *Store) Commit(ctx context.Context, account string, res backend.Resource, key, holdKey string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	return s.fact(ctx, "Commit", queued{op: "commit", id: ledgerID{account, res}, key: key, holdKey: holdKey, b: b, ttl: ttl}, func(ctx context.Context) (backend.Change, error) {
		return s.commitOp(ctx, account, res, key, holdKey, b, ttl)
	})
}

func (s *Store) commitOp(ctx context.Context, account string, res backend.Resource, key, holdKey string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	r, err := do(s, ctx, "Commit", func(ctx context.Context) (ledgerReply, error) {
		return s.runLedger(ctx, account, res, b, "commit", []any{key, holdKey, millis(ttl), millis(s.endedTTL)}, func(ledgerReply) {
			s.hold.disowned(ledgerID{account, res}, key)
			s.hold.owned(ledgerID{account, res}, holdKey, true, ttl)
		})
	}, func(fb *fallback) (ledgerReply, error) {
		c, err := fb.local.Commit(ctx, account, res, key, holdKey, fb.bounds(ledgerID{account, res}, b), ttl)
		if err == nil {
			if key != holdKey {
				fb.forget(account, res, key)
			}
			fb.journal(account, res, holdKey, true, ttl)
		}
		return ledgerReply{ok: true, change: c}, err
	}, nil)
	return r.change, err
}

// Hold implements [backend.Store]; under [FailClosed] it is queued while
// Redis cannot be reached, as Commit is.
func (s *Store) Hold(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	return s.fact(ctx, "Hold", queued{op: "hold", id: ledgerID{account, res}, key: key, b: b, ttl: ttl}, func(ctx context.Context) (backend.Change, error) {
		return s.holdOp(ctx, account, res, key, b, ttl)
	})
}

func (s *Store) holdOp(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	r, err := do(s, ctx, "Hold", func(ctx context.Context) (ledgerReply, error) {
		return s.runLedger(ctx, account, res, b, "hold", []any{key, millis(ttl), millis(s.endedTTL)}, func(r ledgerReply) {
			if r.change.Changed {
				s.hold.owned(ledgerID{account, res}, key, true, ttl)
			}
		})
	}, func(fb *fallback) (ledgerReply, error) {
		c, err := fb.local.Hold(ctx, account, res, key, fb.bounds(ledgerID{account, res}, b), ttl)
		if err == nil && c.Changed {
			fb.journal(account, res, key, true, ttl)
		}
		return ledgerReply{ok: true, change: c}, err
	}, nil)
	return r.change, err
}

// Release implements [backend.Store]; under [FailClosed] it is queued while
// Redis cannot be reached, as Commit is.
func (s *Store) Release(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds) (backend.Change, error) {
	return s.fact(ctx, "Release", queued{op: "release", id: ledgerID{account, res}, key: key, b: b}, func(ctx context.Context) (backend.Change, error) {
		return s.releaseOp(ctx, account, res, key, b)
	})
}

func (s *Store) releaseOp(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds) (backend.Change, error) {
	r, err := do(s, ctx, "Release", func(ctx context.Context) (ledgerReply, error) {
		return s.runLedger(ctx, account, res, b, "release", []any{key, millis(s.endedTTL), s.maxEnded}, func(ledgerReply) {
			s.hold.disowned(ledgerID{account, res}, key)
		})
	}, func(fb *fallback) (ledgerReply, error) {
		c, err := fb.local.Release(ctx, account, res, key, fb.bounds(ledgerID{account, res}, b))
		if err == nil {
			fb.forget(account, res, key)
		}
		return ledgerReply{ok: true, change: c}, err
	}, nil)
	return r.change, err
}

// Sync implements [backend.Store]. It needs Redis: while degraded it returns
// an *UnavailableError under either policy, since the holdings it would
// replace are the whole account's.
func (s *Store) Sync(ctx context.Context, account string, res backend.Resource, keys []string, b *backend.Bounds, ttl, keep time.Duration) (backend.Change, int, int, error) {
	extra := make([]any, 0, 4+len(keys))
	extra = append(extra, millis(ttl), millis(keep), millis(s.endedTTL), s.maxEnded)
	for _, k := range keys {
		extra = append(extra, k)
	}
	r, err := do(s, ctx, "Sync", func(ctx context.Context) (ledgerReply, error) {
		return s.runLedger(ctx, account, res, b, "sync", extra, func(ledgerReply) {
			s.hold.synced(ledgerID{account, res}, keys)
		})
	}, nil, nil)
	return r.change, r.added, r.removed, err
}

// MarkFull implements [backend.Store] with a key that expires after d.
func (s *Store) MarkFull(ctx context.Context, account string, res backend.Resource, d time.Duration) error {
	_, err := do(s, ctx, "MarkFull", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, ledgerScript.Run(ctx, s.rdb, s.ledgerKeys(account, res), ledgerArgs("markfull", 0, 0, nil, millis(d))...).Err()
	}, func(fb *fallback) (struct{}, error) {
		return struct{}{}, fb.local.MarkFull(ctx, account, res, d)
	}, nil)
	return err
}

// Used implements [backend.Store]. While degraded it reports the local share.
func (s *Store) Used(ctx context.Context, account string, res backend.Resource) (int, bool, error) {
	type result struct {
		used int
		full bool
	}
	r, err := do(s, ctx, "Used", func(ctx context.Context) (result, error) {
		vals, err := s.readLedger(ctx, account, res, "used", 4)
		if err != nil {
			return result{}, err
		}
		return result{int(vals[1]), vals[2] == 1}, nil
	}, func(fb *fallback) (result, error) {
		u, f, err := fb.local.Used(ctx, account, res)
		return result{u, f}, err
	}, nil)
	return r.used, r.full, err
}

// Holds implements [backend.Store]. While degraded it reports the local share.
func (s *Store) Holds(ctx context.Context, account string, res backend.Resource, key string) (bool, error) {
	return do(s, ctx, "Holds", func(ctx context.Context) (bool, error) {
		vals, err := s.readLedger(ctx, account, res, "holds", 3, key)
		if err != nil {
			return false, err
		}
		return vals[1] == 1, nil
	}, func(fb *fallback) (bool, error) {
		return fb.local.Holds(ctx, account, res, key)
	}, nil)
}

// readLedger runs a reading op ("used", "holds") whose reply has n values,
// the ledger's epoch last; a loss it shows is handled as in runLedger.
func (s *Store) readLedger(ctx context.Context, account string, res backend.Resource, op string, n int, extra ...any) ([]int64, error) {
	id := ledgerID{account, res}
	known := s.hold.epoch(id)
	vals, err := ledgerScript.Run(ctx, s.rdb, s.ledgerKeys(account, res), ledgerArgs(op, known, millis(2*s.probe), nil, extra...)...).Int64Slice()
	if err != nil {
		return nil, err
	}
	if len(vals) != n {
		return nil, fmt.Errorf("ledger script replied %v", vals)
	}
	if op == "used" {
		s.hold.sawUsed(id, int(vals[1]))
	}
	if s.hold.sawEpoch(id, vals[n-1]) {
		s.lostLedger(ctx, id, known)
	}
	return vals, nil
}

var _ backend.Store = (*Store)(nil)
