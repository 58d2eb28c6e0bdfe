package video

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/videoquota/videoquota/quota"
)

// ErrClosed is returned by calls on a closed [Client], and by calls that were
// waiting (for a rate token, an in-flight slot, capacity, a retry) or had a
// request on the wire when [Client.Close] was called.
var ErrClosed error = closedError{}

// closedError is ErrClosed: errors.Is finds [quota.ErrClosed] in it too,
// the one "closed" error of the module.
type closedError struct{}

func (closedError) Error() string { return "video: client closed" }

// Is reports whether target is [quota.ErrClosed].
func (closedError) Is(target error) bool { return target == quota.ErrClosed }

// errNilContext is returned for a nil ctx, as net/http does for
// NewRequestWithContext(nil, ...): a *[ValidationError] for the parameter
// ctx, so that errors.As finds what was wrong.
var errNilContext error = &ValidationError{Param: "ctx", Reason: "nil Context"}

// lifecycle is what Close needs to end everything a Client started.
type lifecycle struct {
	ctx    context.Context // ended by Close with cause ErrClosed; every call is bound to it
	cancel context.CancelCauseFunc

	// sending is read-held around each HTTP attempt: Close takes it once to
	// wait for the attempts on the wire, which its cancel has just aborted.
	sending sync.RWMutex

	// busy counts the work bound to the Client by bind (calls in progress,
	// waits, streams, loops): [Accounts] does not evict a Client while it
	// is not zero.
	busy atomic.Int64

	mu       sync.Mutex // guards closing and workers.Add
	closing  bool
	workers  sync.WaitGroup // RunReconciler, PollAlerts, stream relays
	finished chan struct{}  // closed when the first Close has returned

	// callbacks counts the user funcs running now (ThresholdFunc, and the
	// DriftFunc and AlertFunc of the Client's own loops): Close called while
	// one runs does not wait for it.
	callbacks *atomic.Int32
}

func (l *lifecycle) init(callbacks *atomic.Int32) {
	l.ctx, l.cancel = context.WithCancelCause(context.Background())
	l.finished = make(chan struct{})
	l.callbacks = callbacks
}

// Close ends the Client, in this order:
//
//  1. Calls made from now on fail with [ErrClosed] and send nothing.
//  2. Every call waiting (for a rate token, a slot of [WithMaxInFlight], a
//     Room or Participant slot with [WaitForCapacity], a retry's backoff) is
//     woken and returns ErrClosed, and every HTTP attempt on the wire is
//     aborted; Close waits until those attempts have returned, so nothing is
//     sent after Close returns. A stream's channels close with ErrClosed.
//  3. [Client.RunReconciler] and [Client.PollAlerts] return ErrClosed, and
//     Close waits for them and for the goroutines relaying streams.
//  4. The ledger's event goroutine delivers the threshold events already
//     queued and stops.
//  5. The idle connections of the Client's own transport are closed (not
//     those of a [WithHTTPClient] transport).
//
// When a [quota.ThresholdFunc] given to [WithThresholds], or an [OnDrift] or
// [OnAlert] func run by the Client's loops, is running when Close is called
// (including Close called from inside one), Close does not wait for the
// event goroutine and the loops in steps 3 and 4: they end as soon as that
// func returns. Close must not be called from inside the Client's HTTP
// transport.
//
// After Close the webhook handlers answer 503 to a signed callback (the
// ledger is closed; Twilio may deliver it again to a live process), and
// [Client.Usage] reports no usage (the ledger is no longer read).
//
// A second Close waits until the first has returned (or, from inside such a
// callback, returns at once) and does nothing else. Close always returns nil.
func (c *Client) Close() error {
	l := &c.life
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		if l.callbacks.Load() == 0 {
			<-l.finished
		}
		return nil
	}
	l.closing = true
	c.closed.Store(true)
	l.mu.Unlock()

	l.cancel(ErrClosed)
	close(c.done)
	// The close-empty workers end at once: their waits wake, their requests
	// fail with ErrClosed.
	c.model().closer.shutdown()
	// Taking the lock waits for every attempt on the wire to return; later
	// ones see closed.
	l.sending.Lock()
	//lint:ignore SA2001 the empty section is the wait
	l.sending.Unlock()
	if l.callbacks.Load() > 0 {
		go c.ledger.Close() // ends when the running callback returns
	} else {
		l.workers.Wait()
		c.ledger.Close()
	}
	c.metrics.close()
	if t, ok := c.transport.(interface{ CloseIdleConnections() }); ok && c.ownTransport {
		t.CloseIdleConnections()
	}
	close(l.finished)
	return nil
}

// bind checks ctx and returns it joined to the Client's lifetime: the
// returned context ends when ctx does or when Close is called (with cause
// ErrClosed). A nil ctx, an ended one and a closed Client are refused. Call
// release when the work bound to the context is over.
func (c *Client) bind(ctx context.Context) (bound context.Context, release func(), err error) {
	if err := c.check(ctx); err != nil {
		return nil, nil, err
	}
	bound, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(c.life.ctx, func() { cancel(ErrClosed) })
	c.life.busy.Add(1)
	var released atomic.Bool
	return bound, func() {
		if released.CompareAndSwap(false, true) {
			c.life.busy.Add(-1)
		}
		stop()
		cancel(context.Canceled)
	}, nil
}

// ended returns ErrClosed in place of err when Close ended ctx, a context
// returned by bind, and err otherwise.
func ended(ctx context.Context, err error) error {
	if err != nil && ctx != nil && context.Cause(ctx) == ErrClosed {
		return ErrClosed
	}
	return err
}

// startWorker registers a goroutine Close waits for, false when the Client
// is closing. Call c.life.workers.Done when it ends.
func (c *Client) startWorker() bool {
	l := &c.life
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return false
	}
	l.workers.Add(1)
	return true
}

// callback runs a user func, counted so that Close called meanwhile (from
// inside fn, say) does not wait for what fn runs on.
func callback[E any](n *atomic.Int32, fn func(E), e E) {
	n.Add(1)
	defer n.Add(-1)
	fn(e)
}

// clientLedger is the Client's quota.Ledger with its capacity waits bound to
// the Client's lifetime.
type clientLedger struct {
	*quota.Ledger
	c *Client
}

// Reserve is [quota.Ledger.Reserve], refusing a nil ctx.
func (l clientLedger) Reserve(ctx context.Context, res quota.Resource, key string, ttl time.Duration) error {
	if ctx == nil {
		return errNilContext
	}
	return l.c.tenants.reserve(ctx, res, key, ttl, l.Ledger.Reserve)
}

// ReserveWait is [quota.Ledger.ReserveWait] that Close wakes with ErrClosed.
func (l clientLedger) ReserveWait(ctx context.Context, res quota.Resource, key string, ttl time.Duration) error {
	bound, release, err := l.c.bind(ctx)
	if err != nil {
		return err
	}
	defer release()
	return ended(bound, l.c.tenants.reserve(bound, res, key, ttl, l.Ledger.ReserveWait))
}

// Commit is [quota.Ledger.Commit], moving the tenant slot reserved under key
// (if any) to holdKey.
func (l clientLedger) Commit(ctx context.Context, res quota.Resource, key, holdKey string, src quota.Source) error {
	err := l.Ledger.Commit(ctx, res, key, holdKey, src)
	if err == nil {
		l.c.tenants.commit(ctx, res, key, holdKey)
	}
	return err
}

// Release is [quota.Ledger.Release], giving back the tenant slot under key
// (if this Client knows one).
func (l clientLedger) Release(ctx context.Context, res quota.Resource, key string, src quota.Source) error {
	err := l.Ledger.Release(ctx, res, key, src)
	l.c.tenants.release(ctx, res, key)
	return err
}

// startLoop binds a background loop (RunReconciler, PollAlerts) to the
// Client's lifetime: Close ends its ctx and waits for it. Call stop when the
// loop returns.
func (c *Client) startLoop(ctx context.Context) (bound context.Context, stop func(), err error) {
	bound, release, err := c.bind(ctx)
	if err != nil {
		return nil, nil, err
	}
	bound = backgroundLoop(bound)
	if !c.startWorker() {
		release()
		return nil, nil, ErrClosed
	}
	return bound, func() { c.life.workers.Done(); release() }, nil
}
