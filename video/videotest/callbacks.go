package videotest

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// delivery is one queued status callback or Debugger webhook.
type delivery struct {
	url, method string
	params      url.Values
	debugger    bool
	idem        string
	key         string    // reorder scope (destination)
	notBefore   time.Time // real time; zero = now
	duplicate   bool      // the extra copy of the duplicate fault
}

// dispatcher delivers callbacks asynchronously through an unbounded queue and
// a fixed pool of worker goroutines, so API requests never wait on delivery.
type dispatcher struct {
	s       *Server
	mu      sync.Mutex
	queue   []delivery
	held    map[string]delivery // reorder fault: held back until the next delivery
	heldAt  time.Time
	notify  chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	client  *http.Client
	pending atomic.Int64
	seq     atomic.Uint64
	closed  bool
}

func newDispatcher(s *Server) *dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	d := &dispatcher{
		s: s, notify: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
		held: make(map[string]delivery),
		client: &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second,
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					dl := net.Dialer{}
					if ct, ok := ctx.Value(dialTimeoutKey{}).(time.Duration); ok {
						dl.Timeout = ct
					}
					return dl.DialContext(ctx, network, addr)
				}},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
	for i := 0; i < s.opts.CallbackWorkers; i++ {
		d.wg.Add(1)
		go d.work()
	}
	return d
}

// enqueue never blocks on delivery. Fault decisions are taken here, in
// enqueue order, from the seeded source.
func (d *dispatcher) enqueue(dl delivery) {
	if dl.idem == "" {
		dl.idem = d.s.reqPfx[2:] + "-" + itoa(int(d.seq.Add(1)))
	}
	var drop, dup, reorder bool
	if !dl.debugger {
		s := d.s
		s.faultMu.Lock()
		f := s.faults
		drop = f.CallbackDropRate > 0 && s.rng.Float64() < f.CallbackDropRate
		dup = f.CallbackDuplicateRate > 0 && s.rng.Float64() < f.CallbackDuplicateRate
		if f.CallbackDelayRate > 0 && s.rng.Float64() < f.CallbackDelayRate {
			dl.notBefore = time.Now().Add(f.CallbackDelay)
		}
		reorder = f.CallbackReorderRate > 0 && s.rng.Float64() < f.CallbackReorderRate
		s.faultMu.Unlock()
	}
	if drop {
		d.s.st.cbDropped.Add(1)
		d.s.cbLog.add(CallbackRecord{Time: time.Now(), URL: dl.url, Method: dl.method,
			Event: dl.params.Get("StatusCallbackEvent"), Sid: eventSID(dl), Attempt: 1, Dropped: true})
		return
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	n := int64(1)
	items := []delivery{dl}
	if dup {
		d.s.st.cbDup.Add(1)
		extra := dl
		extra.duplicate = true
		items = append(items, extra)
		n++
	}
	d.pending.Add(n) // a held-back item stays pending until sent
	if h, ok := d.held[dl.key]; ok && !dl.debugger {
		delete(d.held, dl.key)
		items = append(items, h) // the held-back one goes after this one
	} else if reorder {
		d.held[dl.key] = dl
		d.heldAt = time.Now()
		items = items[1:]
	}
	d.queue = append(d.queue, items...)
	d.mu.Unlock()
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

func (d *dispatcher) next() (delivery, bool) {
	for {
		d.mu.Lock()
		if len(d.queue) > 0 {
			dl := d.queue[0]
			d.queue[0] = delivery{}
			d.queue = d.queue[1:]
			more := len(d.queue) > 0
			d.mu.Unlock()
			if more {
				select {
				case d.notify <- struct{}{}:
				default:
				}
			}
			return dl, true
		}
		var flush <-chan time.Time
		if len(d.held) > 0 {
			// Nothing followed a held-back callback: release it after 50 ms.
			wait := 50*time.Millisecond - time.Since(d.heldAt)
			if wait <= 0 {
				for k, h := range d.held {
					d.queue = append(d.queue, h)
					delete(d.held, k)
				}
				d.mu.Unlock()
				continue
			}
			flush = time.After(wait)
		}
		d.mu.Unlock()
		select {
		case <-d.ctx.Done():
			return delivery{}, false
		case <-d.notify:
		case <-flush:
		}
	}
}

func (d *dispatcher) work() {
	defer d.wg.Done()
	for {
		dl, ok := d.next()
		if !ok {
			return
		}
		if !dl.notBefore.IsZero() {
			if w := time.Until(dl.notBefore); w > 0 {
				t := time.NewTimer(w)
				select {
				case <-d.ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
		d.send(dl)
		d.pending.Add(-1)
	}
}

// Signature returns the X-Twilio-Signature Twilio computes for a request to
// fullURL with the given form parameters (nil for GET, whose parameters are
// already in the URL): base64(HMAC-SHA1(authToken, URL + sorted name+value)).
func Signature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		for _, v := range params[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// overrides are the connection overrides Twilio reads from a webhook URL's
// fragment (https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides):
// rc retries (0..5, default 1) for the failures rp names (ct = the connection
// failed, rt = no timely response, 4xx, 5xx, all; default ct), each attempt
// bounded by rt ms and all of them by tt ms (100..15000, default 15000).
type overrides struct {
	rc     int
	rp     map[string]bool
	ct, rt time.Duration
	tt     time.Duration
}

// parseOverrides splits raw into the URL Twilio requests (no fragment) and
// its connection overrides. Out-of-range or unknown values keep the default.
func parseOverrides(raw string) (string, overrides) {
	o := overrides{rc: 1, rp: map[string]bool{"ct": true}, ct: 5 * time.Second,
		rt: 15 * time.Second, tt: 15 * time.Second}
	base, frag, ok := strings.Cut(raw, "#")
	if !ok {
		return raw, o
	}
	q, _ := url.ParseQuery(frag)
	ms := func(k string, lo, hi int, into *time.Duration) {
		if n, err := strconv.Atoi(q.Get(k)); err == nil && n >= lo && n <= hi {
			*into = time.Duration(n) * time.Millisecond
		}
	}
	ms("ct", 100, 10000, &o.ct)
	ms("rt", 100, 15000, &o.rt)
	ms("tt", 100, 15000, &o.tt)
	if n, err := strconv.Atoi(q.Get("rc")); err == nil && n >= 0 && n <= 5 {
		o.rc = n
	}
	if v := q.Get("rp"); v != "" {
		o.rp = map[string]bool{}
		for _, p := range strings.Split(v, ",") {
			o.rp[p] = true
		}
	}
	return base, o
}

// retries reports whether a failure of kind ("ct", "rt", "4xx", "5xx") is retried.
func (o overrides) retries(kind string) bool { return o.rp["all"] || o.rp[kind] }

type dialTimeoutKey struct{}

func (d *dispatcher) send(dl delivery) {
	target, ov := parseOverrides(dl.url)
	total, cancel := context.WithTimeout(d.ctx, ov.tt)
	defer cancel()
	for attempt := 1; ; attempt++ {
		kind := d.attempt(total, dl, target, ov, attempt)
		if kind == "" || attempt > ov.rc || !ov.retries(kind) || total.Err() != nil {
			return
		}
	}
}

// attempt makes one delivery attempt and records it; it returns "" on a 2xx
// answer, else the failure kind: "ct" (no connection), "rt" (no timely
// answer), "3xx", "4xx" or "5xx".
func (d *dispatcher) attempt(total context.Context, dl delivery, target string, ov overrides, n int) string {
	limit := min(d.s.opts.CallbackTimeout, ov.rt)
	ctx, cancel := context.WithTimeout(context.WithValue(total, dialTimeoutKey{}, ov.ct), limit)
	defer cancel()
	var req *http.Request
	var err error
	var sig string
	if dl.method == "GET" {
		u := target
		if strings.Contains(u, "?") {
			u += "&" + dl.params.Encode()
		} else {
			u += "?" + dl.params.Encode()
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		sig = Signature(d.s.authToken, u, nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(dl.params.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		sig = Signature(d.s.authToken, target, dl.params)
	}
	status, kind := 0, "ct"
	if err == nil {
		req.Header.Set("X-Twilio-Signature", sig)
		req.Header.Set("I-Twilio-Idempotency-Token", dl.idem)
		req.Header.Set("User-Agent", "TwilioProxy/1.1")
		var resp *http.Response
		resp, err = d.client.Do(req)
		switch {
		case err == nil:
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			status = resp.StatusCode
			kind = ""
			if status < 200 || status > 299 {
				kind = strconv.Itoa(status/100) + "xx"
			}
		case isDialError(err):
			kind = "ct"
		default:
			kind = "rt"
		}
	}
	ok := kind == ""
	switch {
	case dl.debugger && ok:
		d.s.st.dbgSent.Add(1)
	case dl.debugger:
		d.s.st.dbgFailed.Add(1)
	case ok:
		d.s.st.cbSent.Add(1)
	default:
		d.s.st.cbFailed.Add(1)
	}
	if err != nil {
		d.s.log.Debug("videotest: callback delivery failed", "url", target, "attempt", n, "err", err)
	}
	rec := CallbackRecord{Time: time.Now(), URL: dl.url, Method: dl.method, Debugger: dl.debugger,
		Event: dl.params.Get("StatusCallbackEvent"), Sid: eventSID(dl), Attempt: n, StatusCode: status,
		Delivered: ok, Signature: sig, Duplicate: dl.duplicate}
	switch kind {
	case "ct":
		rec.Error = "connect"
	case "rt":
		rec.Error = "timeout"
	default:
		rec.Error = kind
	}
	if dl.debugger {
		rec.Event = dl.params.Get("Level")
	}
	d.s.cbLog.add(rec)
	return kind
}

// eventSID names what a delivery is about, most specific first.
func eventSID(dl delivery) string {
	for _, k := range []string{"ParticipantSid", "RecordingSid", "CompositionSid", "RoomSid", "Sid"} {
		if v := dl.params.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// isDialError reports whether err means no connection was made.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	d.client.CloseIdleConnections()
}

// FlushCallbacks waits until every queued status callback and Debugger
// webhook (including delayed and held-back ones) has been attempted, or ctx
// ends; a main account's waits for its subaccounts' too. It is meant for
// tests.
func (s *Server) FlushCallbacks(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for s.disp.pending.Load() > 0 || s.subsPending() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
