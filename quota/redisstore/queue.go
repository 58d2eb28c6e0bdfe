package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota/backend"
)

// maxQueued bounds the writes a [FailClosed] store keeps while Redis is
// unreachable (see [writeQueue]): about 1 MB. Past it, Hold, Commit and
// Release return an *UnavailableError again.
const maxQueued = 10000

// flushBatch is how many queued writes go to Redis in one pipeline, under
// one deadline.
const flushBatch = 500

// ErrBacklog is the cause, inside an *[UnavailableError], of an operation
// of a [FailClosed] store refused while the writes it queued when Redis was
// unreachable (Hold, Commit, Release: what Twilio reported) are not yet all
// written back: a decision then would miss them.
var ErrBacklog = errors.New("redisstore: writes queued while Redis was unreachable are not yet written back")

// queued is a ledger write Twilio reported (a Hold, Commit or Release) that
// a FailClosed store could not take to Redis.
type queued struct {
	op           string // "hold", "commit" or "release"
	id           ledgerID
	key, holdKey string
	b            *backend.Bounds // a copy
	ttl          time.Duration
	at           time.Time // when it was queued, to shorten ttl
}

// writeQueue keeps, under [FailClosed], the ledger writes that report what
// Twilio did (a Room or Participant that exists, one that ended) while
// Redis cannot be reached, so that no status callback is lost: each is
// applied to the queue at once, and a goroutine writes the queue back to
// Redis, in order, once Redis answers, trying every probe interval. While
// the queue is not empty every other operation first tries to write it back
// (one at a time, within the deadline) and otherwise returns an
// *UnavailableError (ErrBacklog), so that nothing is decided on a ledger
// that misses them.
// The writes are idempotent (sets keyed by SID), so one that Redis also ran
// late counts once.
type writeQueue struct {
	ops     []queued
	running bool      // the flusher runs; guarded with ops by Store.qmu
	retryAt time.Time // before it, operations do not try a write-back (one failed), and writes go to the queue (an operation timed out)
}

// timedOut notes that an operation found Redis hung (it did not answer
// within the deadline): for a probe interval, the writes that report what
// Twilio did go to the queue without waiting another deadline each, as they
// do once one is queued. So a create whose reservation timed out gives it
// back at once, not one deadline later.
func (s *Store) timedOut() {
	s.qmu.Lock()
	if at := time.Now().Add(s.probe); at.After(s.q.retryAt) {
		s.q.retryAt = at
	}
	s.qmu.Unlock()
}

// queueing reports whether a write must go to the queue: writes wait there
// already, or an operation timed out less than a probe interval ago.
func (s *Store) queueing() bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return len(s.q.ops) > 0 || time.Now().Before(s.q.retryAt)
}

// queueLen returns how many writes wait to be written back.
func (s *Store) queueLen() int {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return len(s.q.ops)
}

// enqueue adds w to the queue and starts the flusher if none runs. It
// reports false when the queue is full or the store closed. The Change it
// returns is a guess from the last usage seen, without crossings: the
// crossings of the writes written back later are not reported.
func (s *Store) enqueue(w queued) (backend.Change, bool) {
	if w.b != nil {
		b := *w.b
		w.b = &b
	}
	w.at = time.Now()
	s.qmu.Lock()
	if len(s.q.ops) >= maxQueued || s.isClosed() {
		s.qmu.Unlock()
		return backend.Change{}, false
	}
	s.q.ops = append(s.q.ops, w)
	n := len(s.q.ops)
	if n == 1 {
		// Redis just failed this write: the next try is the flusher's.
		s.q.retryAt = time.Now().Add(s.probe)
	}
	if !s.q.running {
		s.q.running = true
		s.probes.Add(1) // under qmu, so that Close's Wait comes after
		go s.flusher()
	}
	s.qmu.Unlock()
	if n == 1 {
		s.logger().Warn("redisstore: Redis unreachable; queueing the writes Twilio reported until it answers", "op", w.op)
	}
	used, _ := s.hold.usedOf(w.id)
	if w.op == "release" {
		used = max(used-1, 0)
	} else {
		used++
	}
	return backend.Change{Used: used, Changed: true}, true
}

// flusher writes the queue back every probe interval until it is empty or
// the store is closed.
func (s *Store) flusher() {
	defer s.probes.Done()
	t := time.NewTimer(s.probe)
	defer t.Stop()
	written := 0
	for {
		select {
		case <-s.closed:
			if n := s.queueLen(); n > 0 {
				s.logger().Error("redisstore: closed with writes not written back to Redis; the next reconciliation restores them", "writes", n)
			}
			return
		case <-t.C:
		}
		for s.flushMu.TryLock() {
			n, err := s.flushOnce(context.Background())
			s.flushMu.Unlock()
			if err != nil {
				break
			}
			written += n
			s.qmu.Lock()
			if len(s.q.ops) == 0 {
				s.q.running = false
				s.qmu.Unlock()
				s.logger().Info("redisstore: Redis reachable again; queued writes written back", "writes", written)
				return
			}
			s.qmu.Unlock()
		}
		t.Reset(s.probe)
	}
}

// flushNow writes the whole queue back, unless a write-back is under way
// already, and reports whether the queue is empty: the first operation after
// Redis returns does not wait for the flusher's next try.
//
// After a failed try, operations do not try again for a probe interval
// (the flusher does): each try may cost the deadline.
func (s *Store) flushNow(ctx context.Context) bool {
	s.qmu.Lock()
	wait := time.Now().Before(s.q.retryAt)
	s.qmu.Unlock()
	if wait || !s.flushMu.TryLock() {
		return false
	}
	defer s.flushMu.Unlock()
	for s.queueLen() > 0 {
		// ctx's budget bounds the whole write-back, however many batches
		// the queue holds or writes arrive meanwhile.
		if _, err := s.flushOnce(ctx); err != nil {
			s.qmu.Lock()
			s.q.retryAt = time.Now().Add(s.probe)
			s.qmu.Unlock()
			return false
		}
	}
	return true
}

// flushOnce writes the first flushBatch queued writes back in one pipeline
// under the store's deadline and drops them from the queue.
func (s *Store) flushOnce(ctx context.Context) (int, error) {
	s.qmu.Lock()
	batch := append([]queued(nil), s.q.ops[:min(len(s.q.ops), flushBatch)]...)
	s.qmu.Unlock()
	if len(batch) == 0 {
		return 0, nil
	}
	_, err := call(s, ctx, func(ctx context.Context) (struct{}, error) {
		if err := ledgerScript.Load(ctx, s.rdb).Err(); err != nil {
			return struct{}{}, err
		}
		// Each write carries the ledger's epoch as last seen, so that a
		// Redis that lost its data meanwhile is found as by any call.
		known := make(map[ledgerID]int64)
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(batch))
		for i, w := range batch {
			if _, ok := known[w.id]; !ok {
				known[w.id] = s.hold.epoch(w.id)
			}
			cmds[i] = ledgerScript.EvalSha(ctx, pipe, s.ledgerKeys(w.id.account, w.id.res), w.args(known[w.id], millis(2*s.probe), s.endedTTL, s.maxEnded)...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return struct{}{}, err
		}
		lost := make(map[ledgerID]bool)
		for i, w := range batch {
			vals, err := cmds[i].Int64Slice()
			if err != nil || len(vals) < 6 {
				continue
			}
			if s.hold.sawEpoch(w.id, vals[5]) {
				lost[w.id] = true
			}
			switch w.op {
			case "hold":
				s.hold.owned(w.id, w.key, true, w.ttl)
			case "commit":
				s.hold.disowned(w.id, w.key)
				s.hold.owned(w.id, w.holdKey, true, w.ttl)
			case "release":
				s.hold.disowned(w.id, w.key)
			}
		}
		// Redis lost these ledgers: the slots this process holds, the
		// queued writes applied, go back now, as after any call.
		for id := range lost {
			s.lostLedger(ctx, id, known[id])
		}
		return struct{}{}, nil
	}, nil)
	if err != nil {
		return 0, err
	}
	s.qmu.Lock()
	s.q.ops = s.q.ops[len(batch):]
	if len(s.q.ops) == 0 {
		s.q.ops = nil // let the backing array go
	}
	s.qmu.Unlock()
	return len(batch), nil
}

// args returns the ledger script's arguments for w, its ttl shortened by the
// time it waited; known and grace are as for every ledger call.
func (w queued) args(known, grace int64, endedTTL time.Duration, maxEnded int) []any {
	ttl := w.ttl
	if ttl > 0 {
		ttl = max(ttl-time.Since(w.at), time.Millisecond)
	}
	switch w.op {
	case "commit":
		return ledgerArgs("commit", known, grace, w.b, w.key, w.holdKey, millis(ttl), millis(endedTTL))
	case "release":
		return ledgerArgs("release", known, grace, w.b, w.key, millis(endedTTL), maxEnded)
	}
	return ledgerArgs("hold", known, grace, w.b, w.key, millis(ttl), millis(endedTTL))
}

// fact runs a ledger write that reports what Twilio did (Hold, Commit,
// Release): under [FailClosed], when Redis cannot be reached or writes are
// queued already, it is queued (see [writeQueue]) rather than refused.
func (s *Store) fact(ctx context.Context, op string, w queued, run func(context.Context) (backend.Change, error)) (backend.Change, error) {
	if s.fb != nil || ctx == nil {
		return run(ctx)
	}
	ctx = s.withBudget(ctx)
	if ctx.Err() == nil && s.queueing() && !s.flushNow(ctx) {
		if c, ok := s.enqueue(w); ok {
			return c, nil
		}
	}
	c, err := run(ctx)
	if errors.Is(err, ErrUnavailable) {
		if qc, ok := s.enqueue(w); ok {
			return qc, nil
		}
	}
	return c, err
}
