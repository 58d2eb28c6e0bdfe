package video

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/memstore"
)

// Defaults of [Accounts], each with where its number comes from.
const (
	// DefaultIdleEviction is how long an account's Client stays cached
	// after its last use before [Accounts] may drop it (it is never dropped
	// while it holds or has pending Rooms, Participants or reservations).
	// Twenty minutes is more than [DefaultCallbackRetention] plus the
	// handlers' default clock skew (one minute): every callback a Client
	// applied is older than the retention when it is dropped, so a late
	// duplicate delivered to the account's next Client is stale and changes
	// nothing (a shorter idle time lets such a duplicate hold a slot until
	// [Client.Reconcile]). It is also four times Twilio's default room
	// timeouts (5 minutes, https://www.twilio.com/docs/video/api/rooms-resource),
	// so an account whose Room just ended is not rebuilt for its late
	// callbacks.
	DefaultIdleEviction = 20 * time.Minute
	// DefaultLookupTimeout bounds one call of the [AccountLookup] func (made
	// once for concurrent first uses of an account). A webhook that needs a
	// lookup answers within it.
	DefaultLookupTimeout = 5 * time.Second
	// accountsReconcileWorkers bounds the accounts reconciled at once by
	// [Accounts.Reconcile]: each spends its own account's read share, so
	// they do not compete for a budget, only for this process's sockets.
	accountsReconcileWorkers = 8
)

// Account is what [Accounts] needs to build one account's [Client]: the
// subaccount's own auth token (it signs that subaccount's webhooks, and a
// parent's token does not validate them), an optional API key created in
// that account, and its quotas. Zero Limits fields take the [WithLimits]
// given to [NewAccounts], else Twilio's defaults: each Account SID has its
// own quotas, not shared with its subaccounts
// (https://www.twilio.com/docs/video/guide-to-scaling-applications).
type Account struct {
	// AuthToken is the account's auth token; it must not be empty.
	AuthToken string
	// APIKeySID and APIKeySecret, when set, authenticate REST requests
	// instead of the auth token (see [WithAPIKey]). A key of the parent
	// account does not reach a subaccount's Video resources
	// (https://www.twilio.com/docs/iam/api/subaccounts).
	APIKeySID    string
	APIKeySecret string
	// Limits are the account's quotas.
	Limits quota.Limits
}

// AccountLookup returns what [Accounts] needs of the account accountSID.
// It returns an error wrapping [ErrUnknownAccount] when the application has
// no such account (its webhooks are then refused with 403); any other error
// is taken as a transient failure (webhooks get 503, so that Twilio may try
// again). It must honour ctx, which is bounded by [WithLookupTimeout].
type AccountLookup func(ctx context.Context, accountSID string) (Account, error)

// ErrUnknownAccount is the error an [AccountLookup] wraps when it has no
// such account; [Accounts.Client] returns it wrapped in an *[AccountError].
var ErrUnknownAccount = errors.New("video: unknown account")

// AccountError is a failure of [Accounts.Client] for one account: the
// lookup's error, or New's for what the lookup returned.
type AccountError struct {
	AccountSID string
	Err        error
}

// Error reads "video: account AC…: <what failed>".
func (e *AccountError) Error() string { return "video: account " + e.AccountSID + ": " + e.Err.Error() }

// Unwrap returns what failed.
func (e *AccountError) Unwrap() error { return e.Err }

// accountsSettings are the options only [NewAccounts] takes.
type accountsSettings struct {
	set           string // the first such option given, for New's error
	idleAfter     time.Duration
	idleSet       bool
	lookupTimeout time.Duration
	perAccount    bool
}

func (s *settings) accountsOption(name string) *accountsSettings {
	if s.accounts.set == "" {
		s.accounts.set = name
	}
	return &s.accounts
}

// WithIdleEviction makes [Accounts] drop an account's Client d after its
// last use (default [DefaultIdleEviction]; 0 switches eviction off). A d
// shorter than [DefaultCallbackRetention] plus a minute lets a late
// duplicate status callback, delivered after the drop, be applied again by
// the account's next Client (a Room slot held until [Client.Reconcile]). A
// Client is never dropped while its account holds or has pending Rooms,
// Participants or reservations in the ledger, while one of its calls is in
// progress (waiting for a rate token or a retry included) or one of its
// HTTP attempts is on the wire. For [NewAccounts] only: [New] refuses it.
func WithIdleEviction(d time.Duration) Option {
	return func(s *settings) error {
		if d < 0 {
			return optErr("WithIdleEviction", "%s: want d >= 0", d)
		}
		a := s.accountsOption("WithIdleEviction")
		a.idleAfter, a.idleSet = d, true
		return nil
	}
}

// WithLookupTimeout bounds each [AccountLookup] call (default
// [DefaultLookupTimeout]). For [NewAccounts] only.
func WithLookupTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return optErr("WithLookupTimeout", "%s: want d > 0", d)
		}
		s.accountsOption("WithLookupTimeout").lookupTimeout = d
		return nil
	}
}

// WithAccountMetrics adds the attribute twilio.account_sid to every metric
// of every account's Client, so that series are per account. Without it
// (the default) the Clients record into the [WithMeterProvider] with the
// same attributes, and series aggregate across accounts. The number of
// series it makes is bounded by the Clients alive at once (evicted Clients
// stop reporting): mind the cardinality with thousands of active accounts.
// For [NewAccounts] only.
func WithAccountMetrics() Option {
	return func(s *settings) error {
		s.accountsOption("WithAccountMetrics").perAccount = true
		return nil
	}
}

// Accounts serves many Twilio accounts (a parent and its subaccounts, as
// platforms that give each customer a subaccount run them) from one
// process: one [Client] per account, made on first use through an
// [AccountLookup] and cached, one webhook endpoint for every account, one
// Close. Each account keeps its own quotas, ledger and auth token; the
// Clients share one HTTP transport, the store (keys per account), the
// meter provider and the logger. An account with no Client alive costs
// nothing; an idle Client is dropped after [WithIdleEviction].
//
// Accounts is safe for simultaneous use.
type Accounts struct {
	lookup        AccountLookup
	opts          []Option     // per Client: the user's, then the shared store and transport
	limits        quota.Limits // WithLimits given to NewAccounts (zero fields: Twilio's)
	idleAfter     time.Duration
	lookupTimeout time.Duration
	perAccount    bool
	logger        *slog.Logger
	now           func() time.Time
	ownTransport  *http.Transport // made by NewAccounts: Close closes its idle connections

	ctx    context.Context // ended by Close: lookups in flight are cancelled
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	entries  map[string]*accountEntry
	inflight map[string]*accountCall // first uses being looked up (one lookup per account)
	handlers int                     // handler ids given out

	work sync.WaitGroup // lookups in flight and the eviction loop
}

// accountEntry is one account's cached Client.
type accountEntry struct {
	c        *Client
	used     time.Time // last Accounts.Client or webhook for it
	seq      uint64    // bumped on every use: eviction checks it did not change
	handlers map[int]http.Handler
}

// accountCall is one lookup in flight for an account.
type accountCall struct {
	done chan struct{}
	e    *accountEntry
	err  error
}

// NewAccounts returns an [Accounts] that builds each account's [Client]
// with [New](accountSID, Account.AuthToken, opts...) plus the account's
// API key and Limits. opts are the Client options ([WithStore],
// [WithMeterProvider], [WithLogger], [WithHTTPClient], [WithRetry],
// [WithThresholds], ...) applied to every account, and the options for
// Accounts ([WithIdleEviction], [WithLookupTimeout], [WithAccountMetrics]).
// Without [WithStore] the accounts share one new memory store; without
// [WithHTTPClient] they share one transport. An invalid option makes it
// fail with a *[ConfigError]. Close it when done.
func NewAccounts(lookup AccountLookup, opts ...Option) (*Accounts, error) {
	if lookup == nil {
		return nil, optErr("NewAccounts", "nil AccountLookup")
	}
	s := settings{callbacks: new(atomic.Int32)}
	var clientOpts []Option
	for i, o := range opts {
		if o == nil {
			return nil, optErr("NewAccounts", "option %d is nil", i)
		}
		before := s.accounts
		if err := o(&s); err != nil {
			return nil, asConfigError(err)
		}
		if s.accounts == before {
			clientOpts = append(clientOpts, o)
		}
	}
	a := &Accounts{
		lookup:        lookup,
		limits:        s.limits,
		idleAfter:     DefaultIdleEviction,
		lookupTimeout: DefaultLookupTimeout,
		perAccount:    s.accounts.perAccount,
		logger:        s.logger,
		now:           s.now,
		entries:       make(map[string]*accountEntry),
		inflight:      make(map[string]*accountCall),
	}
	if s.accounts.idleSet {
		a.idleAfter = s.accounts.idleAfter
	}
	if s.accounts.lookupTimeout > 0 {
		a.lookupTimeout = s.accounts.lookupTimeout
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if s.store == nil {
		st, err := memstore.New()
		if err != nil {
			return nil, err
		}
		clientOpts = append(clientOpts, withOwnStore(st))
	}
	if s.httpClient == nil {
		// Every account's requests go to the same Twilio hosts: keep enough
		// idle connections for many busy accounts, not one.
		t, _ := defaultTransport().(*http.Transport)
		if t != nil {
			t.MaxIdleConns, t.MaxIdleConnsPerHost = 4096, 1024
		}
		a.ownTransport = t
		// DefaultTimeout per attempt, as a Client of its own has.
		clientOpts = append(clientOpts, WithHTTPClient(&http.Client{Transport: t}))
	}
	a.opts = clientOpts
	a.ctx, a.cancel = context.WithCancel(context.Background())
	if a.idleAfter > 0 {
		a.work.Add(1)
		go a.evictLoop()
	}
	return a, nil
}

// Client returns the Client of accountSID, made on first use through the
// lookup and cached: concurrent first calls for one account look it up
// once, and wait for it (or for ctx). It fails with an *[AccountError]
// (wrapping [ErrUnknownAccount] or the lookup's error, or New's error for
// what the lookup returned), with ctx's error, or with [ErrClosed] after
// Close. A failed lookup is not cached: the next call looks up again.
//
// Each call counts as a use of the account for [WithIdleEviction]. Call
// Client for each piece of work rather than keeping the *Client: a Client
// kept past the idle time without a call to Client may have been evicted
// and closed, and then returns [ErrClosed].
func (a *Accounts) Client(ctx context.Context, accountSID string) (*Client, error) {
	e, err := a.entry(ctx, accountSID)
	if err != nil {
		return nil, err
	}
	return e.c, nil
}

// entry returns accountSID's cached entry, looking it up first if needed,
// and marks it used.
func (a *Accounts) entry(ctx context.Context, accountSID string) (*accountEntry, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if !validSID("AC", accountSID) {
		return nil, &AccountError{AccountSID: "(invalid SID)", Err: fmt.Errorf("not an Account SID (want \"AC\" followed by 32 hex digits): %w", ErrUnknownAccount)}
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, ErrClosed
	}
	if e := a.entries[accountSID]; e != nil {
		a.useLocked(e)
		a.mu.Unlock()
		return e, nil
	}
	call := a.inflight[accountSID]
	if call == nil {
		call = &accountCall{done: make(chan struct{})}
		a.inflight[accountSID] = call
		a.work.Add(1)
		go a.build(accountSID, call) // detached from ctx: other callers may wait for it
	}
	a.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if call.err != nil {
		return nil, call.err
	}
	a.mu.Lock()
	if a.entries[accountSID] == call.e {
		a.useLocked(call.e)
	}
	a.mu.Unlock()
	return call.e, nil
}

// useLocked marks e used now. Requires a.mu held.
func (a *Accounts) useLocked(e *accountEntry) {
	e.used = a.now()
	e.seq++
}

// build looks accountSID up and makes its Client, then publishes the
// result to the callers waiting on call.
func (a *Accounts) build(accountSID string, call *accountCall) {
	defer a.work.Done()
	e, err := a.newEntry(accountSID)
	a.mu.Lock()
	delete(a.inflight, accountSID)
	if err == nil && a.closed {
		err = ErrClosed
	}
	if err == nil {
		a.entries[accountSID] = e
		a.useLocked(e)
	}
	a.mu.Unlock()
	if err != nil && e != nil {
		_ = e.c.Close()
		e = nil
	}
	call.e, call.err = e, err
	close(call.done)
}

func (a *Accounts) newEntry(accountSID string) (*accountEntry, error) {
	ctx, cancel := context.WithTimeout(a.ctx, a.lookupTimeout)
	acct, err := a.lookup(ctx, accountSID)
	cancel()
	if err != nil {
		if a.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, &AccountError{AccountSID: accountSID, Err: err}
	}
	opts := append([]Option(nil), a.opts...)
	opts = append(opts, WithLimits(mergeLimits(a.limits, acct.Limits)))
	if acct.APIKeySID != "" || acct.APIKeySecret != "" {
		opts = append(opts, WithAPIKey(acct.APIKeySID, acct.APIKeySecret))
	}
	if a.perAccount {
		opts = append(opts, WithMetricAttributes(attribute.String("twilio.account_sid", accountSID)))
	}
	c, err := New(accountSID, acct.AuthToken, opts...)
	if err != nil {
		return nil, &AccountError{AccountSID: accountSID, Err: err}
	}
	return &accountEntry{c: c}, nil
}

// mergeLimits is base with the non-zero fields of over.
func mergeLimits(base, over quota.Limits) quota.Limits {
	if over.ConcurrentRooms != 0 {
		base.ConcurrentRooms = over.ConcurrentRooms
	}
	if over.ConcurrentParticipants != 0 {
		base.ConcurrentParticipants = over.ConcurrentParticipants
	}
	if over.ReadsPerSecond != 0 {
		base.ReadsPerSecond = over.ReadsPerSecond
	}
	if over.WritesPerSecond != 0 {
		base.WritesPerSecond = over.WritesPerSecond
	}
	if over.ReadBurst != 0 {
		base.ReadBurst = over.ReadBurst
	}
	if over.WriteBurst != 0 {
		base.WriteBurst = over.WriteBurst
	}
	return base
}

// Len returns how many accounts have a Client alive now.
func (a *Accounts) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}

// Close closes every account's Client (see [Client.Close]: nothing is sent
// after Close returns), cancels the lookups in flight and stops the
// eviction loop, then waits for all of them. Calls of [Accounts.Client]
// after Close fail with [ErrClosed], and the webhook handlers answer 503.
// A second Close waits for nothing more and returns nil. Close returns nil.
func (a *Accounts) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		a.work.Wait()
		return nil
	}
	a.closed = true
	entries := a.entries
	a.entries = map[string]*accountEntry{}
	a.mu.Unlock()
	a.cancel()
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = e.c.Close()
		}()
	}
	wg.Wait()
	a.work.Wait()
	if a.ownTransport != nil {
		a.ownTransport.CloseIdleConnections()
	}
	return nil
}

// idle reports whether c may be dropped: no call of it is in progress (one
// waiting for a rate token or a retry holds nothing else), no HTTP attempt
// of it is on the wire and its account holds no Room or Participant slot, held or pending
// (Rooms in progress, creates in flight, JoinToken and Participant
// reservations all hold one), in the store. With a shared store, another
// process's slots of the account keep it too.
func (c *Client) idle(ctx context.Context) (bool, error) {
	if c.life.busy.Load() > 0 || !c.life.sending.TryLock() {
		return false, nil
	}
	c.life.sending.Unlock()
	for _, res := range [...]quota.Resource{quota.Rooms, quota.Participants} {
		n, _, err := c.ledger.Used(ctx, res)
		if err != nil || n > 0 {
			return false, err
		}
	}
	return true, nil
}

// EvictIdle drops now the Clients of the accounts unused for the idle time
// of [WithIdleEviction] (every unused one when it is 0) that hold nothing
// (see [WithIdleEviction]), closing them, and returns how many it dropped.
// The eviction loop calls it every half idle time; call it yourself to
// bound memory at a moment of your choosing. An account whose check fails
// (the store is down) is kept, and the first such error is returned.
func (a *Accounts) EvictIdle(ctx context.Context) (int, error) {
	type cand struct {
		sid string
		e   *accountEntry
		seq uint64
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return 0, ErrClosed
	}
	cutoff := a.now().Add(-a.idleAfter)
	var cands []cand
	for sid, e := range a.entries {
		if !e.used.After(cutoff) {
			cands = append(cands, cand{sid, e, e.seq})
		}
	}
	a.mu.Unlock()
	var firstErr error
	n := 0
	for _, x := range cands {
		ok, err := x.e.c.idle(ctx)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if !ok {
			continue
		}
		a.mu.Lock()
		drop := !a.closed && a.entries[x.sid] == x.e && x.e.seq == x.seq
		if drop {
			delete(a.entries, x.sid)
		}
		a.mu.Unlock()
		if drop {
			// A use between the check and here would have changed seq; a
			// use after it makes a new Client. This one is idle: closing
			// it sends nothing.
			_ = x.e.c.Close()
			n++
		}
	}
	return n, firstErr
}

// evictLoop runs EvictIdle every half idle time until Close.
func (a *Accounts) evictLoop() {
	defer a.work.Done()
	t := time.NewTicker(max(a.idleAfter/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(a.ctx, a.lookupTimeout)
		n, err := a.EvictIdle(ctx)
		cancel()
		if err != nil && !errors.Is(err, ErrClosed) && a.ctx.Err() == nil {
			a.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: evicting idle accounts", slog.String("error", err.Error()))
		}
		if n > 0 {
			a.logger.LogAttrs(ctx, slog.LevelDebug, "videoquota: evicted idle accounts", slog.Int("accounts", n))
		}
	}
}

// Reconcile reconciles every account that has work, each with
// [Client.Reconcile] and opts: each spends its own account's read share,
// on that account only, and accounts whose ledger holds nothing (nothing
// to correct) are not visited. At most 8 accounts are reconciled at once.
// It returns the drift of each account visited, and the first error (the
// others are logged at Warn).
func (a *Accounts) Reconcile(ctx context.Context, opts ...ReconcileOption) (map[string]Drift, error) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, ErrClosed
	}
	var work []*Client
	for _, e := range a.entries {
		work = append(work, e.c)
	}
	a.mu.Unlock()
	var (
		mu       sync.Mutex
		out      = make(map[string]Drift)
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, accountsReconcileWorkers)
	)
	for _, c := range work {
		if idle, err := c.idle(ctx); idle && err == nil {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return out, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d, err := c.Reconcile(ctx, opts...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				a.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: reconcile failed",
					slog.String("account", c.accountSID), slog.String("error", err.Error()))
				return
			}
			out[c.accountSID] = d
		}()
	}
	wg.Wait()
	return out, firstErr
}

// RunReconciler calls [Accounts.Reconcile] every interval until ctx ends
// (it returns ctx's error) or Accounts is closed (it returns [ErrClosed]).
// Run it on its own goroutine: it is the one reconcile loop of every
// account, and leaves nothing running when it returns.
func (a *Accounts) RunReconciler(ctx context.Context, every time.Duration, opts ...ReconcileOption) error {
	if every <= 0 {
		return fmt.Errorf("video: RunReconciler(%s): want a positive interval", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.ctx.Done():
			return ErrClosed
		case <-t.C:
		}
		if _, err := a.Reconcile(ctx, opts...); errors.Is(err, ErrClosed) {
			return ErrClosed
		}
	}
}

// StatusCallbackHandler returns one status callback endpoint for every
// account: each request is routed by its AccountSid to that account's
// [Client.StatusCallbackHandler] (built with hopts), which checks the
// signature with that account's auth token, so that a callback signed with
// the parent's token or another subaccount's is refused (403) and changes
// nothing. An account not cached yet is looked up first, within
// [WithLookupTimeout]. A request without a valid AccountSid, or for an
// account the lookup does not know ([ErrUnknownAccount]), gets 403; a
// lookup that fails otherwise, and any request after Close, gets 503. Both
// change nothing. A request for an account with no Client alive calls the
// lookup (failed lookups are not remembered), so the lookup should answer
// an unknown SID cheaply. An invalid option makes the handler answer 500
// to every request, as [Client.StatusCallbackHandler]'s does.
func (a *Accounts) StatusCallbackHandler(hopts ...HandlerOption) http.Handler {
	return a.handler("StatusCallbackHandler", hopts, (*Client).StatusCallbackHandler)
}

// AlertHandler returns one Debugger webhook endpoint for every account,
// routed and checked as [Accounts.StatusCallbackHandler] does, each request
// passed to that account's [Client.AlertHandler] (Twilio's Debugger events
// carry the AccountSid of the account that raised them, and are signed with
// its auth token: https://www.twilio.com/docs/usage/troubleshooting/debugging-event-webhooks).
func (a *Accounts) AlertHandler(hopts ...HandlerOption) http.Handler {
	return a.handler("AlertHandler", hopts, (*Client).AlertHandler)
}

func (a *Accounts) handler(method string, hopts []HandlerOption, build func(*Client, ...HandlerOption) http.Handler) http.Handler {
	// Check the options now, as the Client's handlers do.
	h, err := applyHandlerOptions("Accounts."+method, hopts)
	if err != nil {
		return misconfigured(a.logger, "Accounts."+method, err)
	}
	a.mu.Lock()
	a.handlers++
	id := a.handlers
	a.mu.Unlock()
	maxBody := h.maxBody
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		var sid string
		switch r.Method {
		case http.MethodGet:
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil || len(r.URL.RawQuery) > int(maxBody) {
				http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
				return
			}
			sid = q.Get("AccountSid")
		case http.MethodPost:
			var err error
			body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
					return
				}
				http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
				return
			}
			sid = formValue(body, "AccountSid")
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.lookupTimeout)
		e, err := a.entry(ctx, sid)
		cancel()
		if err != nil {
			status := http.StatusServiceUnavailable
			if errors.Is(err, ErrUnknownAccount) {
				status = http.StatusForbidden
			}
			a.logger.LogAttrs(r.Context(), slog.LevelWarn, "videoquota: rejected webhook for an account",
				slog.Int("status", status), slog.String("reason", err.Error()))
			http.Error(w, http.StatusText(status), status)
			return
		}
		a.mu.Lock()
		hh := e.handlers[id]
		if hh == nil {
			hh = build(e.c, hopts...)
			if e.handlers == nil {
				e.handlers = make(map[int]http.Handler)
			}
			e.handlers[id] = hh
		}
		a.mu.Unlock()
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		hh.ServeHTTP(w, r)
	})
}

// formValue returns the first value of key in a form-encoded body, or ""
// (also when the body is malformed: the account's handler then answers).
func formValue(body []byte, key string) string {
	for len(body) > 0 {
		var kv []byte
		kv, body, _ = bytes.Cut(body, []byte("&"))
		k, v, _ := bytes.Cut(kv, []byte("="))
		if string(k) == key {
			s, err := url.QueryUnescape(string(v))
			if err != nil {
				return ""
			}
			return s
		}
	}
	return ""
}
