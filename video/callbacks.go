package video

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"golang.org/x/time/rate"

	"github.com/videoquota/videoquota/quota"
)

// Defaults of the webhook handlers, each with where its number comes from.
const (
	// DefaultMaxCallbackBody bounds a status callback or Debugger webhook
	// body. Twilio's Room callbacks are a few hundred bytes and a Debugger
	// event with its webhook excerpt a few KiB; larger bodies get 413.
	DefaultMaxCallbackBody = 64 << 10
	// DefaultCallbackRetention is how long the handler remembers an ended Room
	// or a disconnected Participant, to recognise late duplicates and
	// reordered deliveries. Twilio does not document callback retries
	// (FACTS §3.4); deliveries later than this are corrected by [Client.Reconcile].
	DefaultCallbackRetention = 15 * time.Minute
	// DefaultCloseGrace is how long [WithCloseEmptyRooms] waits after a Room's
	// last Participant left before completing it: long enough for a
	// reconnecting client or a late participant-connected, and for the
	// room-ended of an ad-hoc Room (which Twilio ends itself) to arrive.
	DefaultCloseGrace = 2 * time.Second
	// maxCloseQueue bounds the Rooms waiting to be completed; more are left
	// to Twilio's EmptyRoomTimeout.
	maxCloseQueue = 1024
	// closeWorkers bounds the goroutines completing empty Rooms.
	closeWorkers = 4
	// closeTimeout bounds the read and the write that complete one Room.
	closeTimeout = 30 * time.Second
	// dedupeSize bounds the remembered deliveries (events and alerts).
	dedupeSize = 8192
)

// RoomEventFunc receives Room status callback events; see [OnRoomEvent].
type RoomEventFunc func(RoomEvent)

// AlertFunc receives Debugger events and Monitor alerts; see [OnAlert].
type AlertFunc func(AlertEvent)

// HandlerOption configures [Client.StatusCallbackHandler],
// [Client.AlertHandler] and [Client.PollAlerts]. The handler constructors
// panic on an invalid option (a nil func, a malformed URL), as http.Handle
// does on a programming error; the message names the option.
type HandlerOption func(*handlerConfig) error

type handlerConfig struct {
	urlFunc    func(*http.Request) string
	maxBody    int64
	onRoom     []RoomEventFunc
	onAlert    []AlertFunc
	closeEmpty bool
	closeGrace time.Duration
}

// WithPublicURL validates signatures against rawURL, the address Twilio
// calls (as configured in StatusCallback or the Console), instead of the URL
// the request arrived at: use it behind a proxy or load balancer that
// rewrites the scheme, host or path. The request's query string, if any, is
// appended when rawURL has none (GET callbacks carry their parameters there).
func WithPublicURL(rawURL string) HandlerOption {
	return func(h *handlerConfig) error {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("video: WithPublicURL(%q): want an absolute http or https URL", rawURL)
		}
		h.urlFunc = func(r *http.Request) string {
			if u.RawQuery == "" && r.URL.RawQuery != "" {
				return rawURL + "?" + r.URL.RawQuery
			}
			return rawURL
		}
		return nil
	}
}

// WithURLFunc validates signatures against the URL fn returns for each
// request, with its query string: for deployments where the public URL
// depends on the request (several hosts, trusted forwarding headers).
func WithURLFunc(fn func(*http.Request) string) HandlerOption {
	return func(h *handlerConfig) error {
		if fn == nil {
			return errors.New("video: WithURLFunc: nil func")
		}
		h.urlFunc = fn
		return nil
	}
}

// WithMaxBody sets the largest accepted body (default
// [DefaultMaxCallbackBody]); larger requests get 413 and change nothing.
func WithMaxBody(n int64) HandlerOption {
	return func(h *handlerConfig) error {
		if n <= 0 {
			return fmt.Errorf("video: WithMaxBody(%d): want n > 0", n)
		}
		h.maxBody = n
		return nil
	}
}

// OnRoomEvent calls fn with each Room status callback accepted by the
// handler, once per event (duplicate deliveries are not passed on), after
// the ledger was updated and before the response is written, on the
// request's goroutine. Events that arrived out of order are passed on with
// Stale set. Keep fn fast: Twilio waits for the response. It may be given
// several times.
func OnRoomEvent(fn RoomEventFunc) HandlerOption {
	return func(h *handlerConfig) error {
		if fn == nil {
			return errors.New("video: OnRoomEvent: nil func")
		}
		h.onRoom = append(h.onRoom, fn)
		return nil
	}
}

// OnAlert calls fn with each Debugger event or polled Monitor alert, once
// per alert, after the ledger and threshold funcs were told, on the
// request's (or the poller's) goroutine. It may be given several times.
func OnAlert(fn AlertFunc) HandlerOption {
	return func(h *handlerConfig) error {
		if fn == nil {
			return errors.New("video: OnAlert: nil func")
		}
		h.onAlert = append(h.onAlert, fn)
		return nil
	}
}

// WithCloseEmptyRooms makes the status callback handler complete a Room as
// soon as its last Participant left, instead of letting it hold a Room slot
// for Twilio's EmptyRoomTimeout (5 minutes by default). After grace
// ([DefaultCloseGrace] is a good value; 0 means at once) the Room is
// completed, if it is still empty by the callbacks seen: one read
// (ListRoomParticipant, connected, page size 1) confirms that nobody is
// connected, so that a dropped participant-connected never ends a Room with
// people in it, then UpdateRoom(Status=completed) goes through the write
// bucket. This runs on at most 4 goroutines that exit when idle; it never
// delays the callback's response. A Room that ended meanwhile (ad-hoc Rooms
// end by themselves) is skipped.
func WithCloseEmptyRooms(grace time.Duration) HandlerOption {
	return func(h *handlerConfig) error {
		if grace < 0 {
			return fmt.Errorf("video: WithCloseEmptyRooms(%s): want a grace >= 0", grace)
		}
		h.closeEmpty, h.closeGrace = true, grace
		return nil
	}
}

func buildHandlerConfig(method string, opts []HandlerOption) *handlerConfig {
	h := &handlerConfig{maxBody: DefaultMaxCallbackBody}
	for i, o := range opts {
		if o == nil {
			panic(fmt.Sprintf("video: %s: option %d is nil", method, i))
		}
		if err := o(h); err != nil {
			panic(err.Error())
		}
	}
	return h
}

// requestURL is the URL Twilio signed: the configured public URL, or the
// one the request arrived at.
func (h *handlerConfig) requestURL(r *http.Request) string {
	if h.urlFunc != nil {
		return h.urlFunc(r)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// errSignature is answered with 403.
var errSignature = errors.New("video: missing or invalid X-Twilio-Signature")

// webhookError is a rejected webhook request with its HTTP status.
type webhookError struct {
	status int
	err    error
}

// readSigned reads and authenticates a Twilio webhook: POST with a form body
// (signed over URL + sorted parameters) or GET (signed over the URL with its
// query). It returns the parameters, or the status to answer and why.
func (c *Client) readSigned(w http.ResponseWriter, r *http.Request, h *handlerConfig) (url.Values, *webhookError) {
	sig := r.Header.Get("X-Twilio-Signature")
	fullURL := h.requestURL(r)
	rv := client.NewRequestValidator(c.authToken)
	switch r.Method {
	case http.MethodGet:
		if len(r.URL.RawQuery) > int(h.maxBody) {
			return nil, &webhookError{http.StatusRequestURITooLong, errors.New("query too long")}
		}
		if sig == "" || !rv.Validate(fullURL, nil, sig) {
			return nil, &webhookError{http.StatusForbidden, errSignature}
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, &webhookError{http.StatusBadRequest, fmt.Errorf("malformed query: %w", err)}
		}
		return q, nil
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || mt != "application/x-www-form-urlencoded" {
				return nil, &webhookError{http.StatusUnsupportedMediaType,
					errors.New("want Content-Type application/x-www-form-urlencoded")}
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, &webhookError{http.StatusRequestEntityTooLarge, errors.New("body too large")}
			}
			return nil, &webhookError{http.StatusBadRequest, fmt.Errorf("reading body: %w", err)}
		}
		if sig == "" {
			return nil, &webhookError{http.StatusForbidden, errSignature}
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, &webhookError{http.StatusBadRequest, fmt.Errorf("malformed form body: %w", err)}
		}
		// Twilio signs every parameter it sends; a repeated name cannot be
		// expressed in twilio-go's validator, so refuse it rather than
		// accept a value that was never signed.
		params := make(map[string]string, len(form))
		for k, v := range form {
			if len(v) != 1 {
				return nil, &webhookError{http.StatusBadRequest, fmt.Errorf("parameter %q repeated", shorten(k))}
			}
			params[k] = v[0]
		}
		if !rv.Validate(fullURL, params, sig) {
			return nil, &webhookError{http.StatusForbidden, errSignature}
		}
		return form, nil
	}
	w.Header().Set("Allow", "GET, POST")
	return nil, &webhookError{http.StatusMethodNotAllowed, errors.New("want GET or POST")}
}

func (c *Client) rejectWebhook(w http.ResponseWriter, r *http.Request, kind string, e *webhookError) {
	c.metrics.rejected(r.Context(), kind)
	c.logger.LogAttrs(r.Context(), slog.LevelWarn, "videoquota: rejected "+kind,
		slog.Int("status", e.status), slog.String("reason", e.err.Error()))
	http.Error(w, http.StatusText(e.status), e.status)
}

// StatusCallbackHandler returns the http.Handler to give Twilio as the Room
// StatusCallback (REST Rooms) and as the ad-hoc Rooms' callback (Console
// Room Settings). It keeps the Client's ledger true to what Twilio reports:
//
//   - room-created holds a Room slot under the RoomSid (committing a
//     [Client.JoinToken] Room reservation for that name, if any);
//   - room-ended releases the Room and every Participant seen in it;
//   - participant-connected holds a Participant slot under the
//     ParticipantSid (committing the JoinToken reservation of that Room and
//     identity, if any), and the Room if it was not known;
//   - participant-disconnected releases it.
//
// # Validation
//
// Every request must carry a valid X-Twilio-Signature (HMAC-SHA1 with the
// auth token given to [New], checked by twilio-go's RequestValidator over
// the URL and the parameters; see [WithPublicURL] behind a proxy): otherwise
// 403 and nothing changes. POST form bodies and GET queries are accepted;
// bodies over [WithMaxBody] get 413, other content types 415, other methods
// 405. A signed callback whose ledger fields are missing or malformed
// (RoomSid, ParticipantSid, Timestamp) or whose AccountSid is another
// account's gets 400 and changes nothing. Event names this library does not
// act on (track, recording, and any Twilio adds later) get 200 and are
// passed to [OnRoomEvent] funcs without changing the ledger.
//
// # Duplicates and order
//
// A duplicate delivery changes nothing and is not passed on. Rooms and
// Participants only move forward (created → ended, connected →
// disconnected) and Twilio never reuses their SIDs, so an event older by
// Timestamp than the last one applied for its SID, or arriving after the
// SID's end, is stale: it changes nothing (SequenceNumber is not an order).
// Ended Rooms and Participants are remembered for [DefaultCallbackRetention].
// An event whose Timestamp is older than that (a replayed request: Twilio's
// signature does not cover time; or a very late delivery) changes nothing
// and is passed on with Stale set. Such events, and callbacks Twilio never
// delivered, are corrected by [Client.Reconcile].
//
// Duplicates are recognised among the last 8192 deliveries, remembered as
// 64-bit hashes of their fields (seeded per Client): two different
// deliveries hashing alike (about 2^-51 per delivery) would make the second
// look like a duplicate, which costs it as a lost callback would, until the
// next [Client.Reconcile].
//
// Ledger updates are serialised across the Client's handlers. The handler
// is safe for simultaneous use; several handlers of one Client share state.
func (c *Client) StatusCallbackHandler(opts ...HandlerOption) http.Handler {
	h := buildHandlerConfig("StatusCallbackHandler", opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, werr := c.readSigned(w, r, h)
		if werr != nil {
			c.rejectWebhook(w, r, "status callback", werr)
			return
		}
		ev, err := parseRoomEvent(form)
		if err == nil && ev.AccountSID != "" && ev.AccountSID != c.accountSID {
			err = &FieldError{Field: "AccountSid", Reason: "not this Client's account"}
		}
		if err != nil {
			c.rejectWebhook(w, r, "status callback", &webhookError{http.StatusBadRequest, err})
			return
		}
		st := c.eventState()
		// Not cancelled when Twilio hangs up: an update is applied whole.
		apply, err := st.applyRoomEvent(context.WithoutCancel(r.Context()), c, &ev, h)
		if err != nil {
			// The store failed (a shared store that is down): ask Twilio to
			// send it again; nothing was remembered as seen.
			c.logger.LogAttrs(r.Context(), slog.LevelError, "videoquota: applying a status callback failed",
				slog.String("event", ev.Event), slog.String("error", err.Error()))
			c.metrics.callback(r.Context(), deliveryStatus, cbFailed)
			http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
			return
		}
		c.metrics.statusCallback(r.Context(), apply, ev.Stale)
		if apply {
			for _, fn := range h.onRoom {
				fn(ev)
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}

// roomTrack is what the callbacks told of one Room, by value, and the
// Participants indexed in it (see indexLocked): the Room -> Participant
// relation is kept once, here. A roomTrack whose mark is untracked exists
// only for the index.
type roomTrack struct {
	sid string // the map key, kept to share it (interned) with the ledger and the index
	mark
	parts []string // Participants indexed in it (at most 50 in a Room)
}

// partTrack is what the callbacks told of one Participant, by value, and
// its place in the index: the Room it is indexed in and its idx bits. One
// with idxOnly exists only for the index.
type partTrack struct {
	mark
	room string // "" when not indexed
	bits uint8
}

// mark is a track's state in 8 bytes: a time in Unix microseconds (see
// stamp) shifted left by one, with whether the SID ended in the low bit.
// The shift keeps times exact and ordered (int64 still holds +-146,000
// years). The time is the Timestamp of the last event applied while the SID
// is live, and the local time it ended once ended (for pruning): nothing is
// ordered against an ended SID, every later event for it is stale.
type mark int64

// inProgress is the mark of a live SID whose last event was at.
func inProgress(at int64) mark { return mark(at << 1) }

// endedAt is the mark of a SID that ended at local time at.
func endedAt(at int64) mark { return mark(at<<1 | 1) }

func (m mark) at() int64 { return int64(m) >> 1 }

func (m mark) ended() bool { return m&1 != 0 }

// stamp returns t in Unix microseconds, which int64 holds for every year
// time.Parse reads (RFC 3339 years are 0000-9999). Events are ordered to the
// microsecond: Twilio's Timestamps carry seconds (FACTS §3, e.g. 2020-01-01T23:28:54Z).
func stamp(t time.Time) int64 { return t.UnixMicro() }

// eventState is a Client's memory of status callbacks, Debugger events,
// JoinToken reservations and reconciliations. Its zero value is ready; it is
// created on first use.
//
// It is sized for many tracked SIDs: tracks are stored by value with int64
// times, SID strings are copied out of the request body once (so a body is
// never kept alive by a SID) and shared by the ledger, the index and these
// maps, and deliveries are remembered as 64-bit hashes.
type eventState struct {
	mu        sync.Mutex // serialises ledger updates driven by events; guards the fields below
	rooms     map[string]roomTrack
	names     map[string]string // UniqueName -> SID of the Room last seen in progress under it; see roomInProgressLocked
	parts     map[string]partTrack
	seen      dedupe               // status callback deliveries
	alerts    dedupe               // Debugger event SIDs and idempotency tokens
	tokens    map[string]time.Time // JoinToken Participant reservation key -> expiry
	roomRes   map[string]time.Time // Room name with a JoinToken Room reservation -> expiry
	recon     *reconWindow         // non-nil while a Reconcile runs
	lastPrune time.Time            // local time of the last prune
	retention time.Duration        // how long ended SIDs are remembered
	closer    closer               // WithCloseEmptyRooms
	reconLim  *rate.Limiter        // Reconcile's share of the read quota, made on first use
	pollLim   *rate.Limiter        // PollAlerts' read budget, made on first use
	reconMu   sync.Mutex           // one Reconcile at a time
	once      sync.Once
}

func (s *eventState) init() {
	s.rooms = make(map[string]roomTrack)
	s.names = make(map[string]string)
	s.parts = make(map[string]partTrack)
	s.tokens = make(map[string]time.Time)
	s.roomRes = make(map[string]time.Time)
	s.seen.init(dedupeSize)
	s.alerts.init(dedupeSize)
	s.retention = DefaultCallbackRetention
	s.closer.init()
}

// dedupe is a bounded set of keys that forgets its oldest first. It stores
// 64-bit hashes (hash/maphash, seeded per set), not the keys: two different
// keys colliding (about 2^-51 for a set of 8192) would make the second look
// like a duplicate and be dropped, which costs one ignored delivery, the
// same as a lost one, and is corrected by [Client.Reconcile].
type dedupe struct {
	seed maphash.Seed
	set  map[uint64]struct{}
	ring []uint64 // made on first add
	size int      // capacity of ring
	n    int      // hashes in ring
	next int
}

func (d *dedupe) init(n int) {
	d.seed = maphash.MakeSeed()
	d.set = make(map[uint64]struct{})
	d.size = n
}

func (d *dedupe) hash(key string) uint64 { return maphash.String(d.seed, key) }

// add records key and reports whether it was new.
func (d *dedupe) add(key string) bool { return d.addHash(d.hash(key)) }

func (d *dedupe) has(key string) bool { return d.hasHash(d.hash(key)) }

// addHash records h and reports whether it was new.
func (d *dedupe) addHash(h uint64) bool {
	if _, ok := d.set[h]; ok {
		return false
	}
	if d.ring == nil {
		d.ring = make([]uint64, d.size)
	}
	if d.n == len(d.ring) {
		delete(d.set, d.ring[d.next])
	} else {
		d.n++
	}
	d.ring[d.next] = h
	d.next = (d.next + 1) % len(d.ring)
	d.set[h] = struct{}{}
	return true
}

func (d *dedupe) hasHash(h uint64) bool {
	_, ok := d.set[h]
	return ok
}

// roomResKey is the ledger key of a Room slot reserved by JoinToken for a
// Room name not known to be in progress.
func roomResKey(name string) string { return "pending-room:" + name }

// deliveryHash identifies one delivery of an event in d: a duplicate has
// the same. It hashes the fields, separated, without building a key.
func (d *dedupe) deliveryHash(e *RoomEvent) uint64 {
	var h maphash.Hash
	h.SetSeed(d.seed)
	for _, f := range [...]string{e.Event, e.RoomSID, e.ParticipantSID, e.TrackSID, e.RecordingSID,
		e.Params.Get("Timestamp"), e.Params.Get("SequenceNumber")} {
		h.WriteString(f)
		h.WriteByte('|')
	}
	return h.Sum64()
}

// internLocked points e's RoomSID and ParticipantSID at the strings already
// kept for them, or at copies: the parsed values share the request body's
// memory, which a kept SID would otherwise keep alive.
func (s *eventState) internLocked(e *RoomEvent) {
	if e.RoomSID != "" {
		if r, ok := s.rooms[e.RoomSID]; ok {
			e.RoomSID = r.sid
		} else {
			e.RoomSID = strings.Clone(e.RoomSID)
		}
	}
	if e.ParticipantSID != "" {
		e.ParticipantSID = strings.Clone(e.ParticipantSID)
	}
}

// applyRoomEvent updates the ledger from e and reports whether e is new (not
// a duplicate delivery). It sets e.Stale when e arrived after a later event.
func (s *eventState) applyRoomEvent(ctx context.Context, c *Client, e *RoomEvent, h *handlerConfig) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := s.seen.deliveryHash(e)
	if s.seen.hasHash(key) {
		return false, nil
	}
	now := c.now()
	s.pruneLocked(now)
	if e.ledgerEvent() && e.Timestamp.Before(now.Add(-s.retention)) {
		// A replay, or a delivery so late that its SID may be forgotten:
		// applying it could resurrect a Participant long gone.
		e.Stale = true
		s.seen.addHash(key)
		return true, nil
	}
	if e.ledgerEvent() {
		s.internLocked(e)
	}
	var err error
	switch e.Event {
	case EventRoomCreated:
		err = s.roomCreatedLocked(ctx, c, e)
	case EventRoomEnded:
		err = s.roomEndedLocked(ctx, c, e)
	case EventParticipantConnected:
		err = s.participantConnectedLocked(ctx, c, e)
	case EventParticipantDisconnected:
		var empty bool
		empty, err = s.participantDisconnectedLocked(ctx, c, e)
		if err == nil && empty && h.closeEmpty {
			s.closer.enqueue(c, e.RoomSID, c.now().Add(h.closeGrace))
		}
	}
	if err != nil {
		return false, err
	}
	s.seen.addHash(key)
	return true, nil
}

// roomLocked returns the track of Room sid and whether it is new to the
// callbacks: a new track is in progress and not stored yet (the caller
// stores it once the ledger agreed). It keeps the Room's index.
func (s *eventState) roomLocked(sid string) (roomTrack, bool) {
	r, ok := s.rooms[sid]
	if !ok {
		return roomTrack{sid: sid}, true
	}
	if r.mark == untracked {
		r.mark = 0
		return r, true
	}
	return r, false
}

// partLocked returns the track of Participant sid and whether the
// callbacks know it; the track keeps its place in the index.
func (s *eventState) partLocked(sid string) (partTrack, bool) {
	p, ok := s.parts[sid]
	if !ok || p.bits&idxOnly != 0 {
		p.mark = 0
		return p, false
	}
	return p, true
}

// trackPartLocked stores m as what the callbacks know of Participant sid.
func (s *eventState) trackPartLocked(sid string, m mark) {
	p := s.parts[sid]
	p.mark, p.bits = m, p.bits&^idxOnly
	s.parts[sid] = p
}

// trackedRoomLocked returns the track of Room sid if the callbacks know it.
func (s *eventState) trackedRoomLocked(sid string) (roomTrack, bool) {
	r, ok := s.rooms[sid]
	return r, ok && r.mark != untracked
}

// nameLocked records sid as the Room in progress under name.
func (s *eventState) nameLocked(name, sid string) {
	if name == "" {
		return
	}
	if cur, ok := s.names[name]; !ok || cur != sid {
		s.names[strings.Clone(name)] = sid
	}
}

// holdRoomLocked holds a Room slot for sid, committing a JoinToken
// reservation made for its name if there is one.
func (s *eventState) holdRoomLocked(ctx context.Context, c *Client, sid, name string) error {
	if name != "" {
		if _, ok := s.roomRes[name]; ok {
			if err := c.ledger.Commit(ctx, quota.Rooms, roomResKey(name), sid); err != nil {
				return err
			}
			delete(s.roomRes, name)
			s.nameLocked(name, sid)
			return nil
		}
		s.nameLocked(name, sid)
	}
	return c.HoldRoom(ctx, sid)
}

func (s *eventState) roomCreatedLocked(ctx context.Context, c *Client, e *RoomEvent) error {
	r, isNew := s.roomLocked(e.RoomSID)
	if !isNew {
		if r.ended() || stamp(e.Timestamp) < r.at() {
			e.Stale = true
		}
		return nil // already in progress (a participant event came first) or ended
	}
	if err := s.holdRoomLocked(ctx, c, r.sid, e.RoomName); err != nil {
		return err
	}
	r.mark = inProgress(stamp(e.Timestamp))
	s.rooms[r.sid] = r
	s.recon.room(r.sid, true)
	return nil
}

func (s *eventState) roomEndedLocked(ctx context.Context, c *Client, e *RoomEvent) error {
	r, _ := s.roomLocked(e.RoomSID)
	if r.ended() {
		e.Stale = true
		return nil
	}
	// The Participants this Client holds there, and those the callbacks
	// showed connected (held by another process, or already released by
	// completing the Room through REST): all end with the Room.
	taken, err := s.releaseRoomLocked(ctx, c, r.sid, idxHeld|idxConn)
	if err != nil {
		return err
	}
	now := stamp(c.now())
	for _, p := range taken {
		if p.bits&idxConn == 0 {
			continue
		}
		if _, known := s.partLocked(p.sid); known {
			s.trackPartLocked(p.sid, endedAt(now))
		}
		s.recon.part(p.sid, false)
	}
	r.mark, r.parts = endedAt(now), s.rooms[r.sid].parts
	s.storeRoomLocked(r)
	s.recon.room(r.sid, false)
	return nil
}

func (s *eventState) participantConnectedLocked(ctx context.Context, c *Client, e *RoomEvent) error {
	ts := stamp(e.Timestamp)
	if p, known := s.partLocked(e.ParticipantSID); known {
		if p.ended() || ts < p.at() {
			e.Stale = true
		}
		return nil
	}
	r, isNew := s.roomLocked(e.RoomSID)
	if r.ended() {
		// Connected before the Room ended, delivered after: already gone.
		e.Stale = true
		s.trackPartLocked(e.ParticipantSID, endedAt(stamp(c.now())))
		s.releaseTokenLocked(ctx, c, e)
		return nil
	}
	if isNew {
		// room-created not seen (yet): the Room is in progress all the same.
		if err := s.holdRoomLocked(ctx, c, r.sid, e.RoomName); err != nil {
			return err
		}
		r.mark = inProgress(ts)
		s.rooms[r.sid] = r
		s.recon.room(r.sid, true)
	}
	if err := s.holdParticipantLocked(ctx, c, e); err != nil {
		return err
	}
	s.indexLocked(e.RoomSID, e.ParticipantSID, idxHeld|idxConn)
	s.trackPartLocked(e.ParticipantSID, inProgress(ts))
	s.recon.part(e.ParticipantSID, true)
	return nil
}

// holdParticipantLocked holds the Participant's slot, committing the
// JoinToken reservation of its Room (by name or SID) and identity if any.
// The caller indexes it.
func (s *eventState) holdParticipantLocked(ctx context.Context, c *Client, e *RoomEvent) error {
	for _, room := range [...]string{e.RoomName, e.RoomSID} {
		if room == "" {
			continue
		}
		key := ParticipantReservationKey(room, e.ParticipantIdentity)
		if _, ok := s.tokens[key]; ok {
			if err := c.commitParticipantSlot(ctx, key, e.ParticipantSID); err != nil {
				return err
			}
			delete(s.tokens, key)
			return nil
		}
	}
	return c.holdParticipantSlot(ctx, e.ParticipantSID)
}

// releaseTokenLocked gives back a JoinToken reservation that an event shows
// used (its participant-connected was lost or stale). Errors are logged: the
// reservation lapses at the token's expiry anyway.
func (s *eventState) releaseTokenLocked(ctx context.Context, c *Client, e *RoomEvent) {
	for _, room := range [...]string{e.RoomName, e.RoomSID} {
		key := ParticipantReservationKey(room, e.ParticipantIdentity)
		if _, ok := s.tokens[key]; ok && room != "" {
			delete(s.tokens, key)
			if err := c.ledger.Release(ctx, quota.Participants, key); err != nil {
				c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: releasing a token reservation failed",
					slog.String("error", err.Error()))
			}
		}
	}
}

// participantDisconnectedLocked releases the Participant and reports whether
// its Room, known in progress, is now empty.
func (s *eventState) participantDisconnectedLocked(ctx context.Context, c *Client, e *RoomEvent) (bool, error) {
	p, known := s.partLocked(e.ParticipantSID)
	if known && p.ended() {
		e.Stale = true
		return false, nil
	}
	if err := c.ledger.Release(ctx, quota.Participants, e.ParticipantSID); err != nil {
		return false, err
	}
	s.unindexLocked(e.ParticipantSID, idxHeld|idxConn)
	if !known {
		// participant-connected lost or not yet delivered: remember the end
		// so that a late one changes nothing.
		s.releaseTokenLocked(ctx, c, e)
	}
	s.trackPartLocked(e.ParticipantSID, endedAt(stamp(c.now())))
	s.recon.part(e.ParticipantSID, false)
	r, ok := s.trackedRoomLocked(e.RoomSID)
	if !ok || r.ended() {
		return false, nil
	}
	return !s.connectedLocked(e.RoomSID), nil
}

// pruneLocked forgets Rooms and Participants that ended more than the
// retention ago (keeping those still indexed for the index only), names of
// Rooms no longer in progress, and expired JoinToken reservations, at most
// once a minute.
func (s *eventState) pruneLocked(now time.Time) {
	if now.Sub(s.lastPrune) < time.Minute {
		return
	}
	s.lastPrune = now
	cut := stamp(now.Add(-s.retention))
	for sid, p := range s.parts {
		if p.bits&idxOnly == 0 && p.ended() && p.at() < cut {
			if p.room == "" {
				delete(s.parts, sid)
			} else {
				p.mark, p.bits = 0, p.bits|idxOnly
				s.parts[sid] = p
			}
		}
	}
	for _, r := range s.rooms {
		if r.mark != untracked && r.ended() && r.at() < cut {
			r.mark = untracked
			s.storeRoomLocked(r)
		}
	}
	for name := range s.names {
		s.roomInProgressLocked(name)
	}
	for k, exp := range s.tokens {
		if !now.Before(exp) {
			delete(s.tokens, k)
		}
	}
	for k, exp := range s.roomRes {
		if !now.Before(exp) {
			delete(s.roomRes, k)
		}
	}
}

// roomInProgressLocked reports whether the callbacks show Room name in
// progress. A name whose Room ended (or was forgotten) is dropped here
// rather than when the Room ends, so that tracks need not keep names.
func (s *eventState) roomInProgressLocked(name string) bool {
	sid, ok := s.names[name]
	if !ok {
		return false
	}
	if r, ok := s.trackedRoomLocked(sid); ok && !r.ended() {
		return true
	}
	delete(s.names, name)
	return false
}

// closer completes empty Rooms on a few goroutines that exit when idle.
type closer struct {
	mu      sync.Mutex
	queue   []closeItem
	queued  map[string]struct{}
	running int
	wg      sync.WaitGroup
}

type closeItem struct {
	sid string
	at  time.Time // local time not to complete before
}

func (q *closer) init() { q.queued = make(map[string]struct{}) }

func (q *closer) enqueue(c *Client, sid string, at time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.queued[sid]; ok {
		return
	}
	if len(q.queue) >= maxCloseQueue {
		c.logger.LogAttrs(context.Background(), slog.LevelWarn,
			"videoquota: too many empty rooms waiting to be completed; leaving one to Twilio's timeout",
			slog.String("room", sid))
		return
	}
	q.queued[sid] = struct{}{}
	q.queue = append(q.queue, closeItem{sid: sid, at: at})
	if q.running < closeWorkers {
		q.running++
		q.wg.Add(1)
		go q.work(c)
	}
}

func (q *closer) work(c *Client) {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		if len(q.queue) == 0 || c.closed.Load() {
			q.running--
			clear(q.queued)
			q.queue = q.queue[:0]
			q.mu.Unlock()
			return
		}
		it := q.queue[0]
		q.queue = q.queue[1:]
		q.mu.Unlock()
		if d := it.at.Sub(c.now()); d > 0 {
			t := time.NewTimer(d)
			<-t.C
		}
		c.closeIfEmpty(it.sid)
		q.mu.Lock()
		delete(q.queued, it.sid)
		q.mu.Unlock()
	}
}

// wait blocks until no close is queued or running (tests, examples).
func (q *closer) wait() { q.wg.Wait() }

// closeIfEmpty completes Room sid if the callbacks and one read show it empty.
func (c *Client) closeIfEmpty(sid string) {
	st := c.eventState()
	st.mu.Lock()
	r, ok := st.trackedRoomLocked(sid)
	empty := ok && !r.ended() && !st.connectedLocked(sid)
	st.mu.Unlock()
	if !empty {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	log := func(msg string, err error) {
		c.logger.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("room", sid), slog.String("error", err.Error()))
	}
	one, status := 1, "connected"
	ps, err := c.ListRoomParticipant(ctx, sid, &openapi.ListRoomParticipantParams{Status: &status, PageSize: &one, Limit: &one})
	if err != nil {
		log("videoquota: checking an empty room failed", err)
		return
	}
	if len(ps) > 0 {
		return // someone is there whose participant-connected we did not see
	}
	completed := statusCompleted
	if _, err := c.UpdateRoom(ctx, sid, &openapi.UpdateRoomParams{Status: &completed}); err != nil {
		var tw *client.TwilioRestError
		if errors.As(err, &tw) && (tw.Code == 53112 || tw.Status == http.StatusNotFound) {
			return // it ended meanwhile
		}
		log("videoquota: completing an empty room failed", err)
		return
	}
	// Remember it ended now, in case its room-ended callback is lost: a
	// JoinToken for its name must then reserve a Room again.
	st.mu.Lock()
	err = st.roomEndedLocked(ctx, c, &RoomEvent{Event: EventRoomEnded, RoomSID: sid, Timestamp: c.now()})
	st.mu.Unlock()
	if err != nil {
		log("videoquota: recording a completed room failed", err)
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "videoquota: completed an empty room", slog.String("room", sid))
}

// eventState returns the Client's event memory, made on first use.
func (c *Client) eventState() *eventState {
	c.events.once.Do(c.events.init)
	return &c.events
}
