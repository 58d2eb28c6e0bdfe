package video

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	monitor "github.com/twilio/twilio-go/rest/monitor/v1"
	"golang.org/x/time/rate"

	"github.com/videoquota/videoquota/quota"
)

// DefaultAlertPollRate is the read budget of [Client.PollAlerts]: one
// Monitor request per second at most, whatever the interval, so that a
// backlog of alert pages never competes with the application's reads.
const DefaultAlertPollRate = 1.0

// alertPollPageSize is the page size of polled alerts.
const alertPollPageSize = 100

// AlertHandler returns the http.Handler to set as the Console Debugger
// webhook. Each Debugger event is authenticated like a status callback
// (X-Twilio-Signature, 403 otherwise; see [Client.StatusCallbackHandler] for
// the body limit and methods), its Payload JSON decoded (400 when it is not
// JSON or carries no error_code), and acted on once: a repeat with the same
// Sid or I-Twilio-Idempotency-Token is answered 200 and ignored.
//
//   - 53121 (70% of a concurrency quota) fires the threshold funcs of the
//     Client registered for level 0.7, the default ([WithThresholds]), with
//     a [quota.Event] of Code 53121, Level 0.7, Rising, Source
//     [quota.SourceTwilio], At the event's Timestamp. Its Resource is the one the
//     payload's more_info names, else the one the ledger has at 70% or more
//     (both if both), else the one with the higher usage share.
//   - 53119 and 53206 (a concurrency quota exceeded) mark Rooms or
//     Participants full in the ledger, as a refusal in a REST answer does,
//     and fire the threshold funcs with Code 53119/53206 and Level 1.
//   - 20429 is logged at Warn.
//
// An event whose Timestamp is older than [DefaultCallbackRetention] on the
// callbacks' clock (a replayed request: the signature does not cover time)
// changes nothing and is passed on with Stale set; a 53121 for a level the
// Client already reported rising is not reported again (see
// [quota.Ledger]). A subaccount's event (its ParentAccountSid this
// Client's account) changes nothing either, since each account has its own
// quotas. Every accepted event is then passed to the [OnAlert] funcs,
// whatever its code.
func (c *Client) AlertHandler(opts ...HandlerOption) http.Handler {
	h, err := c.buildHandlerConfig("AlertHandler", opts)
	if err != nil {
		return misconfigured(c.logger, "alert handler", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.closed.Load() {
			c.rejectWebhook(w, r, "debugger event", h, &webhookError{http.StatusServiceUnavailable, ErrClosed})
			return
		}
		form, werr := c.readSigned(w, r, h)
		if werr != nil {
			c.rejectWebhook(w, r, "debugger event", h, werr)
			return
		}
		ev, err := parseAlertEvent(form)
		if err == nil {
			err = c.checkAccount(ev.AccountSID, ev.ParentAccountSID)
		}
		if err != nil {
			c.rejectWebhook(w, r, "debugger event", h, &webhookError{http.StatusBadRequest, err})
			return
		}
		c.handleAlert(r.Context(), ev, r.Header.Get("I-Twilio-Idempotency-Token"), h.onAlert)
		w.WriteHeader(http.StatusOK)
	})
}

// handleAlert acts on ev unless its Sid or idempotency token was seen, and
// reports whether it did.
func (c *Client) handleAlert(ctx context.Context, ev AlertEvent, idem string, fns []AlertFunc) bool {
	st := c.model()
	st.mu.Lock()
	if st.alerts.has("sid:"+ev.SID) || (idem != "" && st.alerts.has("idem:"+idem)) {
		st.mu.Unlock()
		c.metrics.alert(ctx, &ev, false)
		return false
	}
	st.alerts.add("sid:" + ev.SID)
	if idem != "" {
		st.alerts.add("idem:" + idem)
	}
	st.mu.Unlock()

	at := ev.Timestamp
	if at.IsZero() {
		at = c.now()
	} else {
		// A replay, or an alert so old that what it says is long past: it
		// is passed on, marked Stale, and changes nothing.
		st.mu.Lock()
		ref := time.UnixMicro(st.newest)
		if st.newest == 0 {
			ref = c.now()
		}
		ev.Stale = at.Before(ref.Add(-st.retention))
		st.mu.Unlock()
	}
	bg := context.WithoutCancel(ctx)
	code := ev.Code
	if ev.Stale || (ev.AccountSID != "" && ev.AccountSID != c.accountSID) {
		// A subaccount's event, delivered to its parent's webhook, is about
		// the subaccount's quotas: each Account SID has its own
		// (https://www.twilio.com/docs/video/guide-to-scaling-applications).
		code = 0
	}
	switch code {
	case quota.CodeApproachingQuota:
		for _, res := range c.warnedResources(bg, &ev) {
			// The ledger drops a 53121 at a usage past the level as a
			// repeat of the store's crossing, which the store decides only
			// for clients watching the level: a release of no key has it
			// decide this Client's levels first (a crossing nobody was
			// told of comes here, from the store, learnt from Twilio).
			_ = c.ledger.Release(bg, res, "", quota.SourceTwilio)
			used, _, _ := c.ledger.Used(bg, res)
			c.ledger.Notify(quota.Event{Resource: res, Used: used, Limit: c.ledger.Limit(res),
				Level: quota.DefaultThresholdLevel, Rising: true, Code: quota.CodeApproachingQuota,
				Source: quota.SourceTwilio, At: at})
		}
	case quota.CodeRoomsExceeded, quota.CodeParticipantsExceeded:
		res := quota.Rooms
		if ev.Code == quota.CodeParticipantsExceeded {
			res = quota.Participants
		}
		// One full event per episode, whether the REST answer or this
		// Debugger event told it first (see quota.Ledger.MarkFull).
		if err := c.ledger.MarkFull(bg, res, c.fullFor, quota.SourceTwilio, at); err != nil {
			c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: marking quota full failed",
				slog.String("resource", res.String()), slog.String("error", err.Error()))
		}
	case quota.CodeTooManyRequests:
		c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: Twilio reported 20429 (too many requests)",
			slog.String("alert", ev.SID), slog.String("resource", ev.ResourceSID))
	}
	c.metrics.alert(ctx, &ev, true)
	for _, fn := range fns {
		fn(ev)
	}
	return true
}

// warnedResources says which quota a 53121 is about.
func (c *Client) warnedResources(ctx context.Context, ev *AlertEvent) []quota.Resource {
	switch ev.alertResource() {
	case "rooms", "room":
		return []quota.Resource{quota.Rooms}
	case "participants", "participant":
		return []quota.Resource{quota.Participants}
	}
	var share [2]float64
	var out []quota.Resource
	for _, res := range [...]quota.Resource{quota.Rooms, quota.Participants} {
		used, _, err := c.ledger.Used(ctx, res)
		if lim := c.ledger.Limit(res); err == nil && lim > 0 {
			share[res] = float64(used) / float64(lim)
		}
		if share[res] >= quota.DefaultThresholdLevel {
			out = append(out, res)
		}
	}
	if len(out) > 0 {
		return out
	}
	if share[quota.Participants] > share[quota.Rooms] {
		return []quota.Resource{quota.Participants}
	}
	return []quota.Resource{quota.Rooms}
}

// videoAlertCode reports whether code is one the poller passes on: the
// Programmable Video range (53xxx) and 20429.
func videoAlertCode(code int) bool {
	return (code >= 53000 && code < 54000) || code == quota.CodeTooManyRequests
}

// PollAlerts reads Twilio's Monitor Alerts (GET /v1/Alerts) every interval
// until ctx ends, then returns ctx's error, or until the Client is closed,
// then returns [ErrClosed] (Close wakes it at once, aborts its requests and
// waits for it to return): the fallback for applications the Debugger
// webhook cannot reach. Alerts with Video codes (53xxx) and 20429 are acted
// on exactly as [Client.AlertHandler] does (an alert seen by both is acted on
// once) and passed to the [OnAlert] funcs; others are skipped (the API has no
// code filter).
//
// The first poll looks back one interval. Requests go through the Client's
// request path (its read bucket, retries and base URL) and, in addition,
// a local budget of [DefaultAlertPollRate] requests per second. A failed
// poll is logged at Warn and tried again at the next tick. Run it on its
// own goroutine; it leaves nothing running when it returns.
// An interval that is not positive, or a nil or invalid option, is a
// *[ConfigError] naming it, returned at once.
func (c *Client) PollAlerts(ctx context.Context, every time.Duration, opts ...HandlerOption) error {
	if every <= 0 {
		return optErr("PollAlerts", "interval %s: want a positive interval", every)
	}
	h, err := applyHandlerOptions("PollAlerts", opts)
	if err != nil {
		return err
	}
	ctx, stop, err := c.startLoop(ctx)
	if err != nil {
		return err
	}
	defer stop()
	for i, fn := range h.onAlert {
		h.onAlert[i] = func(e AlertEvent) { callback(c.life.callbacks, fn, e) }
	}
	st := c.model()
	lim := st.readBudget(&st.pollLim, DefaultAlertPollRate)
	since := c.now().Add(-every)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		next, err := c.pollAlertsOnce(ctx, lim, since, h.onAlert)
		if err != nil {
			if ctx.Err() != nil {
				return ended(ctx, ctx.Err())
			}
			if errors.Is(err, ErrClosed) {
				return err
			}
			c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: polling alerts failed", slog.String("error", err.Error()))
		} else {
			since = next
		}
		select {
		case <-ctx.Done():
			return ended(ctx, ctx.Err())
		case <-t.C:
		}
	}
}

// pollAlertsOnce reads the alerts created since then, acts on the Video ones
// and returns the time to start from next.
func (c *Client) pollAlertsOnce(ctx context.Context, lim *rate.Limiter, since time.Time, fns []AlertFunc) (time.Time, error) {
	if c.closed.Load() {
		return since, ErrClosed
	}
	svc := monitor.NewApiService(c.RequestHandler(ctx))
	size := alertPollPageSize
	start := since.UTC().Truncate(time.Second)
	params := &monitor.ListAlertParams{StartDate: &start, PageSize: &size}
	next := since
	token, page := "", ""
	for {
		if err := lim.Wait(ctx); err != nil {
			return since, err
		}
		resp, err := svc.PageAlert(params, token, page)
		if err != nil {
			return since, fmt.Errorf("video: PollAlerts: %w", err)
		}
		for _, a := range resp.Alerts {
			if a.Sid == nil || a.ErrorCode == nil {
				continue
			}
			code, err := strconv.Atoi(*a.ErrorCode)
			if err != nil || !videoAlertCode(code) {
				continue
			}
			ev := AlertEvent{SID: *a.Sid, Code: code, AccountSID: strOr(a.AccountSid),
				Level: strOr(a.LogLevel), ResourceSID: strOr(a.ResourceSid), ServiceSID: strOr(a.ServiceSid),
				Text: strOr(a.AlertText), Polled: true}
			if a.DateGenerated != nil {
				ev.Timestamp = a.DateGenerated.UTC()
			} else if a.DateCreated != nil {
				ev.Timestamp = a.DateCreated.UTC()
			}
			if a.DateCreated != nil && a.DateCreated.After(next) {
				next = *a.DateCreated
			}
			c.handleAlert(ctx, ev, "", fns)
		}
		var ok bool
		if token, page, ok = nextPage(resp.Meta.NextPageUrl); !ok {
			return next, nil
		}
	}
}
