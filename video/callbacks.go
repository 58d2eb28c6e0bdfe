package video

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video/internal/signature"
)

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
// auth token given to [New] over the URL and the sorted parameters,
// https://www.twilio.com/docs/usage/webhooks/webhooks-security; see
// [WithPublicURL] behind a proxy): otherwise 403 and nothing changes. The
// check accepts every request twilio-go's client.RequestValidator accepts
// (tested against it), plus the URL forms Twilio is known to sign that
// differ from the URL that arrives (an explicit default port, :443 or :80,
// and the query encodings twilio-node accepts), and a repeated parameter
// only if all its values were signed. Its work is linear in the request
// and bounded before any HMAC (at most 256 parameters): a forged request
// is rejected in microseconds whatever its size. POST form bodies and GET
// queries are accepted; bodies over [WithMaxBody] or with more than 256
// parameters get 413, other content types 415, malformed forms 400, other
// methods 405. A StatusCallback written without a path is accepted as the
// root path. A signed callback whose ledger fields are missing or malformed
// (RoomSid, ParticipantSid, Timestamp), whose Timestamp is ahead of the
// Client's clock by more than [WithMaxClockSkew] (a minute by default; the
// first such refusal is logged at Error with the skew seen), or whose
// AccountSid is missing or another account's gets 400 and changes nothing.
// A callback that would have the Client count more Rooms or Participants in
// progress than twice the limit in force ([quota.TrackCapFactor]; Twilio
// never has more than the limit) gets 503 and changes nothing: what a
// Client tracks stays bounded by the limits it enforces, whatever is sent
// to it (the first such refusal is logged at Warn, and [Client.Reconcile]
// corrects the count). At Twilio's default limits that is at most 20,000
// Rooms and 20,000 Participants in progress, under 16 MB of heap
// (BenchmarkCallbackFlood measures it after 1,000,000 callbacks for
// distinct Rooms never ended). After [Client.Close] every request gets 503 and
// changes nothing. Event names this library does not
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
// Ended Rooms and Participants are remembered for at least
// [DefaultCallbackRetention] (forgotten a few per callback, never in one
// sweep of every SID).
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
	h, err := c.buildHandlerConfig("StatusCallbackHandler", opts)
	if err != nil {
		return misconfigured(c.logger, "status callback handler", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.closed.Load() {
			// Closed: nothing is applied, not even the duplicate check, so
			// every delivery gets the same answer.
			c.rejectWebhook(w, r, "status callback", h, &webhookError{http.StatusServiceUnavailable, ErrClosed})
			return
		}
		f, _ := h.forms.Get().(*signature.Form)
		if f == nil {
			f = new(signature.Form)
		}
		defer h.forms.Put(f)
		query, werr := c.readSignedForm(w, r, h, f)
		if werr != nil {
			c.rejectWebhook(w, r, "status callback", h, werr)
			return
		}
		var ev RoomEvent
		var err error
		if query != nil {
			ev, err = parseRoomEvent(query)
		} else {
			ev, err = parseRoomEventForm(f, len(h.onRoom) > 0)
		}
		if err == nil {
			err = c.checkAccount(ev.AccountSID, "")
		}
		if err == nil && ev.ledgerEvent() {
			// Twilio's clock is not that far ahead of ours: one such event
			// would move the callbacks' clock and make current ones stale.
			err = h.checkSkew(c, r, ev.Timestamp)
		}
		if err != nil {
			c.rejectWebhook(w, r, "status callback", h, &webhookError{http.StatusBadRequest, err})
			return
		}
		st := c.model()
		// Not cancelled when Twilio hangs up: an update is applied whole.
		apply, err := st.applyRoomEvent(context.WithoutCancel(r.Context()), c, &ev, h)
		if errors.Is(err, quota.ErrTrackCap) {
			// More in progress than twice the limit in force: not
			// recorded, nothing kept (the ledger logged the first).
			c.metrics.callback(r.Context(), deliveryStatus, cbFailed)
			http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
			return
		}
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
		if apply && !ev.Stale && (ev.Event == "room-created" || ev.Event == "room-ended") {
			c.status.room(ev.RoomSID, ev.RoomName, ev.RoomStatus, c.now())
		}
		if apply {
			for _, fn := range h.onRoom {
				fn(ev)
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}
