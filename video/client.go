package video

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/videoquota/videoquota/backoff"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/memstore"
	"github.com/videoquota/videoquota/video/internal/sched"
)

// Defaults of a [Client], each with where its number comes from.
const (
	// DefaultTimeout bounds one HTTP attempt, as twilio-go's default HTTP
	// client does (10 s). Rate waits and backoff sleeps are bounded by the
	// caller's context only.
	DefaultTimeout = 10 * time.Second
	// DefaultReservationTTL is how long a slot reserved before a request
	// (CreateRoom) stays pending if the process dies before committing or
	// releasing it. It covers one attempt's timeout plus the retries.
	DefaultReservationTTL = 2 * time.Minute
	// DefaultFullFor is how long a 53119/53206 from Twilio keeps the resource
	// marked full when no source shows room first (a Room or Participant
	// reported ended, a listing under the quota): then the next create goes
	// to Twilio as a probe, one write, and either ends the episode or marks
	// it full again. Another application's Rooms are seen by no callback of
	// this Client, so this bounds how long creates stay refused after that
	// application frees Rooms.
	DefaultFullFor = 10 * time.Second
	// DefaultConcurrencyHint is the Twilio-Concurrent-Requests value at or
	// above which a 20429 is attributed to the platform's API concurrency limit
	// rather than to the Video requests-per-second quota. Twilio does not
	// publish the platform limit; this is our estimate, not a Twilio figure:
	// 100 is far above what an account sending 20 writes/s and 80 reads/s
	// keeps in flight, so Video alone meets its per-second quota first.
	DefaultConcurrencyHint = 100
)

// Client is a drop-in, quota-aware replacement for twilio-go's Video v1
// *ApiService: every method of ApiService exists on Client with a
// context.Context first and the same parameters and results. Each HTTP
// request takes a token from the account's read or write bucket, concurrent
// Rooms and Participants are accounted in a ledger that refuses locally what
// Twilio would refuse with 53119/53206, and 20429 answers are retried with
// backoff.
//
// A Client is safe for simultaneous use. Close it when done.
type Client struct {
	accountSID   string
	authToken    string
	apiKeySID    string
	apiKeySecret string
	// credentials are what REST requests authenticate with: the API key when
	// set, else the Account SID and auth token.
	credentials client.Credentials

	// baseURL is the origin every Twilio host is sent to ("" = Twilio itself);
	// base is its parsed form.
	baseURL string
	base    *url.URL
	edge    string // TWILIO_EDGE, read once in New
	region  string // TWILIO_REGION, read once in New

	limits  quota.Limits
	limiter *quota.Limiter
	// sched orders the callers waiting for a token of each class
	// (priority.go); tenantPolicy is WithTenantPolicy's function, nil if none.
	sched        [2]*sched.Scheduler
	tenantPolicy func(string) TenantPolicy
	fair         bool        // the store orders takers across its clients (backend.FairStore)
	tenants      tenantSlots // tenant caps on Rooms and Participants (tenants.go)
	ledger       clientLedger
	store        backend.Store
	logger       *slog.Logger
	now          func() time.Time

	transport       http.RoundTripper // the base transport every attempt goes through
	ownTransport    bool              // transport was made by New: Close closes its idle connections
	timeout         time.Duration     // per attempt; 0 = none
	retry           backoff.Policy
	waitForCapacity bool
	inFlight        chan struct{} // nil when WithMaxInFlight is off
	concurrencyHint int
	reservationTTL  time.Duration
	joinWindow      time.Duration // JoinToken reservations lapse after it
	fullFor         time.Duration

	stats   stats
	closed  atomic.Bool   // set first thing by Close
	seq     atomic.Uint64 // reservation ids
	idEpoch string        // distinguishes this client's reservation ids across processes

	// events is what status callbacks, Debugger events, JoinToken and
	// Reconcile know (see model.go; the Rooms' accounting: driver.go);
	// its zero value is ready.
	events model

	metrics *clientMetrics // nil unless WithMeterProvider (metrics.go)

	status *statusRecorder // trends, peaks and recent events (status.go)

	life lifecycle

	// done is closed by Close: background loops and workers select on it.
	done chan struct{}
}

// Option configures a [Client] in [New]. An invalid option makes New fail
// with a *[ConfigError] naming it.
type Option func(*settings) error

// ConfigError is an invalid argument of [New] or an invalid [Option] (New
// returns no Client), or an invalid [HandlerOption] (see there).
type ConfigError struct {
	Option string // the option, e.g. "WithLimits", or "New" for New's own arguments
	Err    error  // what is wrong
}

// Error reads "video: <Option>: <what is wrong>".
func (e *ConfigError) Error() string { return "video: " + e.Option + ": " + e.Err.Error() }

// Unwrap returns what is wrong.
func (e *ConfigError) Unwrap() error { return e.Err }

// optErr returns a *ConfigError for option with a formatted reason.
func optErr(option, format string, args ...any) error {
	return &ConfigError{Option: option, Err: fmt.Errorf(format, args...)}
}

// asConfigError makes err a *ConfigError: an option's error spelled
// "video: <Option>: <reason>" names that option, anything else is New's.
func asConfigError(err error) error {
	var ce *ConfigError
	if errors.As(err, &ce) {
		return err
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "video: "); ok {
		if name, reason, ok := strings.Cut(rest, ": "); ok && strings.HasPrefix(name, "With") && !strings.ContainsAny(name, " ()") {
			inner := errors.Unwrap(err)
			if inner == nil || inner.Error() != reason {
				inner = errors.New(reason)
			}
			return &ConfigError{Option: name, Err: inner}
		}
	}
	return &ConfigError{Option: "New", Err: err}
}

// settings collects the options before New builds the Client.
type settings struct {
	apiKeySID, apiKeySecret string
	baseURL                 string
	limits                  quota.Limits
	ledgerOpts              []quota.Option
	thresholdsSet           bool
	httpClient              *http.Client
	logger                  *slog.Logger
	retry                   *backoff.Policy
	store                   backend.Store
	storeShared             bool // the store may have other clients for the account (WithStore)
	now                     func() time.Time
	clock                   quota.Clock // as given to WithClock; nil for the system's
	waitForCapacity         bool
	maxInFlight             int
	tenantPolicy            func(string) TenantPolicy
	shares                  [sched.Levels]float64 // WithPriorityShares; zero: sched.DefaultShares
	reservationTTL          time.Duration
	joinWindow              time.Duration
	concurrencyHint         int
	metrics                 metricsSettings
	attemptTimeout          *time.Duration   // WithAttemptTimeout
	callbacks               *atomic.Int32    // the Client's count of running callbacks
	accounts                accountsSettings // options for NewAccounts only (accounts.go)
	status                  statusSettings   // WithForecast, WithPeakPeriod
}

// WithAPIKey authenticates REST requests with an API key instead of the
// Account SID and auth token. The auth token given to [New] is still used to
// validate webhook signatures.
func WithAPIKey(keySID, keySecret string) Option {
	return func(s *settings) error {
		if !validSID("SK", keySID) {
			return optErr("WithAPIKey", "key SID must be \"SK\" followed by 32 hex digits")
		}
		if keySecret == "" {
			return optErr("WithAPIKey", "empty key secret")
		}
		if strings.TrimSpace(keySecret) != keySecret {
			return optErr("WithAPIKey", "key secret has leading or trailing white space (trim the value read from a file or secret)")
		}
		s.apiKeySID, s.apiKeySecret = keySID, keySecret
		return nil
	}
}

// WithBaseURL sends every request meant for a Twilio host (video.twilio.com,
// monitor.twilio.com, next-page URLs) to rawURL instead, keeping the path and
// query: a videotest server, a proxy. rawURL must be an absolute http(s) URL
// without a path.
func WithBaseURL(rawURL string) Option {
	return func(s *settings) error {
		u, err := url.Parse(rawURL)
		if err != nil {
			return &ConfigError{Option: "WithBaseURL", Err: err}
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return optErr("WithBaseURL", "%q: want an absolute http or https URL", rawURL)
		}
		if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return optErr("WithBaseURL", "%q: want an origin without path or query", rawURL)
		}
		s.baseURL = u.Scheme + "://" + u.Host
		return nil
	}
}

// WithLimits sets the account's quotas. Zero fields take Twilio's defaults
// ([quota.DefaultLimits]); [quota.Unlimited] switches a limit off.
func WithLimits(l quota.Limits) Option {
	return func(s *settings) error {
		if err := l.Validate(); err != nil {
			return &ConfigError{Option: "WithLimits", Err: err}
		}
		s.limits = l
		return nil
	}
}

// WithThresholds calls fn when the usage of concurrent Rooms or Participants
// crosses one of levels (shares of the quota in (0, 1]), rising and falling;
// with no levels, at [quota.DefaultThresholdLevel] (70%, Twilio's warning
// 53121). It may be given several times. fn runs on the ledger's event
// goroutine, outside every lock, in the order of the crossings; see
// [quota.ThresholdFunc].
func WithThresholds(fn quota.ThresholdFunc, levels ...float64) Option {
	return func(s *settings) error {
		if fn == nil {
			return optErr("WithThresholds", "nil ThresholdFunc")
		}
		for _, l := range levels {
			if !(l > 0 && l <= 1) {
				return optErr("WithThresholds", "level %v outside (0, 1]", l)
			}
		}
		n := s.callbacks
		s.ledgerOpts = append(s.ledgerOpts, quota.WithThresholds(func(e quota.Event) { callback(n, fn, e) }, levels...))
		s.thresholdsSet = true
		s.metrics.addLevels(levels)
		return nil
	}
}

// WithHTTPClient sends requests through hc's Transport (nil means
// http.DefaultTransport). Each attempt is bounded by hc.Timeout when it is
// positive and by [DefaultTimeout] when it is zero (unlike http.Client, where
// zero means no bound); [WithAttemptTimeout] overrides both. Redirects are
// never followed (as in twilio-go), and hc's Jar is not used.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) error {
		if hc == nil {
			return optErr("WithHTTPClient", "nil *http.Client")
		}
		s.httpClient = hc
		return nil
	}
}

// WithAttemptTimeout bounds each HTTP attempt by d (default
// [DefaultTimeout], or a [WithHTTPClient] client's positive Timeout); d == 0
// removes the bound, leaving attempts bounded by the call's context only.
// Rate waits and backoff sleeps are never bounded by it.
func WithAttemptTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d < 0 {
			return optErr("WithAttemptTimeout", "%s: want d >= 0", d)
		}
		s.attemptTimeout = &d
		return nil
	}
}

// WithRetry sets the policy for retrying 20429s, and 5xx and network
// errors where repeating is safe (default [backoff.DefaultPolicy], with a
// retry budget shared by the Client's requests; [backoff.NoRetry] switches
// retries off).
func WithRetry(p backoff.Policy) Option {
	return func(s *settings) error {
		if err := p.Validate(); err != nil {
			return &ConfigError{Option: "WithRetry", Err: err}
		}
		s.retry = &p
		return nil
	}
}

// WithLogger logs to l: one Warn line when Twilio starts throttling and one
// Info line when it stops, Twilio's quota refusals and failed ledger updates
// at Warn, reconcile corrections at Info, retries at Debug (see the package
// documentation). nil (the default) is silent. Secrets are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error {
		s.logger = l
		return nil
	}
}

// WithStore keeps the account's buckets and ledger in st, so that several
// clients (processes, with a shared store such as Redis) share one quota.
// The default is a new memstore.New() per Client.
//
// A Client given a store counts on other clients reserving in it: a Room
// of unknown origin that a status callback shows is then never taken for
// one of this Client's unnamed creates whose answer was lost, since another
// client's create may be in flight and be its creator. Such a create keeps
// its reservation until a Reconcile after the request window, or its TTL
// (see the README's section on lost answers).
func WithStore(st backend.Store) Option {
	return func(s *settings) error {
		if st == nil {
			return optErr("WithStore", "nil backend.Store")
		}
		s.store, s.storeShared = st, true
		return nil
	}
}

// withOwnStore is [WithStore] for a store that no other client reserves
// in for the account (Accounts' own memory store: one Client per account).
func withOwnStore(st backend.Store) Option {
	return func(s *settings) error {
		s.store, s.storeShared = st, false
		return nil
	}
}

// WithClock sets the clock used for events, reservation ids and the quota
// ledger (default the system's). Tests inject a fake one. A nil Clock is an
// error, as for every option of the module that takes a [quota.Clock].
func WithClock(c quota.Clock) Option {
	return func(s *settings) error {
		if c == nil {
			return optErr("WithClock", "nil Clock")
		}
		s.clock = c
		s.now = c.Now
		return nil
	}
}

// WithWaitForCapacity makes every call that needs a Room or Participant slot
// wait, bounded by its context, until one is free instead of failing at once
// with a *quota.ExceededError. See [WaitForCapacity] to ask it per call.
func WithWaitForCapacity() Option {
	return func(s *settings) error {
		s.waitForCapacity = true
		return nil
	}
}

// WithMaxInFlight caps the requests this Client has in flight at once at n
// (off by default). Use it when 20429s come from Twilio's API concurrency
// limit ([quota.CauseConcurrency]) rather than from the per-second quota.
func WithMaxInFlight(n int) Option {
	return func(s *settings) error {
		if n <= 0 {
			return optErr("WithMaxInFlight", "n = %d, want n > 0", n)
		}
		s.maxInFlight = n
		return nil
	}
}

// WithConcurrencyHint sets the Twilio-Concurrent-Requests value at or above
// which a 20429 is attributed to the platform's concurrency limit
// (default [DefaultConcurrencyHint]).
func WithConcurrencyHint(n int) Option {
	return func(s *settings) error {
		if n <= 0 {
			return optErr("WithConcurrencyHint", "n = %d, want n > 0", n)
		}
		s.concurrencyHint = n
		return nil
	}
}

// WithJoinWindow sets how long the slots a [Client.JoinToken] reserves wait
// for the Participant to connect (default [DefaultJoinWindow], at most the
// token's lifetime): a token whose holder never connects gives its
// Participant (and ad-hoc Room) slot back after d, whatever the token's
// lifetime, so that tokens minted for identities that never join cannot
// hold the account's quota. A holder who connects later is counted from its
// participant-connected callback, and until that callback arrives the
// ledger counts one fewer than may exist: choose d to cover the time your
// users take from receiving a token to joining. d must be at least a second.
func WithJoinWindow(d time.Duration) Option {
	return func(s *settings) error {
		if d < time.Second {
			return optErr("WithJoinWindow", "%s: want at least 1s", d)
		}
		s.joinWindow = d
		return nil
	}
}

// WithReservationTTL sets how long a slot reserved before a request
// (CreateRoom, a Participant slot) stays pending when the process dies before
// committing or releasing it (default [DefaultReservationTTL]). With a shared
// store, it is how soon the other processes get a dead process's slots back.
// It must cover a request's attempts and retries.
func WithReservationTTL(d time.Duration) Option {
	return func(s *settings) error {
		if d < time.Second {
			return optErr("WithReservationTTL", "%s: want at least 1s", d)
		}
		s.reservationTTL = d
		return nil
	}
}

type waitKey struct{}

// WaitForCapacity returns a context that makes a call wait, bounded by ctx,
// for a free Room or Participant slot instead of failing at once.
func WaitForCapacity(ctx context.Context) context.Context {
	return context.WithValue(ctx, waitKey{}, true)
}

func (c *Client) waits(ctx context.Context) bool {
	if c.waitForCapacity {
		return true
	}
	if ctx == nil {
		return false // refused by the ledger with errNilContext
	}
	w, _ := ctx.Value(waitKey{}).(bool)
	return w
}

// New returns a Client for the account accountSID, authenticating with
// authToken (or with [WithAPIKey]). accountSID must be "AC" followed by 32 hex
// digits; authToken must not be empty nor carry leading or trailing white
// space (a newline kept from a secret file). Otherwise New returns a
// *[ConfigError] naming what is wrong. Close the Client when done.
func New(accountSID, authToken string, opts ...Option) (*Client, error) {
	if !validSID("AC", accountSID) {
		return nil, optErr("New", "account SID must be \"AC\" followed by 32 hex digits")
	}
	if authToken == "" {
		return nil, optErr("New", "empty auth token")
	}
	if strings.TrimSpace(authToken) != authToken {
		// A token read from a file or a secret store often keeps its
		// newline: every request would fail with 20003 and every callback
		// signature would mismatch.
		return nil, optErr("New", "auth token has leading or trailing white space (trim the value read from a file or secret)")
	}
	s := settings{callbacks: new(atomic.Int32)}
	for i, o := range opts {
		if o == nil {
			return nil, optErr("New", "option %d is nil", i)
		}
		if err := o(&s); err != nil {
			return nil, asConfigError(err)
		}
	}
	if s.accounts.set != "" {
		return nil, optErr(s.accounts.set, "an option of NewAccounts, not of New")
	}
	c := &Client{
		accountSID:      accountSID,
		authToken:       authToken,
		apiKeySID:       s.apiKeySID,
		apiKeySecret:    s.apiKeySecret,
		baseURL:         s.baseURL,
		edge:            os.Getenv("TWILIO_EDGE"),
		region:          os.Getenv("TWILIO_REGION"),
		limits:          s.limits.WithDefaults(),
		store:           s.store,
		logger:          s.logger,
		now:             s.now,
		waitForCapacity: s.waitForCapacity,
		concurrencyHint: s.concurrencyHint,
		reservationTTL:  DefaultReservationTTL,
		joinWindow:      DefaultJoinWindow,
		fullFor:         DefaultFullFor,
		timeout:         DefaultTimeout,
		done:            make(chan struct{}),
	}
	c.life.init(s.callbacks)
	if c.baseURL != "" {
		c.base, _ = url.Parse(c.baseURL)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if s.reservationTTL > 0 {
		c.reservationTTL = s.reservationTTL
	}
	if s.joinWindow > 0 {
		c.joinWindow = s.joinWindow
	}
	if c.concurrencyHint == 0 {
		c.concurrencyHint = DefaultConcurrencyHint
	}
	if s.maxInFlight > 0 {
		c.inFlight = make(chan struct{}, s.maxInFlight)
	}
	if s.httpClient != nil {
		c.transport = s.httpClient.Transport
		if s.httpClient.Timeout > 0 {
			c.timeout = s.httpClient.Timeout
		}
	}
	if s.attemptTimeout != nil {
		c.timeout = *s.attemptTimeout
	}
	if c.transport == nil {
		c.transport = defaultTransport()
		c.ownTransport = true
	}
	if c.store == nil {
		st, err := memstore.New()
		if err != nil {
			return nil, asConfigError(err)
		}
		c.store = st
	}
	if s.retry != nil {
		c.retry = *s.retry
	} else {
		c.retry = backoff.DefaultPolicy()
	}
	c.credentials = client.Credentials{Username: accountSID, Password: authToken}
	if c.apiKeySID != "" {
		c.credentials = client.Credentials{Username: c.apiKeySID, Password: c.apiKeySecret}
	}
	c.idEpoch = strings.TrimPrefix(backend.NewKey(), "rsv-") // random: Clients with one fake clock still differ
	metrics, err := newClientMetrics(&s.metrics)
	if err != nil {
		return nil, asConfigError(err)
	}
	c.metrics = metrics
	sc := sched.Config{Shares: s.shares, Now: c.now}
	c.sched = [2]*sched.Scheduler{sched.New(sc), sched.New(sc)}
	c.tenantPolicy = s.tenantPolicy
	_, c.fair = c.store.(backend.FairStore)
	c.tenants.c = c
	c.limiter, err = quota.NewLimiter(c.metrics.limiterStore(c.store), accountSID, c.limits, quota.WithLogger(c.logger))
	if err != nil {
		return nil, &ConfigError{Option: "New", Err: err}
	}
	ledgerOpts := s.ledgerOpts
	if s.clock != nil {
		ledgerOpts = append([]quota.Option{quota.WithClock(s.clock)}, ledgerOpts...)
	}
	ledgerOpts = append(ledgerOpts, c.metrics.ledgerOptions(&s.metrics)...)
	ledgerOpts = append(ledgerOpts, quota.WithLogger(c.logger))
	if c.status, err = newStatusRecorder(c, &s.status); err != nil {
		return nil, err
	}
	if s.thresholdsSet || s.metrics.provider != nil {
		// Only where the levels are watched already: a Client that watches
		// none must not have the store decide crossings for it.
		// First, so that the status holds an event by the time the
		// application's funcs are told of it.
		ledgerOpts = slices.Insert(ledgerOpts, 1, quota.WithThresholds(c.status.threshold, s.metrics.levels...))
	}
	led, err := quota.NewLedger(c.status.ledgerStore(c.store), accountSID, c.limits, ledgerOpts...)
	if err != nil {
		return nil, &ConfigError{Option: "New", Err: err}
	}
	c.ledger = clientLedger{Ledger: led, c: c}
	c.model().shared = s.storeShared
	if err := c.metrics.register(c); err != nil {
		led.Close()
		return nil, asConfigError(err)
	}
	if c.status.fn != nil && c.startWorker() {
		go c.runForecast()
	}
	return c, nil
}

// defaultTransport is a clone of http.DefaultTransport that keeps enough idle
// connections for a busy account (Twilio allows 80 reads/s).
func defaultTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t = t.Clone()
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 128
		return t
	}
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
	}
}

// AccountSID returns the Account SID the Client works for.
func (c *Client) AccountSID() string { return c.accountSID }

// Ledger returns a read-only view of the Client's concurrency ledger (Rooms,
// Participants). Slots change only through the Client (its calls,
// [Client.ReserveParticipant] and the like, the handlers, reconciliation),
// so that what the Client knows of each Room and Participant stays in step
// with the ledger.
func (c *Client) Ledger() LedgerView { return LedgerView{l: c.ledger.Ledger} }

// Limiter returns a read-only view of the Client's request-rate limiter.
func (c *Client) Limiter() LimiterView { return LimiterView{l: c.limiter} }

// LedgerView reads a Client's concurrency ledger; see [quota.Ledger].
type LedgerView struct{ l *quota.Ledger }

// Used returns held plus pending slots of res, and whether it is marked full
// after Twilio refused for it.
func (v LedgerView) Used(ctx context.Context, res quota.Resource) (used int, full bool, err error) {
	return v.l.Used(ctx, res)
}

// Holds reports whether key (a reservation key or a SID) is pending or held.
func (v LedgerView) Holds(ctx context.Context, res quota.Resource, key string) (bool, error) {
	return v.l.Holds(ctx, res, key)
}

// Limit returns the quota of res (negative when unlimited).
func (v LedgerView) Limit(res quota.Resource) int { return v.l.Limit(res) }

// LimiterView reads a Client's request-rate limiter; see [quota.Limiter].
type LimiterView struct{ l *quota.Limiter }

// Rate returns the configured ceiling of class.
func (v LimiterView) Rate(class quota.Class) quota.Rate { return v.l.Rate(class) }

// Factor returns the adaptive factor of class: the bucket runs at
// Rate(class).PerSecond times it (1 when never slowed by a 20429).
func (v LimiterView) Factor(class quota.Class) float64 { return v.l.Factor(class) }

// Limits returns the quotas the Client was configured with, defaults filled
// in. With a store that keeps the account's limits (memstore, redisstore)
// the concurrency limits it enforces are those in force for the account,
// which [Client.Ledger]'s Limit and [Client.Usage] show (see
// [quota.NewLedger]).
func (c *Client) Limits() quota.Limits { return c.limits }

// validSID reports whether s is prefix followed by 32 lowercase or uppercase hex digits.
func validSID(prefix, s string) bool {
	if len(s) != 34 || s[:2] != prefix {
		return false
	}
	for i := 2; i < 34; i++ {
		b := s[i]
		if !('0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F') {
			return false
		}
	}
	return true
}
