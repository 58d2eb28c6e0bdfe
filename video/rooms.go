package video

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/client/metadata"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/backoff"
	"github.com/videoquota/videoquota/quota"
)

// Room and Participant statuses that free a slot (Twilio's room_enum_room_status
// and room_participant_enum_status).
const (
	statusCompleted    = "completed"
	statusFailed       = "failed"
	statusDisconnected = "disconnected"
	statusInProgress   = "in-progress"
)

// CreateRoom is twilio-go's [openapi.ApiService.CreateRoom] bound to ctx,
// behind the Rooms ledger: a Room slot is reserved before the request is sent
// and committed under the new Room's SID when it succeeds, or given back when
// it fails.
//
// When the account's concurrent Rooms are used up, CreateRoom returns a
// *quota.ExceededError (SourceLocal, code 53119) without sending anything,
// unless the Client or ctx asked to wait for capacity ([WithWaitForCapacity],
// [WaitForCapacity]). A 53119 from Twilio returns a *quota.ExceededError
// (SourceTwilio) wrapping Twilio's error and marks Rooms full until the
// ledger is corrected; it is not retried. Parameters Twilio would reject
// fail with a *ValidationError before anything is sent.
//
// The request waits for a write token and is retried on 20429. A 5xx or
// network failure is retried only when params has a UniqueName: the Room is
// then first looked up by name, and returned if it exists. When the outcome
// is unknown (the connection failed or ctx ended after the request was
// sent), the slot stays reserved until [DefaultReservationTTL] passes or a
// status callback or reconcile settles it, so that the ledger never
// undercounts.
func (c *Client) CreateRoom(ctx context.Context, params *openapi.CreateRoomParams) (*openapi.VideoV1Room, error) {
	var room *openapi.VideoV1Room
	err := c.createRoom(ctx, "CreateRoom", params,
		func(cl *call) (*openapi.VideoV1Room, error) {
			r, err := cl.svc.CreateRoom(params)
			room = r
			return r, err
		},
		func(cl *call, name string) (*openapi.VideoV1Room, error) {
			r, err := cl.svc.FetchRoom(name)
			room = r
			return r, err
		})
	if err != nil {
		return nil, err
	}
	return room, nil
}

// CreateRoomWithMetadata is [Client.CreateRoom] returning the response's
// status code and headers, as twilio-go's
// [openapi.ApiService.CreateRoomWithMetadata] does.
func (c *Client) CreateRoomWithMetadata(ctx context.Context, params *openapi.CreateRoomParams) (*metadata.ResourceMetadata[openapi.VideoV1Room], error) {
	var res *metadata.ResourceMetadata[openapi.VideoV1Room]
	err := c.createRoom(ctx, "CreateRoomWithMetadata", params,
		func(cl *call) (*openapi.VideoV1Room, error) {
			r, err := cl.svc.CreateRoomWithMetadata(params)
			res = r
			if r == nil {
				return nil, err
			}
			return &r.Resource, err
		},
		func(cl *call, name string) (*openapi.VideoV1Room, error) {
			r, err := cl.svc.FetchRoomWithMetadata(name)
			res = r
			if r == nil {
				return nil, err
			}
			return &r.Resource, err
		})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// createRoom runs create behind a Room reservation; fetch looks a Room up by
// UniqueName to make retrying a failed create safe.
func (c *Client) createRoom(ctx context.Context, method string, params *openapi.CreateRoomParams,
	create func(*call) (*openapi.VideoV1Room, error),
	fetch func(cl *call, name string) (*openapi.VideoV1Room, error)) error {
	if err := validateCreateRoom(params); err != nil {
		return withMethod(err, method)
	}
	if c.closed.Load() {
		return ErrClosed
	}
	key := c.reservationID()
	if err := c.reserve(ctx, quota.Rooms, key); err != nil {
		return err
	}
	kept := false
	defer func() {
		if !kept {
			if err := c.ledger.Release(context.WithoutCancel(ctx), quota.Rooms, key); err != nil {
				c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: releasing a room reservation failed",
					slog.String("error", err.Error()))
			}
		}
	}()
	var name string
	if params != nil && params.UniqueName != nil {
		name = *params.UniqueName
	}
	var retrier backoff.Retrier
	started := false
	for {
		cl := c.begin(ctx)
		room, err := create(cl)
		err = cl.finish(err)
		status, netErr, local, sent := cl.status, cl.netErr, cl.localErr, cl.sent
		c.end(cl)
		if err == nil {
			kept = c.commitRoom(ctx, key, room)
			return nil
		}
		var ex *quota.ExceededError
		if errors.As(err, &ex) && ex.Source == quota.SourceTwilio {
			// Twilio is full: give the reservation back first, since a
			// release clears the full mark that finish has just set.
			kept = true
			bg := context.WithoutCancel(ctx)
			if rerr := c.ledger.Release(bg, quota.Rooms, key); rerr != nil {
				c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: releasing a room reservation failed",
					slog.String("error", rerr.Error()))
			}
			if merr := c.ledger.MarkFull(bg, quota.Rooms, c.fullFor); merr != nil {
				c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: marking rooms full failed",
					slog.String("error", merr.Error()))
			}
			return err
		}
		retryable := status >= 500 || (status == 0 && netErr != nil)
		if name == "" || local != nil || !retryable {
			if sent && status == 0 && (netErr != nil || local != nil) {
				// The request may have reached Twilio and created the Room:
				// keep the slot pending until it lapses (or a status
				// callback or a reconcile settles it) rather than
				// undercount.
				kept = true
			}
			return err
		}
		// The Room may have been created: look for it before trying again.
		if !started {
			retrier, started = c.retry.Start(), true
		}
		out := backoff.Outcome{Method: http.MethodPost, StatusCode: status, Err: netErr, Idempotent: true}
		wait, retry, _ := retrier.Next(out)
		if !retry {
			return err
		}
		c.metrics.retried(ctx, quota.Write, out)
		if serr := backoff.Sleep(ctx, wait); serr != nil {
			return serr
		}
		cl = c.begin(ctx)
		found, ferr := fetch(cl, name)
		ferr = cl.finish(ferr)
		c.end(cl)
		if ferr == nil && found != nil && found.Status != nil && *found.Status == statusInProgress {
			c.logger.LogAttrs(ctx, slog.LevelDebug, "videoquota: room found after a failed create",
				slog.String("room", strOr(found.Sid)))
			kept = c.commitRoom(ctx, key, found)
			return nil
		}
		var tw *client.TwilioRestError
		if ferr != nil && !(errors.As(ferr, &tw) && tw.Status == http.StatusNotFound) {
			return err // cannot tell whether the Room exists: do not risk a second one
		}
	}
}

// commitRoom turns the reservation key into a holding of room's SID and
// reports whether the slot is now held.
func (c *Client) commitRoom(ctx context.Context, key string, room *openapi.VideoV1Room) bool {
	if room == nil || room.Sid == nil {
		return false
	}
	bg := context.WithoutCancel(ctx)
	if err := c.ledger.Commit(bg, quota.Rooms, key, *room.Sid); err != nil {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: committing a room failed",
			slog.String("room", *room.Sid), slog.String("error", err.Error()))
		return true // the reservation stays until it lapses
	}
	if room.Status != nil && (*room.Status == statusCompleted || *room.Status == statusFailed) {
		c.observeRoom(ctx, room)
	}
	return true
}

// reservationID returns a key for a pending Room slot, unique across the
// processes sharing a store.
func (c *Client) reservationID() string {
	return "room-reservation:" + c.idEpoch + ":" + strconv.FormatUint(c.seq.Add(1), 36)
}

// RequestHandler returns twilio-go's request handler bound to ctx, as
// [openapi.ApiService.RequestHandler] does: requests made through it wait for
// rate tokens, are retried on 20429 and are aborted when ctx ends. Errors come
// back as twilio-go returns them. The handler is safe for simultaneous use.
func (c *Client) RequestHandler(ctx context.Context) *client.RequestHandler {
	tw := &client.Client{
		Credentials: &c.credentials,
		HTTPClient: &http.Client{
			Transport:     handlerTransport{c: c, ctx: ctx},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	tw.SetAccountSid(c.accountSID)
	return &client.RequestHandler{Client: tw, Edge: c.edge, Region: c.region}
}

// handlerTransport gives each request of a [Client.RequestHandler] its own
// call state, so that the handler may be shared between goroutines.
type handlerTransport struct {
	c   *Client
	ctx context.Context
}

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	cl := &call{c: t.c, ctx: t.ctx}
	cl.tr.cl = cl
	return cl.tr.RoundTrip(req)
}

// observeRoom corrects the ledger from a Room the application read: a Room
// that completed or failed gives back its slot and its Participants'.
func (c *Client) observeRoom(ctx context.Context, r *openapi.VideoV1Room) {
	if r == nil || r.Status == nil || r.Sid == nil {
		return
	}
	if s := *r.Status; s != statusCompleted && s != statusFailed {
		return
	}
	if err := c.ReleaseRoom(context.WithoutCancel(ctx), *r.Sid); err != nil {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: releasing a completed room failed",
			slog.String("room", *r.Sid), slog.String("error", err.Error()))
	}
}

// afterUpdateRoom releases a Room completed through UpdateRoom (and the
// Participants the Client knew in it), whatever status the answer shows:
// Twilio accepted the completion (202).
func (c *Client) afterUpdateRoom(ctx context.Context, p *openapi.UpdateRoomParams, r *openapi.VideoV1Room) {
	if r == nil || r.Sid == nil {
		return
	}
	if p != nil && p.Status != nil && *p.Status == statusCompleted {
		done := statusCompleted
		r2 := *r
		r2.Status = &done
		r = &r2
	}
	c.observeRoom(ctx, r)
}

// afterUpdateRoomParticipant releases a Participant disconnected through
// UpdateRoomParticipant.
func (c *Client) afterUpdateRoomParticipant(ctx context.Context, p *openapi.UpdateRoomParticipantParams, r *openapi.VideoV1RoomParticipant) {
	if r == nil || r.Sid == nil {
		return
	}
	if p != nil && p.Status != nil && *p.Status == statusDisconnected {
		done := statusDisconnected
		r2 := *r
		r2.Status = &done
		r = &r2
	}
	c.observeParticipant(ctx, r)
}

// observeParticipant gives back the slot of a Participant the application
// read as disconnected.
func (c *Client) observeParticipant(ctx context.Context, p *openapi.VideoV1RoomParticipant) {
	if p == nil || p.Status == nil || p.Sid == nil || *p.Status != statusDisconnected {
		return
	}
	if err := c.ReleaseParticipant(context.WithoutCancel(ctx), *p.Sid); err != nil {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: releasing a disconnected participant failed",
			slog.String("participant", *p.Sid), slog.String("error", err.Error()))
	}
}

func (c *Client) observeRoomPage(ctx context.Context, p *openapi.ListRoomResponse) {
	if p == nil {
		return
	}
	for i := range p.Rooms {
		c.observeRoom(ctx, &p.Rooms[i])
	}
}

func (c *Client) observeParticipantPage(ctx context.Context, p *openapi.ListRoomParticipantResponse) {
	if p == nil {
		return
	}
	for i := range p.Participants {
		c.observeParticipant(ctx, &p.Participants[i])
	}
}

// validateUpdateRoom requires Status=completed, the only change Twilio accepts.
func validateUpdateRoom(p *openapi.UpdateRoomParams) error {
	if p == nil {
		return &ValidationError{Param: "Status", Reason: "required (completed)"}
	}
	return validateStatus("Status", p.Status, statusCompleted)
}

// validateUpdateRoomParticipant requires Status=disconnected, the only change
// Twilio accepts.
func validateUpdateRoomParticipant(p *openapi.UpdateRoomParticipantParams) error {
	if p == nil {
		return nil // twilio-go sends no Status; Twilio answers as it sees fit
	}
	if p.Status == nil {
		return nil
	}
	return validateStatus("Status", p.Status, statusDisconnected)
}

// validateListRoom checks the filters of a Room listing.
func validateListRoom(p *openapi.ListRoomParams) error {
	if p == nil {
		return nil
	}
	if p.UniqueName != nil && len([]rune(*p.UniqueName)) > MaxNameLength {
		return checkName("UniqueName", *p.UniqueName)
	}
	if p.Status != nil {
		if err := validateStatus("Status", p.Status, statusInProgress, statusCompleted, statusFailed); err != nil {
			return err
		}
	}
	return checkPageSize(p.PageSize)
}

// validateListRoomParticipant checks the filters of a Participant listing.
func validateListRoomParticipant(p *openapi.ListRoomParticipantParams) error {
	if p == nil {
		return nil
	}
	if p.Identity != nil && len([]rune(*p.Identity)) > MaxNameLength {
		return checkName("Identity", *p.Identity)
	}
	if p.Status != nil {
		if err := validateStatus("Status", p.Status, "connected", statusDisconnected, "reconnecting"); err != nil {
			return err
		}
	}
	return checkPageSize(p.PageSize)
}

// checkPageSize requires 1..1000 (Twilio's maximum page size).
func checkPageSize(n *int) error {
	return checkRange("PageSize", n, 1, 1000, "records")
}

func strOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
