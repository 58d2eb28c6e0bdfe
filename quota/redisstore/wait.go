package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota"
)

// DefaultTimeout is how long an operation waits for Redis, unless
// [WithTimeout] says otherwise: a Lua script on loopback or a LAN answers in
// well under a millisecond, so half a second is a Redis in trouble.
const DefaultTimeout = 500 * time.Millisecond

// ErrClosed is returned by the operations of a closed [Store], and by those
// that were waiting on Redis when [Store.Close] was called.
// errors.Is(err, quota.ErrClosed) holds for it too.
var ErrClosed error = closedError{}

type closedError struct{}

func (closedError) Error() string { return "redisstore: store closed" }

// Is reports whether target is quota.ErrClosed, the quota package's.
func (closedError) Is(target error) bool { return target == quota.ErrClosed }

// TimeoutError is the cause, inside an *[UnavailableError], of an operation
// that Redis did not answer within the store's deadline ([WithTimeout]).
type TimeoutError struct {
	Timeout time.Duration // the deadline in force
	// Dial is the error of the Redis client's last dial when it failed
	// during the wait or one deadline before it, with no dial succeeding
	// since (nil otherwise): Redis could not be reached at all (a refused
	// connection, an unknown host), as opposed to a Redis that is slow.
	Dial error
}

// Error says how long the store waited, and why the last dial failed when
// one did.
func (e *TimeoutError) Error() string {
	if e.Dial != nil {
		return fmt.Sprintf("redisstore: no answer from Redis within %v; the last dial failed: %v", e.Timeout, e.Dial)
	}
	return fmt.Sprintf("redisstore: no answer from Redis within %v", e.Timeout)
}

// Unwrap returns the failed dial's error, if any.
func (e *TimeoutError) Unwrap() error { return e.Dial }

// dialWatch is a go-redis hook that keeps the outcome of the Redis client's
// latest dial, so that an operation that times out can say that Redis could
// not be reached at all: go-redis redials a refused connection with backoff
// and, when that outlasts the store's deadline, returns only the end of the
// wait. [New] adds it to the client (a hook cannot be removed: it stays on a
// client the caller owns after Close, keeping only the last dial's error).
type dialWatch struct {
	last atomic.Pointer[dialFailure] // nil after a dial that succeeded
}

type dialFailure struct {
	err error
	at  time.Time
}

// DialHook records each dial's outcome.
func (w *dialWatch) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			w.last.Store(&dialFailure{err: err, at: time.Now()})
		} else {
			w.last.Store(nil)
		}
		return c, err
	}
}

// ProcessHook passes commands through.
func (w *dialWatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

// ProcessPipelineHook passes pipelines through.
func (w *dialWatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// failedSince returns the error of the latest dial if it failed at or
// after t and none has succeeded since.
func (w *dialWatch) failedSince(t time.Time) error {
	if w == nil {
		return nil
	}
	if f := w.last.Load(); f != nil && !f.at.Before(t) {
		return f.err
	}
	return nil
}

// call runs f, which talks to Redis, in a goroutine of its own, and returns
// its result, or as soon as the store's deadline passes (a *TimeoutError),
// ctx ends (ctx's cause) or the store is closed ([ErrClosed]), whichever
// comes first. So a call never waits on Redis longer than the deadline,
// whatever the Redis client's own timeouts and retries: a client built
// without ContextTimeoutEnabled reads on for its ReadTimeout (3 s by
// default), retried. f's ctx ends when call returns; f itself ends when the
// Redis client returns, which is bounded by the client's timeouts. If the
// caller has gone by then and late is not nil, late gets f's result, on f's
// goroutine (a Reserve applied late is given back that way).
func call[T any](s *Store, ctx context.Context, f func(context.Context) (T, error), late func(T, error)) (T, error) {
	var zero T
	if s.isClosed() {
		return zero, ErrClosed
	}
	start := time.Now()
	rctx, cancel := context.WithDeadline(s.tag(ctx), s.deadline(ctx))
	defer cancel()
	op := &callOp[T]{done: make(chan callResult[T], 1)}
	go op.run(rctx, f, late)
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case r := <-op.done:
		if r.err == nil || rctx.Err() == nil {
			return r.v, r.err
		}
		// The Redis client gave up on rctx's end (a pool wait, a retry):
		// say why as below.
	case <-rctx.Done():
	case <-s.closed:
	}
	op.mu.Lock()
	select {
	case r := <-op.done: // answered just in time
		op.mu.Unlock()
		if r.err == nil || rctx.Err() == nil {
			return r.v, r.err
		}
	default:
		op.gone = true
		op.mu.Unlock()
	}
	switch {
	case s.isClosed():
		return zero, ErrClosed
	case ctx.Err() != nil:
		return zero, context.Cause(ctx)
	}
	return zero, &TimeoutError{Timeout: s.timeout, Dial: s.dials.failedSince(start.Add(-s.timeout))}
}

// callOp is one [call]: its result, handed over on done unless the caller
// has gone.
type callOp[T any] struct {
	done chan callResult[T]
	mu   sync.Mutex // guards gone
	gone bool       // the caller has returned without the result
}

type callResult[T any] struct {
	v   T
	err error
}

// run runs f and hands its result to the caller, or to late when the
// caller has gone.
func (op *callOp[T]) run(ctx context.Context, f func(context.Context) (T, error), late func(T, error)) {
	v, err := f(ctx)
	op.mu.Lock()
	left := op.gone
	if !left {
		op.done <- callResult[T]{v, err}
	}
	op.mu.Unlock()
	if left && late != nil {
		late(v, err)
	}
}

// budgetKey marks the ctx of one store operation with the time by which it
// must be done: the round trips it makes (a write-back of queued writes,
// then its own) share one deadline.
type budgetKey struct{}

// withBudget returns ctx with the operation's deadline, now plus the store's
// timeout, unless ctx has one already.
func (s *Store) withBudget(ctx context.Context) context.Context {
	if _, ok := ctx.Value(budgetKey{}).(time.Time); ok {
		return ctx
	}
	return context.WithValue(ctx, budgetKey{}, time.Now().Add(s.timeout))
}

// deadline returns the time by which a round trip under ctx must be done.
func (s *Store) deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Value(budgetKey{}).(time.Time); ok {
		return d
	}
	return time.Now().Add(s.timeout)
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Close ends the store: the operations waiting on Redis return [ErrClosed]
// at once, later ones return it without sending anything, and the goroutine
// of [WithWatch] and the recovery probes of [FailLocal] are stopped and
// waited for. A store built by [NewFromURL]
// closes its Redis client too; one built by [New] leaves the client, which
// the caller owns, open: a command the store had sent then ends when the
// client's own timeout ends it. A second Close does nothing and returns nil.
// Close returns the error of closing the client, if any.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		// The flusher of the write queue starts under qmu unless the store
		// is closed: after this, none starts.
		s.qmu.Lock()
		s.q.running = true
		s.qmu.Unlock()
		if s.fb != nil {
			// A recovery probe starts under probeMu unless the store is
			// closed: after this, none starts, and those running end at once.
			s.fb.probeMu.Lock()
			s.fb.probing = true // and none starts again
			s.fb.probeMu.Unlock()
		}
		s.probes.Wait()
		if s.stop != nil {
			s.stop()
			<-s.stopped
		}
		if s.ownClient {
			err = s.rdb.Close()
		}
	})
	return err
}

// ErrGrace is the cause, inside an *[UnavailableError], of a reservation
// refused during a ledger's grace: for two probe intervals after a
// write-back (a recovery under [FailLocal], or Redis found to have lost its
// data), while the processes write back the slots they took, no reservation
// is admitted. See the package doc.
var ErrGrace = errors.New("redisstore: ledger in its grace after a write-back (two probe intervals): processes are writing back the slots they took while Redis was away or lost its data")
