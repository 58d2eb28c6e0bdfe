// Package invariant samples the first law of the concurrency ledger from
// outside: the ledger never counts fewer Rooms (or Participants) than
// Twilio holds. A [Sampler] reads what exists (the emulator's count) and
// then what the ledger counts (held plus pending in the store), as fast as
// it can, and counts the samples where the ledger was below.
//
// The order of the two reads matters: every Room is reserved before it is
// created, so a Room created between the reads is counted by the second
// one. A Room that ends between them may be released before the second
// read, so the law is sampled this way only while nothing ends (creates,
// connects), and checked at quiescence otherwise.
//
// The fault tests of package video and the load harness use it.
package invariant

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Count reads one side of a sample; an error skips the sample.
type Count func() (int, error)

// Sampler samples exist then counted on a goroutine of its own until
// [Sampler.Stop]. It is safe for simultaneous use.
type Sampler struct {
	samples, below, worst atomic.Int64
	stop                  chan struct{}
	done                  chan struct{}
	once                  sync.Once
}

// Result is what a Sampler saw.
type Result struct {
	Samples int64 // samples taken
	Below   int64 // samples where the ledger counted fewer than existed
	Worst   int64 // the largest shortfall seen (0 when none)
}

// String reads "N samples, M below (by up to W)".
func (r Result) String() string {
	if r.Below == 0 {
		return fmt.Sprintf("%d samples, 0 below", r.Samples)
	}
	return fmt.Sprintf("%d samples, %d below (by up to %d)", r.Samples, r.Below, r.Worst)
}

// Start starts sampling: exist (what Twilio holds), then counted (what the
// ledger counts), in a loop.
func Start(exist, counted Count) *Sampler {
	s := &Sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			e, err := exist()
			if err != nil {
				continue
			}
			c, err := counted()
			if err != nil {
				continue
			}
			s.samples.Add(1)
			if short := int64(e - c); short > 0 {
				s.below.Add(1)
				for {
					w := s.worst.Load()
					if short <= w || s.worst.CompareAndSwap(w, short) {
						break
					}
				}
			}
		}
	}()
	return s
}

// Stop ends the sampling, waits for its goroutine and returns what it saw.
// Later calls return the same.
func (s *Sampler) Stop() Result {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return Result{Samples: s.samples.Load(), Below: s.below.Load(), Worst: s.worst.Load()}
}
