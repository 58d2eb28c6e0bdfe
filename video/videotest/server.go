package videotest

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/videoquota/videoquota/internal/sidmap"
)

// Server is an in-process emulator of Twilio's Video v1 REST API and Monitor
// v1 Alerts, listening on loopback. Create one with [NewServer] and release it
// with [Server.Close]. All methods are safe for concurrent use.
type Server struct {
	opts  Options
	clock Clock
	log   *slog.Logger

	accountSID, authToken string
	keySID, keySecret     string
	authAccount, authKey  string // precomputed "Basic ..." header values

	ln  net.Listener
	hs  *http.Server
	url string

	readLim, writeLim *rate.Limiter
	inflight          atomic.Int64

	faultMu  sync.Mutex
	faults   Faults
	ctlMatch [2]string  // the control API's match method and path prefix, for GET
	rng      *rand.Rand // fault decisions; guarded by faultMu

	sidMu  sync.Mutex
	sidRng *rand.Rand // SID generation; guarded by sidMu
	reqSeq atomic.Uint64
	reqPfx string

	st counters

	mu        sync.Mutex
	closed    bool
	rooms     map[string]*room
	roomOrder []*room
	byName    map[string]*room // in-progress rooms by UniqueName
	roomsNow  int
	partsNow  int
	roomsPeak int
	partsPeak int
	warned    [2]bool // 53121 fired and not yet re-armed: [rooms, participants]

	recordings   map[string]*recording
	recOrder     []*recording
	compositions map[string]*composition
	compOrder    []*composition
	hooks        map[string]*compositionHook
	hookOrder    []*compositionHook
	compSettings settings
	recSettings  settings
	alerts       []*alert
	alertBySID   map[string]*alert

	disp *dispatcher

	acct accountState // subaccounts, or this subaccount's parent (accounts.go)

	reqLog *ring[RequestRecord]
	cbLog  *ring[CallbackRecord]
}

// NewServer starts an emulator listening on loopback (Options.Addr, default
// 127.0.0.1 with a free port). It panics if it cannot listen, like
// httptest.NewServer; use [Start] to get the error instead.
func NewServer(opts Options) *Server {
	s, err := Start(opts)
	if err != nil {
		panic(err.Error())
	}
	return s
}

// Start is [NewServer] returning an error instead of panicking, for programs
// such as the videotest command (package emulator).
func Start(opts Options) (*Server, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		s.disp.close()
		return nil, fmt.Errorf("videotest: Options.Addr %q: want a loopback host:port such as 127.0.0.1:0", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.disp.close()
		return nil, fmt.Errorf("videotest: listen %s: %w", addr, err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	go func() { _ = s.hs.Serve(ln) }()
	return s, nil
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func newServer(opts Options) (*Server, error) {
	if _, ok := sidmap.Parse("AC", opts.AccountSID); opts.AccountSID != "" && !ok {
		return nil, errors.New("videotest: Options.AccountSID must be a Twilio Account SID: AC followed by 32 hex digits")
	}
	if opts.AuthToken != "" && !isAlnum(opts.AuthToken) {
		return nil, errors.New("videotest: Options.AuthToken must be alphanumeric")
	}
	if (opts.APIKeySID == "") != (opts.APIKeySecret == "") {
		return nil, errors.New("videotest: Options.APIKeySID and Options.APIKeySecret: set both or neither")
	}
	if _, ok := sidmap.Parse("SK", opts.APIKeySID); opts.APIKeySID != "" && !ok {
		return nil, errors.New("videotest: Options.APIKeySID must be a Twilio API Key SID: SK followed by 32 hex digits")
	}
	if opts.APIKeySecret != "" && !isAlnum(opts.APIKeySecret) {
		return nil, errors.New("videotest: Options.APIKeySecret must be alphanumeric")
	}
	if opts.AdHocRoomType != "" {
		if _, ok := maxParticipantsByType[opts.AdHocRoomType]; !ok {
			return nil, fmt.Errorf("videotest: Options.AdHocRoomType %q is not a room type", opts.AdHocRoomType)
		}
	}
	switch strings.ToUpper(opts.AdHocStatusCallbackMethod) {
	case "", "POST", "GET":
	default:
		return nil, fmt.Errorf("videotest: Options.AdHocStatusCallbackMethod %q must be GET or POST", opts.AdHocStatusCallbackMethod)
	}
	seed := opts.Seed
	if seed == 0 {
		seed = 1
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.ConcurrentRooms == 0 {
		opts.ConcurrentRooms = DefaultConcurrentRooms
	}
	if opts.ConcurrentParticipants == 0 {
		opts.ConcurrentParticipants = DefaultConcurrentParticipants
	}
	if opts.ReadsPerSecond == 0 {
		opts.ReadsPerSecond = DefaultReadsPerSecond
	}
	if opts.WritesPerSecond == 0 {
		opts.WritesPerSecond = DefaultWritesPerSecond
	}
	if opts.AdHocRoomType == "" {
		opts.AdHocRoomType = "group"
	}
	opts.AdHocStatusCallbackMethod = strings.ToUpper(opts.AdHocStatusCallbackMethod)
	if opts.AdHocStatusCallbackMethod == "" {
		opts.AdHocStatusCallbackMethod = "POST"
	}
	if opts.CallbackWorkers <= 0 {
		opts.CallbackWorkers = 4
	}
	if opts.CallbackTimeout <= 0 {
		opts.CallbackTimeout = 5 * time.Second
	}
	if opts.RequestLogSize == 0 {
		opts.RequestLogSize = DefaultRequestLogSize
	}
	if opts.CallbackLogSize == 0 {
		opts.CallbackLogSize = DefaultCallbackLogSize
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:         opts,
		clock:        opts.Clock,
		log:          log,
		faults:       opts.Faults,
		rng:          rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		sidRng:       rand.New(rand.NewPCG(uint64(seed), 0x51d)),
		rooms:        make(map[string]*room),
		byName:       make(map[string]*room),
		recordings:   make(map[string]*recording),
		compositions: make(map[string]*composition),
		hooks:        make(map[string]*compositionHook),
		alertBySID:   make(map[string]*alert),
		reqLog:       newRing[RequestRecord](opts.RequestLogSize),
		cbLog:        newRing[CallbackRecord](opts.CallbackLogSize),
	}
	s.reqPfx = "RQ" + s.hex(8)
	s.accountSID = opts.AccountSID
	if s.accountSID == "" {
		s.accountSID = s.newSID("AC")
	}
	s.authToken = opts.AuthToken
	if s.authToken == "" {
		s.authToken = secretHex()
	}
	s.keySID, s.keySecret = opts.APIKeySID, opts.APIKeySecret
	if s.keySID == "" {
		s.keySID = s.newSID("SK")
		s.keySecret = secretHex()
	}
	s.authAccount = basicHeader(s.accountSID, s.authToken)
	s.authKey = basicHeader(s.keySID, s.keySecret)
	s.readLim = newLimiter(opts.ReadsPerSecond, opts.ReadBurst, s.clock.Now())
	s.writeLim = newLimiter(opts.WritesPerSecond, opts.WriteBurst, s.clock.Now())
	now := s.clock.Now()
	s.compSettings = settings{friendlyName: "", created: now}
	s.recSettings = settings{friendlyName: "", created: now}
	s.disp = newDispatcher(s)
	return s, nil
}

// newLimiter builds a token bucket of rate r and burst b (0 = one second's
// worth); nil when r is negative (limit off). The bucket starts full at now.
func newLimiter(r float64, b int, now time.Time) *rate.Limiter {
	if r < 0 {
		return nil
	}
	if b <= 0 {
		b = int(math.Ceil(r))
		if b < 1 {
			b = 1
		}
	}
	l := rate.NewLimiter(rate.Limit(r), b)
	l.AllowN(now, 0) // anchor the bucket's time at the injected clock
	return l
}

// Close stops the listener, waits briefly for in-flight requests, stops every
// room and participant timer and the callback workers, its subaccounts'
// included. Pending callbacks are
// discarded. Close is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.stopTimersLocked()
	s.mu.Unlock()
	s.closeAccounts()
	if s.hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.hs.Shutdown(ctx); err != nil {
			_ = s.hs.Close()
		}
		cancel()
	}
	s.disp.close()
}

// Shutdown stops the server gracefully, as net/http's Server.Shutdown does:
// it stops accepting connections, waits for in-flight requests, then waits
// for every queued status callback and Debugger webhook to be attempted
// (retries included), and finally releases everything as [Server.Close]
// does. If ctx ends first, the wait stops there, Close still runs, and
// ctx's error is returned. Calls after the first return at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	var err error
	if s.hs != nil {
		err = s.hs.Shutdown(ctx)
	}
	if e := s.FlushCallbacks(ctx); err == nil {
		err = e
	}
	s.Close()
	return err
}

// stopTimersLocked stops every room, participant and composition timer.
// Requires s.mu held.
func (s *Server) stopTimersLocked() {
	for _, r := range s.rooms {
		stopTimer(&r.timer)
		for _, p := range r.parts {
			stopTimer(&p.timer)
		}
	}
	for _, c := range s.compositions {
		stopTimer(&c.timer)
	}
}

// Reset returns the server to the state it started in: every subaccount
// (closed as [Server.Close] closes a server), room, participant, track,
// recording, transcription, composition, hook, alert and setting is
// discarded with its timers, the faults go back to
// [Options.Faults], the statistics and both logs are cleared and the 53121
// warnings re-armed. Credentials, options, the clock and the rate buckets are
// kept, and no callback is sent for what is discarded; callbacks queued
// before Reset may still be delivered (use [Server.FlushCallbacks] first).
func (s *Server) Reset() {
	s.mu.Lock()
	s.stopTimersLocked()
	now := s.clock.Now()
	s.rooms, s.roomOrder, s.byName = make(map[string]*room), nil, make(map[string]*room)
	s.roomsNow, s.partsNow, s.warned = 0, 0, [2]bool{}
	s.recordings, s.recOrder = make(map[string]*recording), nil
	s.compositions, s.compOrder = make(map[string]*composition), nil
	s.hooks, s.hookOrder = make(map[string]*compositionHook), nil
	s.compSettings = settings{created: now}
	s.recSettings = settings{created: now}
	s.alerts, s.alertBySID = nil, make(map[string]*alert)
	s.mu.Unlock()
	s.closeAccounts()
	s.SetFaults(s.opts.Faults)
	s.ResetStats()
	s.reqLog.reset()
	s.cbLog.reset()
}

// URL returns the base URL, e.g. "http://127.0.0.1:41234" (no trailing slash).
func (s *Server) URL() string { return s.url }

// AccountSID returns the account SID accepted for Basic auth (AC + 32 hex).
func (s *Server) AccountSID() string { return s.accountSID }

// AuthToken returns the auth token accepted for Basic auth and used to sign
// callbacks and webhooks. It is a local test credential.
func (s *Server) AuthToken() string { return s.authToken }

// APIKey returns an API key SID (SK + 32 hex) and its secret. The pair is
// accepted for Basic auth and the secret verifies access tokens in
// [Server.ConnectWithToken].
func (s *Server) APIKey() (sid, secret string) { return s.keySID, s.keySecret }

// Now returns the server clock's current time.
func (s *Server) Now() time.Time { return s.clock.Now() }

func (s *Server) hex(n int) string {
	b := make([]byte, n)
	s.sidMu.Lock()
	for i := range b {
		b[i] = byte(s.sidRng.Uint32())
	}
	s.sidMu.Unlock()
	return hex.EncodeToString(b)
}

// secretHex returns 32 hex digits from crypto/rand: secrets are never derived
// from the (public, repeatable) seed.
func secretHex() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newSID returns prefix + 32 lowercase hex digits.
func (s *Server) newSID(prefix string) string { return prefix + s.hex(16) }

// isSID reports whether v is prefix + 32 hex digits.
func isSID(v, prefix string) bool {
	_, ok := sidmap.Parse(prefix, v)
	return ok
}

func stopTimer(t *Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// counters are the lock-free request statistics.
type counters struct {
	total, reads, writes, monitor      atomic.Int64
	throttled, throttledConc, faulted  atomic.Int64
	unauthorized, inflightPeak         atomic.Int64
	byStatus                           [600]atomic.Int64
	roomsCreated, roomsEnded, joins    atomic.Int64
	cbSent, cbFailed, cbDropped, cbDup atomic.Int64
	dbgSent, dbgFailed                 atomic.Int64
}

// Stats is a snapshot of what the server saw. It is a value copy.
type Stats struct {
	// TotalRequests counts every HTTP request to the Twilio surface
	// (control API requests under /_videotest/ are not counted).
	TotalRequests int64
	// Reads and Writes count authenticated Video API requests charged to the
	// read (GET) and write (POST, DELETE) buckets, including the throttled ones.
	Reads, Writes int64
	// MonitorReads counts Monitor API (/v1/Alerts) requests; they are not
	// charged to the Video buckets.
	MonitorReads int64
	// Throttled counts every 429 sent (buckets, concurrency limit and injected).
	Throttled int64
	// ThrottledConcurrency counts the 429s caused by MaxConcurrentRequests.
	ThrottledConcurrency int64
	// Faulted counts injected HTTP faults (429, 500, 503, dropped connections).
	Faulted int64
	// Unauthorized counts 401 responses.
	Unauthorized int64
	// Requests counts responses by HTTP status code.
	Requests map[int]int64
	// InFlightPeak is the most requests seen in flight at once.
	InFlightPeak int64
	// RoomsNow and RoomsPeak are the current and peak in-progress rooms.
	RoomsNow, RoomsPeak int
	// ParticipantsNow and ParticipantsPeak are the current and peak connected participants.
	ParticipantsNow, ParticipantsPeak int
	// RoomsCreated, RoomsEnded and ParticipantsJoined are running totals.
	RoomsCreated, RoomsEnded, ParticipantsJoined int64
	// CallbacksSent counts status callback delivery attempts answered 2xx;
	// CallbacksFailed attempts that failed or got another status (a retry
	// is an attempt of its own);
	// CallbacksDropped and CallbacksDuplicated those affected by faults.
	CallbacksSent, CallbacksFailed, CallbacksDropped, CallbacksDuplicated int64
	// DebuggerEventsSent and DebuggerEventsFailed count Debugger webhook
	// delivery attempts likewise.
	DebuggerEventsSent, DebuggerEventsFailed int64
	// Alerts is the number of Monitor alerts recorded.
	Alerts int
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := &s.st
	st := Stats{
		TotalRequests:        c.total.Load(),
		Reads:                c.reads.Load(),
		Writes:               c.writes.Load(),
		MonitorReads:         c.monitor.Load(),
		Throttled:            c.throttled.Load(),
		ThrottledConcurrency: c.throttledConc.Load(),
		Faulted:              c.faulted.Load(),
		Unauthorized:         c.unauthorized.Load(),
		Requests:             make(map[int]int64),
		InFlightPeak:         c.inflightPeak.Load(),
		RoomsCreated:         c.roomsCreated.Load(),
		RoomsEnded:           c.roomsEnded.Load(),
		ParticipantsJoined:   c.joins.Load(),
		CallbacksSent:        c.cbSent.Load(),
		CallbacksFailed:      c.cbFailed.Load(),
		CallbacksDropped:     c.cbDropped.Load(),
		CallbacksDuplicated:  c.cbDup.Load(),
		DebuggerEventsSent:   c.dbgSent.Load(),
		DebuggerEventsFailed: c.dbgFailed.Load(),
	}
	for i := range c.byStatus {
		if n := c.byStatus[i].Load(); n != 0 {
			st.Requests[i] = n
		}
	}
	s.mu.Lock()
	st.RoomsNow, st.RoomsPeak = s.roomsNow, s.roomsPeak
	st.ParticipantsNow, st.ParticipantsPeak = s.partsNow, s.partsPeak
	st.Alerts = len(s.alerts)
	s.mu.Unlock()
	return st
}

// ResetStats zeroes the counters; peaks restart from the current values.
// Rooms, participants and alerts are not touched.
func (s *Server) ResetStats() {
	c := &s.st
	for _, a := range []*atomic.Int64{&c.total, &c.reads, &c.writes, &c.monitor, &c.throttled,
		&c.throttledConc, &c.faulted, &c.unauthorized, &c.inflightPeak, &c.roomsCreated, &c.roomsEnded,
		&c.joins, &c.cbSent, &c.cbFailed, &c.cbDropped, &c.cbDup, &c.dbgSent, &c.dbgFailed} {
		a.Store(0)
	}
	for i := range c.byStatus {
		c.byStatus[i].Store(0)
	}
	s.mu.Lock()
	s.roomsPeak, s.partsPeak = s.roomsNow, s.partsNow
	s.mu.Unlock()
}

// SetFaults replaces the injected faults at run time.
func (s *Server) SetFaults(f Faults) {
	s.faultMu.Lock()
	s.faults = f
	s.ctlMatch = [2]string{}
	s.faultMu.Unlock()
}

// Faults returns the faults in force (Force429 shows the remaining count).
func (s *Server) Faults() Faults {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults
}
