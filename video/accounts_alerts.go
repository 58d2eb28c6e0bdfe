package video

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// PollAlerts reads each account's Monitor Alerts (GET /v1/Alerts with that
// account's credentials) every interval until ctx ends, then returns ctx's
// error, or until Accounts is closed, then returns [ErrClosed]: the
// fallback for platforms the Debugger webhook cannot reach, as
// [Client.PollAlerts] is for one account. It is one loop for every account:
// each pass visits, at most 8 at once, the accounts with a Client alive
// that have work, those whose ledger holds or has pending Rooms or
// Participants, with a call in progress, or that sent a request since
// their last visit (an account with nothing of the kind has raised no
// alert since). Each visit spends that account's own read share (its read
// bucket, and the [DefaultAlertPollRate] budget of its polls) on that
// account only, and acts on its Video alerts (53xxx and 20429) exactly as
// [Client.PollAlerts] does: once per alert, whichever of the webhook and
// the poll saw it first; the [OnAlert] funcs of opts get every alert
// acted on, of every account (AlertEvent.AccountSID says whose).
//
// Each account's first visit looks back one interval; later visits start
// where its last visit ended, however many passes skipped it. The cursors
// are kept for accounts with a Client alive only: an account evicted and
// used again starts over, one interval back. A failed visit is logged at
// Warn and tried again at the next pass. Run it on its own goroutine; it
// leaves nothing running when it returns.
// An interval that is not positive, or a nil or invalid option, is a
// *[ConfigError] naming it, returned at once.
func (a *Accounts) PollAlerts(ctx context.Context, every time.Duration, opts ...HandlerOption) error {
	if every <= 0 {
		return optErr("Accounts.PollAlerts", "interval %s: want a positive interval", every)
	}
	h, err := applyHandlerOptions("Accounts.PollAlerts", opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(a.ctx, cancel)
	defer stop()
	p := &alertPoller{a: a, every: every, fns: h.onAlert, cursors: make(map[string]*alertCursor)}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		p.pass(ctx)
		select {
		case <-ctx.Done():
		case <-t.C:
			continue
		}
		if a.ctx.Err() != nil {
			return ErrClosed
		}
		return ctx.Err()
	}
}

// alertPoller is the state of one [Accounts.PollAlerts] loop.
type alertPoller struct {
	a       *Accounts
	every   time.Duration
	fns     []AlertFunc
	cursors map[string]*alertCursor // by Account SID; only accounts with a Client alive
}

// alertCursor is where an account's next visit starts.
type alertCursor struct {
	since    time.Time // the newest alert's DateCreated seen, or the first look-back
	requests int64     // the Client's requests when its last visit ended (its polls included); -1 after a failed visit
	c        *Client   // the Client the count is of
}

// pass visits every account with work once.
func (p *alertPoller) pass(ctx context.Context) {
	a := p.a
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	alive := make(map[string]*Client, len(a.entries))
	for sid, e := range a.entries {
		alive[sid] = e.c
	}
	a.mu.Unlock()
	for sid := range p.cursors {
		if alive[sid] == nil {
			delete(p.cursors, sid) // evicted: memory stays bounded by the accounts alive
		}
	}
	var (
		wg  sync.WaitGroup
		sem = make(chan struct{}, accountsReconcileWorkers)
	)
	for sid, c := range alive {
		cur := p.cursors[sid]
		if cur == nil {
			cur = &alertCursor{since: c.now().Add(-p.every), c: c}
			p.cursors[sid] = cur
		}
		if !p.hasWork(ctx, c, cur) {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		since := cur.since
		wg.Go(func() {
			defer func() { <-sem }()
			next, err := p.visit(ctx, c, since)
			// Each cursor is this goroutine's alone until wg.Wait.
			cur.c = c
			if err == nil {
				cur.since, cur.requests = next, c.requestCount()
				return
			}
			cur.requests = -1 // visited again at the next pass, from the same cursor
			if ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				a.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: polling alerts failed",
					slog.String("account", c.accountSID), slog.String("error", err.Error()))
			}
		})
	}
	wg.Wait()
}

// hasWork reports whether c's account has anything that may have raised an
// alert since its last visit: a last visit that failed, a request sent
// since (a request of the application sent during the visit counts as
// seen: an alert it raised after the visit read is found at the account's
// next visit, from the cursor), or a ledger that is not idle.
func (p *alertPoller) hasWork(ctx context.Context, c *Client, cur *alertCursor) bool {
	if cur.c != c || c.requestCount() != cur.requests {
		return true
	}
	idle, err := c.idle(ctx)
	return !idle || err != nil
}

// visit reads c's alerts created since then, bound to c's life (its Close
// aborts the visit and waits for it).
func (p *alertPoller) visit(ctx context.Context, c *Client, since time.Time) (time.Time, error) {
	ctx, stop, err := c.startLoop(ctx)
	if err != nil {
		return since, err
	}
	defer stop()
	fns := make([]AlertFunc, len(p.fns))
	for i, fn := range p.fns {
		fns[i] = func(e AlertEvent) { callback(c.life.callbacks, fn, e) }
	}
	st := c.model()
	lim := st.readBudget(&st.pollLim, DefaultAlertPollRate)
	next, err := c.pollAlertsOnce(ctx, lim, since, fns)
	return next, ended(ctx, err)
}

// requestCount is how many HTTP requests c has sent, reads and writes.
func (c *Client) requestCount() int64 {
	return c.stats.class[0].requests.Load() + c.stats.class[1].requests.Load()
}
