package loadtest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder times and classifies application-level operations. It is safe for
// simultaneous use.
type Recorder struct {
	ok    *Timeline
	ops   map[string]*opStats
	order []string
}

type opStats struct {
	lat   Latencies // successful calls only
	kinds [numKinds]atomic.Int64
}

// NewRecorder returns a Recorder for the named operations whose success
// timeline starts at start.
func NewRecorder(start time.Time, ops ...string) *Recorder {
	r := &Recorder{ok: NewTimeline(start), ops: make(map[string]*opStats, len(ops)), order: ops}
	for _, op := range ops {
		r.ops[op] = new(opStats)
	}
	return r
}

// Do runs f as operation op (one of those given to NewRecorder), recording
// its latency when it succeeds and its [Kind] in every case, and returns
// f's error.
func (r *Recorder) Do(op string, f func() error) error {
	s := r.ops[op]
	t0 := time.Now()
	err := f()
	t1 := time.Now()
	k := Classify(err)
	s.kinds[k].Add(1)
	if k == OK {
		s.lat.Add(t1.Sub(t0))
		r.ok.Add(t1, 1)
	}
	return err
}

// Ops returns the operation names in the order given to NewRecorder.
func (r *Recorder) Ops() []string { return r.order }

// Latency returns the latency summary of op's successful calls.
func (r *Recorder) Latency(op string) Summary { return r.ops[op].lat.Summary() }

// Count returns how many calls of op ended with kind k.
func (r *Recorder) Count(op string, k Kind) int64 { return r.ops[op].kinds[k].Load() }

// Total returns how many calls of all operations ended with kind k.
func (r *Recorder) Total(k Kind) int64 {
	var n int64
	for _, s := range r.ops {
		n += s.kinds[k].Load()
	}
	return n
}

// Successes returns the timeline of successful operations.
func (r *Recorder) Successes() *Timeline { return r.ok }

// Pace offers job at perSecond arrivals per second to a pool of workers
// goroutines until ctx ends, then waits for the jobs in flight. It is an
// open-loop generator: an arrival that finds every worker busy is shed, not
// queued, so a client that blocks (waiting for a rate token) sees its offered
// load capped by the pool. It returns the arrivals accepted and shed.
func Pace(ctx context.Context, perSecond float64, workers int, job func(ctx context.Context)) (accepted, shed int64) {
	if perSecond <= 0 || workers <= 0 {
		return 0, 0
	}
	arrivals := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range arrivals {
				job(ctx)
			}
		})
	}
	interval := time.Duration(float64(time.Second) / perSecond)
	next := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case arrivals <- struct{}{}:
			accepted++
		default:
			shed++
		}
		next = next.Add(interval)
		t.Reset(time.Until(next))
	}
	close(arrivals)
	wg.Wait()
	return accepted, shed
}

// Batch runs job(ctx, i) for i in [0, n) on workers goroutines, as fast as
// they go, and returns the wall time from the first start to the last end.
func Batch(ctx context.Context, n, workers int, job func(ctx context.Context, i int)) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				job(ctx, i)
			}
		})
	}
	wg.Wait()
	return time.Since(t0)
}

// Data is a Recorder's content in a form that crosses a process boundary
// (as JSON): what each child process of the distributed scenario sends back.
type Data struct {
	Successes []int64           // successful operations per second
	Ops       map[string]OpData // by operation name
}

// OpData is one operation's outcomes.
type OpData struct {
	Kinds     []int64         // indexed by Kind
	Latencies []time.Duration // of the successful calls
}

// Data returns the recorded outcomes, with n one-second buckets at least.
func (r *Recorder) Data(n int) Data {
	d := Data{Successes: r.ok.Buckets(n), Ops: make(map[string]OpData, len(r.ops))}
	for name, s := range r.ops {
		od := OpData{Kinds: make([]int64, numKinds), Latencies: s.lat.Values()}
		for k := range s.kinds {
			od.Kinds[k] = s.kinds[k].Load()
		}
		d.Ops[name] = od
	}
	return d
}

// Merge adds d, recorded from the same start, to r. Operations r does not
// know are ignored.
func (r *Recorder) Merge(d Data) {
	r.ok.AddBuckets(d.Successes)
	for name, od := range d.Ops {
		s := r.ops[name]
		if s == nil {
			continue
		}
		for k, n := range od.Kinds {
			if k < int(numKinds) {
				s.kinds[k].Add(n)
			}
		}
		for _, l := range od.Latencies {
			s.lat.Add(l)
		}
	}
}
