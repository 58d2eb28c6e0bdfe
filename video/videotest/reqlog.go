package videotest

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// RequestRecord is one API request as [Server.Requests] reports it.
type RequestRecord struct {
	// Time is the server clock when the response was written.
	Time time.Time `json:"time"`
	// Method and Path are the request's method and URL path (no query).
	Method string `json:"method"`
	Path   string `json:"path"`
	// Status is the HTTP status sent; 0 when the connection was dropped by a fault.
	Status int `json:"status"`
	// Code is the Twilio error code of a failed response, 0 on success.
	Code int `json:"code"`
	// Class is "read" or "write" (the Video bucket charged), "monitor"
	// (/v1/Alerts), "uncharged" (refused before any bucket: 405, injected
	// fault, concurrency limit) or "unauthenticated".
	Class string `json:"class"`
	// Throttled is true for every 429.
	Throttled bool `json:"throttled"`
	// Latency is the wall-clock time from the request's arrival to the end
	// of its handling (injected latency included), in nanoseconds in JSON.
	Latency time.Duration `json:"latency_ns"`
}

// CallbackRecord is one delivery attempt of a status callback or Debugger
// webhook, as [Server.Callbacks] reports it. A status callback that the
// CallbackDropRate fault dropped is recorded once, with Dropped set: nothing
// was sent for it.
type CallbackRecord struct {
	// Time is the wall-clock time the attempt ended.
	Time time.Time `json:"time"`
	// URL is the destination as given (connection-override fragment included)
	// and Method is GET or POST.
	URL    string `json:"url"`
	Method string `json:"method"`
	// Debugger is true for Debugger webhooks, false for status callbacks.
	Debugger bool `json:"debugger"`
	// Event is StatusCallbackEvent (status callbacks) or the alert's Level
	// (Debugger webhooks).
	Event string `json:"event"`
	// Sid is the SID the event is about: the participant, else the
	// recording, composition, room or alert.
	Sid string `json:"sid"`
	// Attempt counts from 1; attempts after the first are retries that the
	// URL's connection overrides allowed.
	Attempt int `json:"attempt"`
	// StatusCode is the receiver's HTTP status, 0 when no response came.
	StatusCode int `json:"status_code"`
	// Delivered is true for a 2xx answer.
	Delivered bool `json:"delivered"`
	// Error describes a failed attempt: "connect" (no connection), "timeout"
	// (no timely response), or the HTTP status class ("4xx", "5xx", "3xx").
	Error string `json:"error,omitempty"`
	// Signature is the X-Twilio-Signature header sent ("" when dropped).
	Signature string `json:"signature"`
	// Dropped is true for a status callback the CallbackDropRate fault
	// dropped before any attempt.
	Dropped bool `json:"dropped,omitempty"`
	// Duplicate is true for the attempts of the extra copy the
	// CallbackDuplicateRate fault sent.
	Duplicate bool `json:"duplicate,omitempty"`
}

// ring is a bounded log that keeps the newest n entries.
type ring[T any] struct {
	mu   sync.Mutex
	n    int
	buf  []T
	next int // index of the oldest entry once full
}

func newRing[T any](n int) *ring[T] { return &ring[T]{n: n} }

func (r *ring[T]) add(x T) {
	if r.n <= 0 {
		return
	}
	r.mu.Lock()
	if len(r.buf) < r.n {
		r.buf = append(r.buf, x)
	} else {
		r.buf[r.next] = x
		r.next = (r.next + 1) % r.n
	}
	r.mu.Unlock()
}

// last returns up to limit newest entries, oldest first (limit <= 0: all).
func (r *ring[T]) last(limit int) []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]T, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	out = append(out, r.buf[:r.next]...)
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

func (r *ring[T]) reset() {
	r.mu.Lock()
	r.buf, r.next = nil, 0
	r.mu.Unlock()
}

// Requests returns up to limit of the newest API requests, oldest first
// (limit <= 0: every one kept, at most [Options.RequestLogSize]). Control API
// requests (/_videotest/) are not recorded.
func (s *Server) Requests(limit int) []RequestRecord { return s.reqLog.last(limit) }

// Callbacks returns up to limit of the newest callback and webhook delivery
// attempts (and dropped callbacks, see [CallbackRecord]), oldest first (limit <= 0: every one kept, at most
// [Options.CallbackLogSize]).
func (s *Server) Callbacks(limit int) []CallbackRecord { return s.cbLog.last(limit) }

// logWriter captures the status and Twilio code of a response for the log.
type logWriter struct {
	http.ResponseWriter
	status int
	code   int
}

// WriteHeader records the first status written.
func (w *logWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Hijack lets the drop-connection fault reach the underlying connection.
func (w *logWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	return hj.Hijack()
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
