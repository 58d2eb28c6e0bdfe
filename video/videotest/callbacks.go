package videotest

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"sort"
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
			Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second},
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
		items = append(items, dl)
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

func (d *dispatcher) send(dl delivery) {
	ctx, cancel := context.WithTimeout(d.ctx, d.s.opts.CallbackTimeout)
	defer cancel()
	var req *http.Request
	var err error
	if dl.method == "GET" {
		u := dl.url
		if strings.Contains(u, "?") {
			u += "&" + dl.params.Encode()
		} else {
			u += "?" + dl.params.Encode()
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err == nil {
			req.Header.Set("X-Twilio-Signature", Signature(d.s.authToken, u, nil))
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, dl.url, strings.NewReader(dl.params.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", Signature(d.s.authToken, dl.url, dl.params))
		}
	}
	ok := false
	if err == nil {
		req.Header.Set("I-Twilio-Idempotency-Token", dl.idem)
		req.Header.Set("User-Agent", "TwilioProxy/1.1")
		var resp *http.Response
		resp, err = d.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			ok = resp.StatusCode >= 200 && resp.StatusCode < 300
		}
	}
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
		d.s.log.Debug("videotest: callback delivery failed", "url", dl.url, "err", err)
	}
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
// ends. It is meant for tests.
func (s *Server) FlushCallbacks(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for s.disp.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
