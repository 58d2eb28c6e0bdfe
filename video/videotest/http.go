package videotest

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// ServeHTTP implements http.Handler, so the emulator can also be mounted on a
// caller's own server. Every Twilio API response carries Twilio-Request-Id
// and Twilio-Concurrent-Requests. Paths under /_videotest/ are the control
// API (see control.go), which is neither rate limited nor faulted nor logged.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		s.serveControl(w, r)
		return
	}
	if s.serveAccount(w, r) {
		return
	}
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for {
		p := s.st.inflightPeak.Load()
		if n <= p || s.st.inflightPeak.CompareAndSwap(p, n) {
			break
		}
	}
	s.st.total.Add(1)
	start := time.Now()
	lw := &logWriter{ResponseWriter: w}
	class := "uncharged"
	defer func() { s.logRequest(r, lw, class, time.Since(start)) }()
	w = lw
	h := w.Header()
	h["Twilio-Request-Id"] = []string{s.requestID()}
	h["Twilio-Concurrent-Requests"] = []string{strconv.FormatInt(n, 10)}

	if msg := s.authFailure(r); msg != "" {
		class = "unauthenticated"
		s.st.unauthorized.Add(1)
		h.Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		s.writeErr(w, newErr(20003, msg))
		return
	}
	if m := s.opts.MaxConcurrentRequests; m > 0 && n > int64(m) {
		s.st.throttledConc.Add(1)
		s.write429(w)
		return
	}
	path := r.URL.Path
	monitor := strings.HasPrefix(path, "/v1/Alerts")
	if s.injectFault(w, r) {
		return
	}
	handler, rerr := s.resolve(w, r)
	if rerr != nil && rerr.Code == 20004 {
		// A method the path does not allow (HEAD included) is refused
		// before any bucket is charged.
		s.writeErr(w, rerr)
		return
	}
	// Rate buckets: every request counts once, GET = read, anything else = write.
	if monitor {
		class = "monitor"
		s.st.monitor.Add(1)
	} else {
		lim := s.writeLim
		class = "write"
		if r.Method == http.MethodGet {
			lim = s.readLim
			class = "read"
			s.st.reads.Add(1)
		} else {
			s.st.writes.Add(1)
		}
		if lim != nil && !lim.AllowN(s.clock.Now(), 1) {
			s.write429(w)
			return
		}
	}
	if r.Method == http.MethodPost {
		if r.ContentLength > MaxBodyBytes {
			s.writeErr(w, errf(20413, "Request body exceeds %d bytes", MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.writeErr(w, errf(20413, "Request body exceeds %d bytes", MaxBodyBytes))
			return
		}
		s.writeErr(w, errf(20001, "Malformed request: %v", err))
		return
	}
	if rerr != nil {
		s.writeErr(w, rerr)
		return
	}
	handler()
}

// logRequest appends r's outcome to the request log.
func (s *Server) logRequest(r *http.Request, lw *logWriter, class string, latency time.Duration) {
	if s.reqLog.n <= 0 {
		return
	}
	s.reqLog.add(RequestRecord{Time: s.clock.Now(), Method: r.Method, Path: r.URL.Path, Status: lw.status,
		Code: lw.code, Class: class, Throttled: lw.status == http.StatusTooManyRequests, Latency: latency})
}

// authFailure checks Basic auth against the account and the API key. It
// returns "" when r is authorized, else the 20003 message Twilio sends: no
// credentials, an unknown username, or a wrong password ("Authenticate").
func (s *Server) authFailure(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if subtle.ConstantTimeCompare([]byte(a), []byte(s.authAccount)) == 1 ||
		subtle.ConstantTimeCompare([]byte(a), []byte(s.authKey)) == 1 {
		return ""
	}
	user, _, ok := r.BasicAuth()
	switch {
	case !ok || user == "":
		return "Authentication Error - No credentials provided"
	case user != s.accountSID && user != s.keySID:
		return "Authentication Error - invalid username"
	}
	return "Authenticate"
}

func (s *Server) requestID() string {
	v := s.reqSeq.Add(1)
	var b [34]byte
	copy(b[:], s.reqPfx)
	const hexd = "0123456789abcdef"
	for i := 33; i >= 18; i-- {
		b[i] = hexd[v&15]
		v >>= 4
	}
	return string(b[:])
}

// injectFault applies the configured HTTP faults; it reports whether the
// request was answered (or dropped).
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.faultMu.Lock()
	f := s.faults
	if !f.httpActive() || (f.Match != nil && !f.Match(r.Method, r.URL.Path)) {
		s.faultMu.Unlock()
		return false
	}
	kind := 0 // 1 = 429, 2 = 500, 3 = 503, 4 = drop
	switch {
	case f.Force429 > 0:
		s.faults.Force429--
		kind = 1
	case f.DropRate > 0 && s.rng.Float64() < f.DropRate:
		kind = 4
	case f.Rate429 > 0 && s.rng.Float64() < f.Rate429:
		kind = 1
	case f.Rate500 > 0 && s.rng.Float64() < f.Rate500:
		kind = 2
	case f.Rate503 > 0 && s.rng.Float64() < f.Rate503:
		kind = 3
	}
	s.faultMu.Unlock()
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			return true
		case <-t.C:
		}
	}
	switch kind {
	case 1:
		s.st.faulted.Add(1)
		s.write429(w)
	case 2:
		s.st.faulted.Add(1)
		s.writeErr(w, newErr(20500, ""))
	case 3:
		s.st.faulted.Add(1)
		s.writeErr(w, newErr(20503, ""))
	case 4:
		s.st.faulted.Add(1)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // not hijackable (HTTP/2): abort the stream
	default:
		return false
	}
	return true
}

var body429 = []byte(`{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}`)

func (s *Server) write429(w http.ResponseWriter) {
	s.st.throttled.Add(1)
	if lw, ok := w.(*logWriter); ok {
		lw.code = 20429
	}
	if ra := s.opts.RetryAfter; ra > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.Seconds()))))
	}
	s.writeRaw(w, http.StatusTooManyRequests, body429)
}

func (s *Server) writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if status > 0 && status < len(s.st.byStatus) {
		s.st.byStatus[status].Add(1)
	}
}

func (s *Server) writeErr(w http.ResponseWriter, e *Error) {
	if lw, ok := w.(*logWriter); ok {
		lw.code = e.Code
	}
	s.writeRaw(w, e.Status(), e.body())
}

// marshal encodes v as Twilio does: no HTML escaping (URLs keep their &).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		s.writeErr(w, errf(20500, "encoding response: %v", err))
		return
	}
	s.writeRaw(w, status, b)
}

// respond runs f with s.mu held, then replies with status and f's result, or
// with its error.
func (s *Server) respond(w http.ResponseWriter, status int, f func() (any, *Error)) {
	s.mu.Lock()
	out, e := f()
	s.mu.Unlock()
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, status, out)
}

func (s *Server) writeNoContent(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNoContent)
	s.st.byStatus[http.StatusNoContent].Add(1)
}

// baseURL is the scheme and host the client used, so that absolute URLs in
// responses (url, links, next_page_url) point back where the request went:
// https://video.twilio.com through a rewriting transport, http://127.0.0.1:P
// when called directly.
func baseURL(r *http.Request) string {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	hn := host
	if i := strings.LastIndexByte(hn, ':'); i >= 0 && !strings.Contains(hn[i:], "]") {
		hn = hn[:i]
	}
	if r.TLS != nil || strings.HasSuffix(hn, "twilio.com") {
		return "https://" + host
	}
	return "http://" + host
}

// page is a parsed PageSize/Page/PageToken triple.
type page struct{ size, num, offset int }

func parsePage(q url.Values) (page, *Error) {
	pg := page{size: 50}
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return pg, errf(20001, "Invalid PageSize %q: must be an integer from 1 to 1000", v)
		}
		pg.size = n
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > math.MaxInt32 {
			return pg, errf(20001, "Invalid Page %q", v)
		}
		pg.num = n
	}
	pg.offset = pg.num * pg.size
	if v := q.Get("PageToken"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "PT"))
		if !strings.HasPrefix(v, "PT") || err != nil || n < 0 {
			return pg, errf(20001, "Invalid PageToken %q", v)
		}
		pg.offset = n
	}
	return pg, nil
}

type meta struct {
	Page            int     `json:"page"`
	PageSize        int     `json:"page_size"`
	FirstPageURL    string  `json:"first_page_url"`
	PreviousPageURL *string `json:"previous_page_url"`
	URL             string  `json:"url"`
	NextPageURL     *string `json:"next_page_url"`
	Key             string  `json:"key"`
}

// listReq is a list request's paging and filter parameters. Its methods read
// one filter each and keep the first error in err; once err is set they read
// nothing more, so a handler parses every filter and then checks err once.
type listReq struct {
	q       url.Values
	pg      page
	filters url.Values // the filters given, repeated in every page URL
	err     *Error
}

// parseList reads r's paging parameters.
func parseList(r *http.Request) *listReq {
	l := &listReq{q: r.Form, filters: url.Values{}}
	l.pg, l.err = parsePage(r.Form)
	return l
}

// oneOf returns key's value, which must be empty or one of allowed; an
// invalid value fails with "Invalid key "value"" followed by hint.
func (l *listReq) oneOf(key, hint string, allowed ...string) string {
	v := l.q.Get(key)
	if l.err != nil || v == "" {
		return ""
	}
	if !slices.Contains(allowed, v) {
		l.err = errf(20001, "Invalid %s %q%s", key, v, hint)
		return ""
	}
	l.filters.Set(key, v)
	return v
}

// text returns key's value, any string; empty means no filter.
func (l *listReq) text(key string) string {
	v := l.q.Get(key)
	if l.err != nil || v == "" {
		return ""
	}
	l.filters.Set(key, v)
	return v
}

// boolean reads an optional true/false filter.
func (l *listReq) boolean(key string) (val, set bool) {
	if l.err != nil {
		return false, false
	}
	if val, set, l.err = parseBool(l.q, key); set {
		l.filters.Set(key, l.q.Get(key))
	}
	return val, set
}

// dates reads an after/before pair of date filters (see parseDateRange).
func (l *listReq) dates(afterKey, beforeKey string, inclusive bool) dateFilter {
	if l.err != nil {
		return dateFilter{}
	}
	var d dateFilter
	d, l.err = parseDateRange(l.q, l.filters, afterKey, beforeKey, inclusive)
	return d
}

// newestFirst returns the items of xs (kept oldest first) that keep accepts,
// newest first.
func newestFirst[T any](xs []T, keep func(T) bool) []T {
	var out []T
	for i := len(xs) - 1; i >= 0; i-- {
		if keep(xs[i]) {
			out = append(out, xs[i])
		}
	}
	return out
}

// inOrder returns the items of xs that keep accepts, in order.
func inOrder[T any](xs []T, keep func(T) bool) []T {
	var out []T
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// writePageLocked answers a list request with the page of items selected by
// l.pg, each rendered by render, under key, with Twilio's meta block. It
// requires s.mu held, renders only the page's items, and releases s.mu
// before writing. l.filters are repeated in every page URL.
func writePageLocked[T any](s *Server, w http.ResponseWriter, r *http.Request, key string, l *listReq, items []T, render func(T) any) {
	pg, filters := l.pg, l.filters
	total := len(items)
	end := min(total, pg.offset+pg.size)
	out := make([]any, 0, max(0, end-pg.offset))
	for i := pg.offset; i < end; i++ {
		out = append(out, render(items[i]))
	}
	s.mu.Unlock()

	base := baseURL(r) + r.URL.Path
	mk := func(num, off int, token bool) string {
		q := url.Values{}
		for k, v := range filters {
			q[k] = v
		}
		q.Set("PageSize", strconv.Itoa(pg.size))
		q.Set("Page", strconv.Itoa(num))
		if token {
			q.Set("PageToken", "PT"+strconv.Itoa(off))
		}
		return base + "?" + q.Encode()
	}
	m := meta{Page: pg.num, PageSize: pg.size, FirstPageURL: mk(0, 0, false), Key: key,
		URL: mk(pg.num, pg.offset, pg.offset != pg.num*pg.size)}
	if pg.offset+pg.size < total {
		u := mk(pg.num+1, pg.offset+pg.size, true)
		m.NextPageURL = &u
	}
	if pg.num > 0 && pg.offset > 0 {
		u := mk(pg.num-1, max(0, pg.offset-pg.size), true)
		m.PreviousPageURL = &u
	}
	s.writeJSON(w, http.StatusOK, map[string]any{key: out, "meta": m})
}

// parseTime accepts RFC 3339 or YYYY-MM-DD.
func parseTime(v string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// dateFilter reads an after/before pair of date filters.
type dateFilter struct {
	after, before time.Time
	inclusive     bool // before is "on or before"
}

func (d dateFilter) ok(t time.Time) bool {
	if !d.after.IsZero() && t.Before(d.after) {
		return false
	}
	if !d.before.IsZero() && (t.After(d.before) || !d.inclusive && t.Equal(d.before)) {
		return false
	}
	return true
}

// parseDateRange reads an after/before pair; with inclusive the end bound is
// "on or before", and a bare YYYY-MM-DD end date covers that whole day.
func parseDateRange(q url.Values, filters url.Values, afterKey, beforeKey string, inclusive bool) (dateFilter, *Error) {
	d := dateFilter{inclusive: inclusive}
	for _, k := range []string{afterKey, beforeKey} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		t, ok := parseTime(v)
		if !ok {
			return d, errf(20001, "Invalid %s %q: use YYYY-MM-DD or RFC 3339", k, v)
		}
		filters.Set(k, v)
		if k == afterKey {
			d.after = t
		} else {
			d.before = t
			if inclusive && len(v) == len("2006-01-02") {
				d.before = t.Add(24*time.Hour - time.Nanosecond)
			}
		}
	}
	return d, nil
}

func parseBool(q url.Values, key string) (val, set bool, e *Error) {
	v, ok := q[key]
	if !ok || len(v) == 0 {
		return false, false, nil
	}
	switch strings.ToLower(v[0]) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, errf(20001, "Invalid %s %q: must be true or false", key, v[0])
}

func parseInt(q url.Values, key string, def int) (int, bool, *Error) {
	v, ok := q[key]
	if !ok || len(v) == 0 {
		return def, false, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil {
		return def, false, errf(20001, "Invalid %s %q: must be an integer", key, v[0])
	}
	return n, true, nil
}

// parseRules decodes a Rules/RecordingRules JSON value: {"rules":[...]} or [...].
func parseRules(key, v string, subscribe bool) (json.RawMessage, *Error) {
	var rules []rule
	var wrapped struct {
		Rules *[]rule `json:"rules"`
	}
	if err := json.Unmarshal([]byte(v), &wrapped); err == nil && wrapped.Rules != nil {
		rules = *wrapped.Rules
	} else if err := json.Unmarshal([]byte(v), &rules); err != nil {
		return nil, errf(20001, "Invalid %s: not a JSON rules object", key)
	}
	if rules == nil {
		rules = []rule{}
	}
	for i, ru := range rules {
		if ru.Type != "include" && ru.Type != "exclude" {
			return nil, errf(20001, "Invalid %s: rule %d type %q must be include or exclude", key, i, ru.Type)
		}
		if ru.Kind != "" && ru.Kind != "audio" && ru.Kind != "video" && ru.Kind != "data" {
			return nil, errf(20001, "Invalid %s: rule %d kind %q", key, i, ru.Kind)
		}
		if !subscribe && ru.Priority != "" {
			return nil, errf(20001, "Invalid %s: rule %d has a priority", key, i)
		}
		if !ru.All && ru.Publisher == "" && ru.Track == "" && ru.Kind == "" {
			return nil, errf(20001, "Invalid %s: rule %d matches nothing (set all, publisher, track or kind)", key, i)
		}
	}
	b, _ := json.Marshal(rules)
	return b, nil
}

// parseJSONObject validates an optional JSON object parameter.
func parseJSONObject(q url.Values, key string) (json.RawMessage, *Error) {
	v := q.Get(key)
	if v == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, errf(20001, "Invalid %s: not a JSON object", key)
	}
	return json.RawMessage(v), nil
}

func validCallback(q url.Values) (cb, method string, e *Error) {
	cb = q.Get("StatusCallback")
	if cb != "" {
		u, err := url.Parse(cb)
		if err != nil || len(cb) >= 1024 || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", "", errf(53111, "StatusCallback %q is invalid: an absolute http(s) URL under 1024 characters is required", cb)
		}
	}
	method = strings.ToUpper(q.Get("StatusCallbackMethod"))
	switch method {
	case "":
		method = "POST"
	case "GET", "POST":
	default:
		return "", "", errf(53110, "StatusCallbackMethod %q is invalid: use GET or POST", q.Get("StatusCallbackMethod"))
	}
	return cb, method, nil
}

func missing(name string) *Error {
	return errf(20001, "Missing required parameter %s in the post body", name)
}

func notFound(r *http.Request) *Error {
	return errf(20404, "The requested resource %s was not found", r.URL.Path)
}
