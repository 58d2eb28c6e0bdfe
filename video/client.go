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
	"strings"
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/videoquota/videoquota/backoff"
	"github.com/videoquota/videoquota/quota"
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
	// marked full when nothing corrects the ledger first (a Room completing,
	// a Participant leaving, a reconcile). Twilio's REST rooms time out after
	// 5 minutes without participants, so a minute is a conservative retry point.
	DefaultFullFor = time.Minute
	// DefaultConcurrencyHint is the Twilio-Concurrent-Requests value at or
	// above which a 20429 is attributed to the platform's API concurrency limit
	// rather than to the Video requests-per-second quota. Twilio does not
	// publish the platform limit ([INFERENCE] from its guide to scaling: Video
	// alone meets its per-second quota first); 100 is far above what an
	// account sending 20 writes/s and 80 reads/s keeps in flight.
	DefaultConcurrencyHint = 100
)

// twilioVideoHost is the host twilio-go's Video v1 client talks to.
const twilioVideoHost = "https://video.twilio.com"

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
	ledger  *quota.Ledger
	store   quota.Store
	logger  *slog.Logger
	now     func() time.Time

	transport       http.RoundTripper // the base transport every attempt goes through
	ownTransport    bool              // transport was made by New: Close closes its idle connections
	timeout         time.Duration     // per attempt; 0 = none
	retry           backoff.Policy
	waitForCapacity bool
	inFlight        chan struct{} // nil when WithMaxInFlight is off
	concurrencyHint int
	reservationTTL  time.Duration
	fullFor         time.Duration

	stats   stats
	closed  atomic.Bool
	seq     atomic.Uint64 // reservation ids
	idEpoch string        // distinguishes this client's reservation ids across processes

	// events is what status callbacks, Debugger events, JoinToken and
	// Reconcile know (see callbacks.go);
	// its zero value is ready.
	events eventState

	metrics *clientMetrics // nil unless WithMeterProvider (metrics.go)
}

// Option configures a [Client] in [New]. An invalid option makes New fail
// with an error naming it.
type Option func(*settings) error

// settings collects the options before New builds the Client.
type settings struct {
	apiKeySID, apiKeySecret string
	baseURL                 string
	limits                  quota.Limits
	ledgerOpts              []quota.LedgerOption
	thresholdsSet           bool
	httpClient              *http.Client
	logger                  *slog.Logger
	retry                   *backoff.Policy
	store                   quota.Store
	now                     func() time.Time
	waitForCapacity         bool
	maxInFlight             int
	reservationTTL          time.Duration
	concurrencyHint         int
	metrics                 metricsSettings
}

// WithAPIKey authenticates REST requests with an API key instead of the
// Account SID and auth token. The auth token given to [New] is still used to
// validate webhook signatures.
func WithAPIKey(keySID, keySecret string) Option {
	return func(s *settings) error {
		if !validSID("SK", keySID) {
			return fmt.Errorf("video: WithAPIKey: key SID must be \"SK\" followed by 32 hex digits")
		}
		if keySecret == "" {
			return errors.New("video: WithAPIKey: empty key secret")
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
			return fmt.Errorf("video: WithBaseURL: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("video: WithBaseURL(%q): want an absolute http or https URL", rawURL)
		}
		if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return fmt.Errorf("video: WithBaseURL(%q): want an origin without path or query", rawURL)
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
			return fmt.Errorf("video: WithLimits: %w", err)
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
			return errors.New("video: WithThresholds: nil ThresholdFunc")
		}
		for _, l := range levels {
			if !(l > 0 && l <= 1) {
				return fmt.Errorf("video: WithThresholds: level %v outside (0, 1]", l)
			}
		}
		s.ledgerOpts = append(s.ledgerOpts, quota.WithThreshold(fn, levels...))
		s.thresholdsSet = true
		s.metrics.addLevels(levels)
		return nil
	}
}

// WithHTTPClient sends requests through hc's Transport (nil means
// http.DefaultTransport) and bounds each attempt by hc.Timeout. Redirects are
// never followed (as in twilio-go), and hc's Jar is not used.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) error {
		if hc == nil {
			return errors.New("video: WithHTTPClient: nil *http.Client")
		}
		s.httpClient = hc
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
			return fmt.Errorf("video: WithRetry: %w", err)
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
// The default is a new quota.NewMemoryStore() per Client.
func WithStore(st quota.Store) Option {
	return func(s *settings) error {
		if st == nil {
			return errors.New("video: WithStore: nil quota.Store")
		}
		s.store = st
		return nil
	}
}

// WithClock sets the clock used for events and reservation ids (default
// time.Now). Tests inject a fake one.
func WithClock(now func() time.Time) Option {
	return func(s *settings) error {
		if now == nil {
			return errors.New("video: WithClock: nil clock")
		}
		s.now = now
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
			return fmt.Errorf("video: WithMaxInFlight(%d): want n > 0", n)
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
			return fmt.Errorf("video: WithConcurrencyHint(%d): want n > 0", n)
		}
		s.concurrencyHint = n
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
			return fmt.Errorf("video: WithReservationTTL(%s): want at least 1s", d)
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
	w, _ := ctx.Value(waitKey{}).(bool)
	return w
}

// New returns a Client for the account accountSID, authenticating with
// authToken (or with [WithAPIKey]). accountSID must be "AC" followed by 32 hex
// digits; authToken must not be empty. Close the Client when done.
func New(accountSID, authToken string, opts ...Option) (*Client, error) {
	if !validSID("AC", accountSID) {
		return nil, errors.New("video: New: account SID must be \"AC\" followed by 32 hex digits")
	}
	if authToken == "" {
		return nil, errors.New("video: New: empty auth token")
	}
	s := settings{}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("video: New: option %d is nil", i)
		}
		if err := o(&s); err != nil {
			return nil, err
		}
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
		fullFor:         DefaultFullFor,
		timeout:         DefaultTimeout,
	}
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
	if c.concurrencyHint == 0 {
		c.concurrencyHint = DefaultConcurrencyHint
	}
	if s.maxInFlight > 0 {
		c.inFlight = make(chan struct{}, s.maxInFlight)
	}
	if s.httpClient != nil {
		c.transport = s.httpClient.Transport
		c.timeout = s.httpClient.Timeout
	}
	if c.transport == nil {
		c.transport = defaultTransport()
		c.ownTransport = true
	}
	if c.store == nil {
		c.store = quota.NewMemoryStore()
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
	c.idEpoch = fmt.Sprintf("%x", c.now().UnixNano())
	metrics, err := newClientMetrics(&s.metrics)
	if err != nil {
		return nil, err
	}
	c.metrics = metrics
	c.limiter = quota.NewLimiter(c.metrics.limiterStore(c.store), accountSID, c.limits, quota.LimiterLogger(c.logger))
	ledgerOpts := append([]quota.LedgerOption{quota.WithClock(c.now)}, s.ledgerOpts...)
	ledgerOpts = append(ledgerOpts, c.metrics.ledgerOptions(&s.metrics)...)
	led, err := quota.NewLedger(c.store, accountSID, c.limits, ledgerOpts...)
	if err != nil {
		return nil, fmt.Errorf("video: New: %w", err)
	}
	c.ledger = led
	if err := c.metrics.register(c); err != nil {
		led.Close()
		return nil, err
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

// Close stops the ledger's event goroutine after delivering the events already
// queued and closes the idle connections of the Client's own HTTP transport
// (not those of a [WithHTTPClient] transport). Calls made after Close fail
// with [ErrClosed]. Close is idempotent and returns nil.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.metrics.close()
	c.ledger.Close()
	if t, ok := c.transport.(interface{ CloseIdleConnections() }); ok && c.ownTransport {
		t.CloseIdleConnections()
	}
	return nil
}

// ErrClosed is returned by calls on a closed [Client].
var ErrClosed = errors.New("video: client closed")

// AccountSID returns the Account SID the Client works for.
func (c *Client) AccountSID() string { return c.accountSID }

// Ledger returns the Client's concurrency ledger (Rooms, Participants), for
// status-callback handlers and reconciliation.
func (c *Client) Ledger() *quota.Ledger { return c.ledger }

// Limiter returns the Client's request-rate limiter.
func (c *Client) Limiter() *quota.Limiter { return c.limiter }

// Limits returns the quotas the Client enforces, with defaults filled in.
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
