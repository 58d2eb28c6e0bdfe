package videotest

import (
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxSubaccounts is how many subaccounts a main account may have by
// default: "A main account can only have up to 1000 subaccounts by default"
// (https://www.twilio.com/docs/iam/api/subaccounts).
const DefaultMaxSubaccounts = 1000

// Account statuses of the 2010-04-01 Accounts resource
// (https://www.twilio.com/docs/iam/api/account).
const (
	AccountActive    = "active"
	AccountSuspended = "suspended"
	AccountClosed    = "closed"
)

// AccountOptions configures a subaccount made by [Server.CreateAccount] or
// the control API's POST /_videotest/accounts. Zero quota fields mean
// Twilio's defaults (10,000 Rooms, 10,000 Participants, 80 reads/s, 20
// writes/s), not the main account's: Twilio's quotas belong to each Account
// SID and are not shared with subaccounts
// (https://www.twilio.com/docs/video/guide-to-scaling-applications).
// Negative values mean no limit, as in [Options].
type AccountOptions struct {
	// FriendlyName is the account's name; "" means Twilio's default,
	// "SubAccount Created at {YYYY-MM-DD HH:MM meridian}".
	FriendlyName string
	// ConcurrentRooms, ConcurrentParticipants, ReadsPerSecond and
	// WritesPerSecond are the subaccount's own quotas.
	ConcurrentRooms        int
	ConcurrentParticipants int
	ReadsPerSecond         float64
	WritesPerSecond        float64
}

// accountState is what a Server knows of the Accounts resource: for the main
// account its subaccounts, for a subaccount its parent and status.
type accountState struct {
	parent *Server // nil for the main account

	// The main account's registry; mu also guards every subaccount's
	// friendly, status and updated.
	mu     sync.RWMutex
	subs   map[string]*Server
	order  []*Server
	byAuth map[string]*Server // "Basic ..." header (account token or API key) → subaccount

	friendly, status string
	created, updated time.Time
}

// main returns the main account of s (s itself when s is one).
func (s *Server) main() *Server {
	if p := s.acct.parent; p != nil {
		return p
	}
	return s
}

// CreateAccount creates a subaccount of s, as POST /2010-04-01/Accounts.json
// with s's credentials does, and returns it as a Server of its own: its
// credentials ([Server.AccountSID], [Server.AuthToken], [Server.APIKey]), its
// Rooms, quotas, statistics, Monitor alerts and request log are its own,
// and its callbacks and Debugger events are signed with its own auth token.
// It serves no listener of its own: requests reach it at s's [Server.URL]
// and are routed by their credentials, as Twilio routes Video v1 requests
// (whose URLs carry no Account SID) to the account that authenticates them.
// A subaccount inherits s's clock, ad-hoc Room settings, Debugger webhook
// URL and callback timeout, and delivers callbacks with one worker.
// It fails when s is itself a subaccount ("only a parent account creates
// subaccounts") or already has [DefaultMaxSubaccounts].
func (s *Server) CreateAccount(o AccountOptions) (*Server, error) {
	if s.acct.parent != nil {
		return nil, errf(20003, "A subaccount cannot create subaccounts")
	}
	if len(o.FriendlyName) > 64 {
		return nil, errf(20001, "FriendlyName is longer than 64 characters")
	}
	opts := s.opts
	opts.AccountSID, opts.AuthToken = s.newSID("AC"), secretHex()
	opts.APIKeySID, opts.APIKeySecret = s.newSID("SK"), secretHex()
	opts.ConcurrentRooms, opts.ConcurrentParticipants = o.ConcurrentRooms, o.ConcurrentParticipants
	opts.ReadsPerSecond, opts.WritesPerSecond = o.ReadsPerSecond, o.WritesPerSecond
	opts.ReadBurst, opts.WriteBurst = 0, 0
	opts.Faults = Faults{}
	opts.CallbackWorkers = 1
	opts.Seed = int64(s.sidRngUint64())
	sub, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	sub.url, sub.acct.parent = s.url, s
	now := s.clock.Now()
	name := o.FriendlyName
	if name == "" {
		name = "SubAccount Created at " + now.UTC().Format("2006-01-02 03:04 pm")
	}
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed || len(s.acct.order) >= DefaultMaxSubaccounts {
		sub.disp.close()
		if closed {
			return nil, errf(20503, "The server is closed")
		}
		return nil, errf(20001, "The account already has %d subaccounts", DefaultMaxSubaccounts)
	}
	sub.acct.friendly, sub.acct.status, sub.acct.created, sub.acct.updated = name, AccountActive, now, now
	if s.acct.subs == nil {
		s.acct.subs, s.acct.byAuth = make(map[string]*Server), make(map[string]*Server)
	}
	s.acct.subs[sub.accountSID] = sub
	s.acct.order = append(s.acct.order, sub)
	s.acct.byAuth[sub.authAccount], s.acct.byAuth[sub.authKey] = sub, sub
	return sub, nil
}

func (s *Server) sidRngUint64() uint64 {
	s.sidMu.Lock()
	defer s.sidMu.Unlock()
	return s.sidRng.Uint64()
}

// Account returns the subaccount of s with the given SID, or nil.
func (s *Server) Account(sid string) *Server {
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	return s.acct.subs[sid]
}

// Accounts returns s's subaccounts in creation order.
func (s *Server) Accounts() []*Server {
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	return slices.Clone(s.acct.order)
}

// ParentAccountSID returns the SID of the account that owns s, or "" when s
// is a main account.
func (s *Server) ParentAccountSID() string {
	if p := s.acct.parent; p != nil {
		return p.accountSID
	}
	return ""
}

// AccountStatus returns s's status: [AccountActive], [AccountSuspended] or
// [AccountClosed]. A main account is always active.
func (s *Server) AccountStatus() string {
	m := s.main()
	m.acct.mu.RLock()
	defer m.acct.mu.RUnlock()
	if s.acct.status == "" {
		return AccountActive
	}
	return s.acct.status
}

// SetAccountStatus changes a subaccount's status, as POST
// /2010-04-01/Accounts/{Sid}.json with Status does. Requests with the
// credentials of an account that is not active are refused with 20003 (a
// status this emulator chose: Twilio documents none). A closed account
// cannot be reopened ("closed" is final,
// https://www.twilio.com/docs/iam/api/account); its Rooms are left as they
// are. It fails on a main account and on an unknown status.
func (s *Server) SetAccountStatus(status string) error {
	if s.acct.parent == nil {
		return errf(20001, "The main account's status cannot be changed")
	}
	switch status {
	case AccountActive, AccountSuspended, AccountClosed:
	default:
		return errf(20001, "Status %q is not one of active, suspended, closed", status)
	}
	m := s.acct.parent
	m.acct.mu.Lock()
	defer m.acct.mu.Unlock()
	if s.acct.status == AccountClosed && status != AccountClosed {
		return errf(20001, "A closed account cannot be reopened")
	}
	s.acct.status, s.acct.updated = status, s.clock.Now()
	return nil
}

// Limits are an account's quotas as the emulator enforces them. Negative
// means no limit.
type Limits struct {
	ConcurrentRooms        int
	ConcurrentParticipants int
	ReadsPerSecond         float64
	WritesPerSecond        float64
}

// Limits returns s's quotas.
func (s *Server) Limits() Limits {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Limits{s.opts.ConcurrentRooms, s.opts.ConcurrentParticipants, s.opts.ReadsPerSecond, s.opts.WritesPerSecond}
}

// SetLimits changes s's quotas at run time, as Twilio's Sales raise one
// account's quota and not another's. Zero fields are left as they are. The
// rates may be changed to other positive rates only (a bucket with no limit
// stays so); the new burst is one second's worth.
func (s *Server) SetLimits(l Limits) error {
	for _, x := range []struct {
		name string
		v    float64
		lim  *rate.Limiter
	}{{"ReadsPerSecond", l.ReadsPerSecond, s.readLim}, {"WritesPerSecond", l.WritesPerSecond, s.writeLim}} {
		if x.v < 0 || (x.v > 0 && x.lim == nil) {
			return errf(20001, "%s %v: a rate can be changed only from one positive rate to another", x.name, x.v)
		}
	}
	s.mu.Lock()
	if l.ConcurrentRooms != 0 {
		s.opts.ConcurrentRooms = l.ConcurrentRooms
	}
	if l.ConcurrentParticipants != 0 {
		s.opts.ConcurrentParticipants = l.ConcurrentParticipants
	}
	if l.ReadsPerSecond > 0 {
		s.opts.ReadsPerSecond = l.ReadsPerSecond
	}
	if l.WritesPerSecond > 0 {
		s.opts.WritesPerSecond = l.WritesPerSecond
	}
	s.mu.Unlock()
	now := s.clock.Now()
	if l.ReadsPerSecond > 0 {
		setRate(s.readLim, l.ReadsPerSecond, now)
	}
	if l.WritesPerSecond > 0 {
		setRate(s.writeLim, l.WritesPerSecond, now)
	}
	return nil
}

// setRate gives l the rate r and a burst of one second's worth at now.
func setRate(l *rate.Limiter, r float64, now time.Time) {
	l.SetLimitAt(now, rate.Limit(r))
	l.SetBurstAt(now, max(1, int(math.Ceil(r))))
}

// subsPending reports whether a subaccount of s has callbacks queued.
func (s *Server) subsPending() bool {
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	for _, sub := range s.acct.order {
		if sub.disp.pending.Load() > 0 {
			return true
		}
	}
	return false
}

// closeAccounts closes every subaccount of s (their callback workers and
// timers). Called by Close and Reset of the main account.
func (s *Server) closeAccounts() {
	s.acct.mu.Lock()
	subs := s.acct.order
	s.acct.subs, s.acct.order, s.acct.byAuth = nil, nil, nil
	s.acct.mu.Unlock()
	for _, sub := range subs {
		sub.Close()
	}
}

// serveAccount answers what belongs to the Accounts resource or to a
// subaccount: the 2010-04-01 API, and any request authenticated with a
// subaccount's credentials (handed to that subaccount). It reports whether
// it answered r.
func (s *Server) serveAccount(w http.ResponseWriter, r *http.Request) bool {
	if s.acct.parent != nil {
		return false
	}
	if strings.HasPrefix(r.URL.Path, "/2010-04-01/") {
		s.serveAccountsAPI(w, r)
		return true
	}
	sub := s.subByAuth(r.Header.Get("Authorization"))
	if sub == nil {
		return false
	}
	if st := sub.AccountStatus(); st != AccountActive {
		s.st.unauthorized.Add(1)
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		s.writeErr(w, errf(20003, "Authenticate: the account is %s", st))
		return true
	}
	sub.ServeHTTP(w, r)
	return true
}

// subByAuth returns the subaccount whose credentials make the Authorization
// header a, or nil.
func (s *Server) subByAuth(a string) *Server {
	if a == "" {
		return nil
	}
	s.acct.mu.RLock()
	defer s.acct.mu.RUnlock()
	if len(s.acct.byAuth) == 0 {
		return nil
	}
	sub := s.acct.byAuth[a]
	if sub == nil {
		return nil
	}
	// The map lookup found the header; compare once more in constant time
	// so that the answer's timing does not depend on how much matched.
	want := sub.authAccount
	if subtle.ConstantTimeCompare([]byte(a), []byte(sub.authKey)) == 1 {
		want = sub.authKey
	}
	if subtle.ConstantTimeCompare([]byte(a), []byte(want)) != 1 {
		return nil
	}
	return sub
}

// caller is who authenticated a 2010-04-01 request.
type caller struct {
	acct *Server // the authenticated account
	key  bool    // authenticated with an API key (a Standard key)
}

// serveAccountsAPI answers /2010-04-01/Accounts.json and
// /2010-04-01/Accounts/{Sid}.json. Requests are not charged to the Video
// rate buckets (they belong to api.twilio.com, not video.twilio.com).
// Who sees what follows https://www.twilio.com/docs/iam/api/subaccounts:
// the main account's SID and auth token reach the main account and every
// subaccount; a subaccount's credentials reach that subaccount only; a
// Standard API key (the emulator's keys are Standard) reaches its own account
// only and cannot create, list or update subaccounts. An account the caller
// may not see answers 404 (20404), as an unknown SID does.
func (s *Server) serveAccountsAPI(w http.ResponseWriter, r *http.Request) {
	s.st.total.Add(1)
	lw := &logWriter{ResponseWriter: w}
	start := time.Now()
	defer func() { s.logRequest(r, lw, "accounts", time.Since(start)) }()
	w = lw
	w.Header()["Twilio-Request-Id"] = []string{s.requestID()}
	c, msg := s.accountsCaller(r)
	if msg != "" {
		s.st.unauthorized.Add(1)
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		s.writeErr(w, newErr(20003, msg))
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	}
	if err := r.ParseForm(); err != nil {
		s.writeErr(w, errf(20001, "Malformed request: %v", err))
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/2010-04-01/")
	switch {
	case p == "Accounts.json":
		switch r.Method {
		case http.MethodGet:
			s.listAccounts(w, r, c)
		case http.MethodPost:
			s.createAccountHTTP(w, r, c)
		default:
			w.Header().Set("Allow", "GET, POST")
			s.writeErr(w, errf(20004, "Method %s not allowed on %s", r.Method, r.URL.Path))
		}
	case strings.HasPrefix(p, "Accounts/") && strings.HasSuffix(p, ".json") && !strings.Contains(p[len("Accounts/"):len(p)-5], "/"):
		sid := p[len("Accounts/") : len(p)-5]
		target := s.visibleAccount(c, sid)
		if target == nil {
			s.writeErr(w, notFound(r))
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.writeJSON(w, http.StatusOK, s.accountOut(target))
		case http.MethodPost:
			s.updateAccountHTTP(w, r, c, target)
		default:
			w.Header().Set("Allow", "GET, POST")
			s.writeErr(w, errf(20004, "Method %s not allowed on %s", r.Method, r.URL.Path))
		}
	default:
		s.writeErr(w, notFound(r))
	}
}

// accountsCaller authenticates a 2010-04-01 request: the main account
// (token or key) or an active subaccount. msg is the 20003 message when none.
func (s *Server) accountsCaller(r *http.Request) (caller, string) {
	a := r.Header.Get("Authorization")
	switch {
	case subtle.ConstantTimeCompare([]byte(a), []byte(s.authAccount)) == 1:
		return caller{acct: s}, ""
	case subtle.ConstantTimeCompare([]byte(a), []byte(s.authKey)) == 1:
		return caller{acct: s, key: true}, ""
	}
	if sub := s.subByAuth(a); sub != nil {
		if st := sub.AccountStatus(); st != AccountActive {
			return caller{}, "Authenticate: the account is " + st
		}
		return caller{acct: sub, key: a == sub.authKey}, ""
	}
	return caller{}, s.authFailure(r)
}

// visibleAccount returns the account sid names if c may see it, else nil.
func (s *Server) visibleAccount(c caller, sid string) *Server {
	if sid == c.acct.accountSID {
		return c.acct
	}
	if c.key || c.acct != s {
		return nil
	}
	return s.Account(sid)
}

// accountJSON is one Account as Twilio's 2010-04-01 API renders it.
type accountJSON struct {
	AuthToken       string            `json:"auth_token"`
	DateCreated     string            `json:"date_created"`
	DateUpdated     string            `json:"date_updated"`
	FriendlyName    string            `json:"friendly_name"`
	OwnerAccountSid string            `json:"owner_account_sid"`
	Sid             string            `json:"sid"`
	Status          string            `json:"status"`
	SubresourceUris map[string]string `json:"subresource_uris"`
	Type            string            `json:"type"`
	URI             string            `json:"uri"`
}

// rfc2822 is the 2010-04-01 API's date format ("Thu, 30 Jul 2015 20:00:00 +0000").
const rfc2822 = "Mon, 02 Jan 2006 15:04:05 -0700"

// accountOut renders a (the main account s or one of its subaccounts).
func (s *Server) accountOut(a *Server) accountJSON {
	s.acct.mu.Lock()
	friendly, status, created, updated := a.acct.friendly, a.acct.status, a.acct.created, a.acct.updated
	s.acct.mu.Unlock()
	if a == s {
		// The main account's dates: when the server started (or was reset).
		s.mu.Lock()
		created = s.compSettings.created
		s.mu.Unlock()
		friendly, status, updated = "Main account", AccountActive, created
	}
	base := "/2010-04-01/Accounts/" + a.accountSID
	subs := map[string]string{}
	for _, k := range []string{"Addresses", "Applications", "AuthorizedConnectApps", "AvailablePhoneNumbers",
		"Balance", "Calls", "Conferences", "ConnectApps", "IncomingPhoneNumbers", "Keys", "Messages",
		"Notifications", "OutgoingCallerIds", "Queues", "Recordings", "SigningKeys", "SIP", "Transcriptions", "Usage"} {
		subs[snake(k)] = base + "/" + k + ".json"
	}
	owner := s.accountSID
	return accountJSON{AuthToken: a.authToken, DateCreated: created.UTC().Format(rfc2822),
		DateUpdated: updated.UTC().Format(rfc2822), FriendlyName: friendly, OwnerAccountSid: owner,
		Sid: a.accountSID, Status: status, SubresourceUris: subs, Type: "Full", URI: base + ".json"}
}

// snake turns "IncomingPhoneNumbers" into "incoming_phone_numbers" (and
// "SIP" into "sip").
func snake(k string) string {
	var b strings.Builder
	for i, c := range k {
		if c >= 'A' && c <= 'Z' {
			if i > 0 && !(k[i-1] >= 'A' && k[i-1] <= 'Z') {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s *Server) createAccountHTTP(w http.ResponseWriter, r *http.Request, c caller) {
	if c.acct != s || c.key {
		s.writeErr(w, errf(20003, "Only the main account's SID and auth token create subaccounts"))
		return
	}
	sub, err := s.CreateAccount(AccountOptions{FriendlyName: r.PostForm.Get("FriendlyName")})
	if err != nil {
		s.writeErr(w, asErr(err))
		return
	}
	s.writeJSON(w, http.StatusCreated, s.accountOut(sub))
}

func (s *Server) updateAccountHTTP(w http.ResponseWriter, r *http.Request, c caller, target *Server) {
	f := r.PostForm
	if name, ok := f["FriendlyName"]; ok && len(name) > 0 {
		if len(name[0]) > 64 {
			s.writeErr(w, errf(20001, "FriendlyName is longer than 64 characters"))
			return
		}
		if target == s {
			s.writeErr(w, errf(20001, "The main account's FriendlyName cannot be changed in the emulator"))
			return
		}
		s.acct.mu.Lock()
		target.acct.friendly, target.acct.updated = name[0], s.clock.Now()
		s.acct.mu.Unlock()
	}
	if st := f.Get("Status"); st != "" {
		if c.acct != s || c.key {
			s.writeErr(w, errf(20003, "Only the main account's SID and auth token change a subaccount's status"))
			return
		}
		if err := target.SetAccountStatus(st); err != nil {
			s.writeErr(w, asErr(err))
			return
		}
	}
	s.writeJSON(w, http.StatusOK, s.accountOut(target))
}

// listAccounts answers GET /2010-04-01/Accounts.json: the caller's own
// account first, then (for the main account's SID and token) its
// subaccounts in creation order, filtered by FriendlyName and Status, in
// pages of PageSize (1..1000, default 50) numbered by Page from 0.
func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, c caller) {
	q := r.Form
	size, page := 50, 0
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.writeErr(w, errf(20001, "PageSize %q must be an integer from 1 to 1000", v))
			return
		}
		size = n
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.writeErr(w, errf(20001, "Page %q must be a non-negative integer", v))
			return
		}
		page = n
	}
	status, name := q.Get("Status"), q.Get("FriendlyName")
	switch status {
	case "", AccountActive, AccountSuspended, AccountClosed:
	default:
		s.writeErr(w, errf(20001, "Status %q is not one of active, suspended, closed", status))
		return
	}
	all := []*Server{c.acct}
	if c.acct == s && !c.key {
		all = append(all, s.Accounts()...)
	}
	var items []accountJSON
	for _, a := range all {
		o := s.accountOut(a)
		if (status == "" || o.Status == status) && (name == "" || o.FriendlyName == name) {
			items = append(items, o)
		}
	}
	filters := url.Values{}
	if status != "" {
		filters.Set("Status", status)
	}
	if name != "" {
		filters.Set("FriendlyName", name)
	}
	pageURI := func(p int) string {
		v := url.Values{}
		for k, x := range filters {
			v[k] = x
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(p))
		return "/2010-04-01/Accounts.json?" + v.Encode()
	}
	start := min(page*size, len(items))
	end := min(start+size, len(items))
	out := map[string]any{
		"accounts": orNone(items[start:end]), "page": page, "page_size": size, "start": start,
		"end": max(end-1, start), "uri": pageURI(page), "first_page_uri": pageURI(0),
		"next_page_uri": nil, "previous_page_uri": nil,
	}
	if end < len(items) {
		out["next_page_uri"] = pageURI(page + 1)
	}
	if page > 0 {
		out["previous_page_uri"] = pageURI(page - 1)
	}
	s.writeJSON(w, http.StatusOK, out)
}

// asErr returns err as an *Error (20500 when it is not one).
func asErr(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return errf(20500, "%v", err)
}

// accountCtlJSON is a subaccount as the control API shows it, credentials
// included (they are local test credentials).
type accountCtlJSON struct {
	Sid          string     `json:"sid"`
	FriendlyName string     `json:"friendly_name"`
	Status       string     `json:"status"`
	AuthToken    string     `json:"auth_token"`
	APIKeySid    string     `json:"api_key_sid"`
	APIKeySecret string     `json:"api_key_secret"`
	Limits       limitsJSON `json:"limits"`
}

// limitsJSON is [Limits] in the control API.
type limitsJSON struct {
	ConcurrentRooms        int     `json:"concurrent_rooms,omitempty"`
	ConcurrentParticipants int     `json:"concurrent_participants,omitempty"`
	ReadsPerSecond         float64 `json:"reads_per_second,omitempty"`
	WritesPerSecond        float64 `json:"writes_per_second,omitempty"`
}

func (s *Server) accountCtlOut(a *Server) accountCtlJSON {
	return accountCtlJSON{Sid: a.accountSID, FriendlyName: s.accountOut(a).FriendlyName, Status: a.AccountStatus(),
		AuthToken: a.authToken, APIKeySid: a.keySID, APIKeySecret: a.keySecret, Limits: limitsJSON(a.Limits())}
}

// accounts answers the control API's /_videotest/accounts[/{sid}[/limits]]:
// GET lists the subaccounts with their credentials and quotas, POST creates
// one ({"friendly_name", "limits": {...}}), GET /{sid} shows one and PUT
// /{sid}/limits changes its quotas.
func (c *controlReq) accounts(rest []string) {
	s := c.s
	switch len(rest) {
	case 0:
		c.on("GET", func() {
			var out []accountCtlJSON
			for _, a := range s.Accounts() {
				out = append(out, s.accountCtlOut(a))
			}
			ctlJSON(c.w, http.StatusOK, map[string]any{"accounts": orNone(out)})
		})
		c.on("POST", func() {
			var in struct {
				FriendlyName string     `json:"friendly_name"`
				Limits       limitsJSON `json:"limits"`
			}
			if !c.decode(&in) {
				return
			}
			l := in.Limits
			sub, err := s.CreateAccount(AccountOptions{FriendlyName: in.FriendlyName, ConcurrentRooms: l.ConcurrentRooms,
				ConcurrentParticipants: l.ConcurrentParticipants, ReadsPerSecond: l.ReadsPerSecond, WritesPerSecond: l.WritesPerSecond})
			if err != nil {
				c.fail(err)
				return
			}
			ctlJSON(c.w, http.StatusCreated, s.accountCtlOut(sub))
		})
	case 1, 2:
		if len(rest) == 2 && rest[1] != "limits" {
			return
		}
		a := s.Account(rest[0])
		if len(rest) == 1 {
			c.on("GET", func() {
				if a == nil {
					ctlErr(c.w, notFound(c.r))
					return
				}
				ctlJSON(c.w, http.StatusOK, s.accountCtlOut(a))
			})
			return
		}
		c.on("PUT", func() {
			if a == nil {
				ctlErr(c.w, notFound(c.r))
				return
			}
			var l limitsJSON
			if !c.decode(&l) {
				return
			}
			if err := a.SetLimits(Limits(l)); err != nil {
				c.fail(err)
				return
			}
			ctlJSON(c.w, http.StatusOK, s.accountCtlOut(a))
		})
	}
}

// String returns the limits in one line, for logs and test failures.
func (l Limits) String() string {
	return fmt.Sprintf("rooms=%d participants=%d reads/s=%g writes/s=%g",
		l.ConcurrentRooms, l.ConcurrentParticipants, l.ReadsPerSecond, l.WritesPerSecond)
}
