package redisstore

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota/backend"
)

// rateCall is what a call of the rate script on one bucket sends that does
// not change from call to call: its four keys and its constant arguments,
// built and boxed once, so that a grant builds no key and formats no number.
type rateCall struct {
	rate backend.Rate
	keys [4]any // KEYS[1..4] of rate.lua
	conf [4]any // ARGV[1] rate, ARGV[2] burst, ARGV[5] share, ARGV[6] calm ms
	// wait and gen are the last ARGV[3] and ARGV[7] sent, boxed: most calls
	// send the same values again (the longest wait of a caller without a
	// deadline, the generation seen), so they are boxed once.
	wait, gen atomic.Pointer[boxed]
}

// boxed is an int64 and the same value as an interface.
type boxed struct {
	v   int64
	box any
}

// box returns v as an interface, reusing the one in p when it holds v.
func box(p *atomic.Pointer[boxed], v int64) any {
	if b := p.Load(); b != nil && b.v == v {
		return b.box
	}
	b := &boxed{v: v, box: v}
	p.Store(b)
	return b.box
}

// rateArgs holds the arguments of one EVALSHA of the rate script: 3 + 4
// keys + 7 arguments. Pooled, so that a grant allocates none.
type rateArgs [14]any

var rateArgsPool = sync.Pool{New: func() any { return new(rateArgs) }}

// maxRateCalls bounds the cache of rate calls: two buckets per account, so
// 2,048 accounts; past it the cache starts over.
const maxRateCalls = 4096

// rateCalls caches a rateCall per bucket. It is safe for simultaneous use.
type rateCalls struct {
	mu sync.RWMutex
	m  map[bucketID]*rateCall
}

// rateCall returns the call of the rate script for id at the ceiling r.
func (s *Store) rateCall(id bucketID, r backend.Rate) *rateCall {
	s.calls.mu.RLock()
	c := s.calls.m[id]
	s.calls.mu.RUnlock()
	if c != nil && c.rate == r {
		return c
	}
	class := id.class.String()
	c = &rateCall{rate: r}
	c.keys = [4]any{s.key(id.account, "rate", class), s.key(id.account, "factor", class),
		s.key(id.account, "calm"), s.key(id.account, "gen")}
	c.conf = [4]any{strconv.FormatFloat(r.PerSecond, 'g', -1, 64), max(r.Burst, 1),
		strconv.FormatFloat(s.share, 'g', -1, 64), millis(2 * s.probe)}
	s.calls.mu.Lock()
	if s.calls.m == nil || len(s.calls.m) >= maxRateCalls {
		s.calls.m = make(map[bucketID]*rateCall)
	}
	s.calls.m[id] = c
	s.calls.mu.Unlock()
	return c
}

// rateScriptSHA is the SHA1 of rate.lua, boxed once.
var rateScriptSHA any = rateScript.Hash()

// run runs the rate script with the variable arguments maxWait (µs),
// horizon and gen (see rate.lua): one EVALSHA, or an EVAL when the server
// does not have the script yet, as redis.Script.Run does.
func (c *rateCall) run(ctx context.Context, rdb redis.UniversalClient, maxWait, horizon, gen int64) ([]int64, error) {
	a := rateArgsPool.Get().(*rateArgs)
	*a = rateArgs{"evalsha", rateScriptSHA, 4, c.keys[0], c.keys[1], c.keys[2], c.keys[3],
		c.conf[0], c.conf[1], box(&c.wait, maxWait), horizon, c.conf[2], c.conf[3], box(&c.gen, gen)}
	cmd := redis.NewCmd(ctx, a[:]...)
	_ = rdb.Process(ctx, cmd) // the error is cmd's
	if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		a[0], a[1] = "eval", rateSource
		cmd = redis.NewCmd(ctx, a[:]...)
		_ = rdb.Process(ctx, cmd)
	}
	vals, err := cmd.Int64Slice()
	// go-redis keeps no reference to the arguments once Process returns.
	*a = rateArgs{}
	rateArgsPool.Put(a)
	return vals, err
}
