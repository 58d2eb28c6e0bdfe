package loadtest

import (
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/videoquota/videoquota/quota"
)

// Rewrite is an http.RoundTripper that sends every request to Target's
// scheme and host, keeping path and query: twilio-go hard-codes
// https://video.twilio.com, and this points it at an emulator.
type Rewrite struct {
	Target *url.URL
	Next   http.RoundTripper
}

// RoundTrip rewrites the request's URL and passes it on.
func (r *Rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	u := *req.URL
	u.Scheme, u.Host = r.Target.Scheme, r.Target.Host
	out.URL = &u
	out.Host = r.Target.Host
	return r.Next.RoundTrip(out)
}

// Counter is an http.RoundTripper that counts the requests it passes on, by
// class (read for GET, write for POST and DELETE), with their outcome, and
// times successful requests in per-class [Timeline]s. It is safe for
// simultaneous use.
type Counter struct {
	Next http.RoundTripper

	sent, ok, throttled, failed [2]atomic.Int64
	timelines                   [2]*Timeline
	throttledTL                 *Timeline
}

// NewCounter returns a Counter in front of next whose timelines start at start.
func NewCounter(next http.RoundTripper, start time.Time) *Counter {
	return &Counter{Next: next, timelines: [2]*Timeline{NewTimeline(start), NewTimeline(start)},
		throttledTL: NewTimeline(start)}
}

// RoundTrip counts req and its outcome.
func (c *Counter) RoundTrip(req *http.Request) (*http.Response, error) {
	cl := quota.ClassOf(req.Method)
	c.sent[cl].Add(1)
	resp, err := c.Next.RoundTrip(req)
	switch {
	case err != nil:
		c.failed[cl].Add(1)
	case resp.StatusCode == http.StatusTooManyRequests:
		c.throttled[cl].Add(1)
		c.throttledTL.Add(time.Now(), 1)
	case resp.StatusCode < 400:
		c.ok[cl].Add(1)
		c.timelines[cl].Add(time.Now(), 1)
	default:
		c.failed[cl].Add(1)
	}
	return resp, err
}

// WireStats is what a [Counter] saw for one request class.
type WireStats struct {
	Sent, OK, Throttled, Failed int64
}

// Stats returns the counts for class.
func (c *Counter) Stats(class quota.Class) WireStats {
	return WireStats{Sent: c.sent[class].Load(), OK: c.ok[class].Load(),
		Throttled: c.throttled[class].Load(), Failed: c.failed[class].Load()}
}

// Timeline returns the timeline of successful requests of class.
func (c *Counter) Timeline(class quota.Class) *Timeline { return c.timelines[class] }

// Throttled returns the timeline of 429 responses, both classes together.
func (c *Counter) Throttled() *Timeline { return c.throttledTL }
