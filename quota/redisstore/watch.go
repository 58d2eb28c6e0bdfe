package redisstore

import (
	"context"
	"fmt"
	"time"
)

// WithWatch makes the store look, every d and in a goroutine of its own,
// for what an idle process would otherwise learn only at its next operation:
// whether Redis lost a ledger this process holds slots in (then it writes
// them back at once, within the grace during which the ledger refuses new
// reservations), and, while degraded under [FailLocal], whether Redis answers
// again (then it switches back, at most once per probe interval). Each look
// costs one round trip per ledger this process holds slots in. [Store.Close]
// stops the goroutine. Zero (the default) watches nothing; d should be under
// the probe interval, since the grace is two of them.
//
// The watch also follows Redis's replication ID (not on a Redis Cluster): a
// replica promoted by a failover may have missed the old master's last
// writes while keeping the ledgers' epochs, so on a new ID the store writes
// all its slots back, with the grace, as after a loss.
func WithWatch(d time.Duration) Option {
	return func(s *Store) error {
		if d < 0 {
			return fmt.Errorf("redisstore: WithWatch(%v): want a positive interval, or 0 for none", d)
		}
		s.watch = d
		return nil
	}
}

// startWatch starts the watch goroutine if [WithWatch] asked for one.
func (s *Store) startWatch() {
	if s.watch <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.stopped = make(chan struct{})
	go func() {
		defer close(s.stopped)
		t := time.NewTicker(s.watch)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.look(ctx)
			}
		}
	}()
}

// look is one round of the watch.
func (s *Store) look(ctx context.Context) {
	if fb := s.fb; fb != nil && fb.degraded.Load() {
		fb.recover(s)
		return
	}
	changed, err := call(s, ctx, func(ctx context.Context) (bool, error) {
		return s.repl.changed(ctx, s.rdb), nil
	}, nil)
	if err != nil {
		return
	}
	if changed {
		// A replica was promoted and may have missed the last writes, with
		// the ledgers' epochs: write every slot back, with the grace.
		for _, id := range s.hold.held() {
			s.lostLedger(ctx, id, -1)
		}
		return
	}
	for _, id := range s.hold.held() {
		if ctx.Err() != nil {
			return
		}
		// A reading operation: a loss it shows is written back at once.
		_, _ = call(s, ctx, func(ctx context.Context) ([]int64, error) {
			return s.readLedger(ctx, id.account, id.res, "used", 4)
		}, nil)
	}
}
