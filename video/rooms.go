package video

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/client/metadata"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/backoff"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video/internal/acct"
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
	c.status.roomSeen(room)
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
// UniqueName to make retrying a failed create safe. The reservation is
// settled by the one rule of the model (model.go): committed when the Room
// is known to exist, given back when Twilio is known not to have created
// it, and kept pending, for the other truth sources to settle, when the
// outcome is unknown.
func (c *Client) createRoom(ctx context.Context, method string, params *openapi.CreateRoomParams,
	create func(*call) (*openapi.VideoV1Room, error),
	fetch func(cl *call, name string) (*openapi.VideoV1Room, error)) (err error) {
	ctx, release, err := c.bind(ctx) // nil or ended ctx, closed Client: refused; Close wakes every wait below
	if err != nil {
		return err
	}
	defer release()
	defer func() { err = ended(ctx, err) }() // a wait Close ended reports ErrClosed
	if err := validateCreateRoom(params); err != nil {
		return withMethod(err, method)
	}
	var name string
	if params != nil && params.UniqueName != nil {
		name = *params.UniqueName
	}
	d := c.rooms()
	id := d.newCreate()
	begun := acct.CreateStarted{ID: id, Key: c.reservationID(), Name: strings.Clone(name), At: stamp(c.now())}
	if _, err := d.feed(ctx, c, quota.SourceLocal, begun.At, begun, reserving(func(key string) error {
		return c.reserve(ctx, quota.Rooms, key, c.reservationTTL)
	})); err != nil {
		return err // refused: nothing was sent
	}
	var retrier backoff.Retrier
	started := false
	for {
		cl := c.begin(ctx)
		room, err := create(cl)
		err = cl.finish(err)
		status, netErr, local, sent, giveUp := cl.status, cl.netErr, cl.localErr, cl.sent, cl.giveUp
		c.end(cl)
		if err == nil {
			if room != nil && room.Sid != nil {
				if d.answered(ctx, c, id, *room.Sid, strOr(room.UniqueName)) {
					c.observeRoom(ctx, room) // a Room that completed at once
				}
			} else {
				d.unknown(ctx, c, id)
			}
			if started {
				retrier.Succeeded()
			}
			return nil
		}
		switch createOutcome(status, sent) {
		case outcomeNotCreated:
			// After Twilio's 53119, finish has marked Rooms full; giving back
			// a reservation keeps the mark, so no other reservation slips
			// into the slot in between.
			d.refused(ctx, c, id)
			return err
		case outcomeUnknown:
			if name == "" || local != nil {
				d.unknown(ctx, c, id)
				return err
			}
		}
		// A named create whose outcome is unknown (a 5xx, a failed
		// connection): look the Room up by name before trying again.
		if giveUp != nil {
			d.unknown(ctx, c, id)
			return err
		}
		if !started {
			retrier, started = c.retry.Start(), true
		}
		out := backoff.Outcome{Method: http.MethodPost, StatusCode: status, Err: netErr, Idempotent: true}
		wait, retry, gerr := retrier.Next(out)
		if !retry {
			d.unknown(ctx, c, id)
			if gerr != nil {
				return fmt.Errorf("%w (%w)", err, gerr)
			}
			return err
		}
		c.metrics.retried(ctx, quota.Write, out)
		if serr := backoff.Sleep(ctx, wait); serr != nil {
			d.unknown(ctx, c, id)
			return ended(ctx, serr)
		}
		cl = c.begin(ctx)
		found, ferr := fetch(cl, name)
		ferr = cl.finish(ferr)
		c.end(cl)
		if ferr == nil && found != nil && found.Sid != nil && found.Status != nil && *found.Status == statusInProgress {
			c.logger.LogAttrs(ctx, slog.LevelDebug, "videoquota: room found after a failed create",
				slog.String("room", *found.Sid))
			d.answered(ctx, c, id, *found.Sid, name)
			retrier.Succeeded()
			return nil
		}
		var tw *client.TwilioRestError
		if ferr != nil && !(errors.As(ferr, &tw) && tw.Status == http.StatusNotFound) {
			// Cannot tell whether the Room exists: do not risk a second
			// one; the reservation stays for the truth sources.
			d.unknown(ctx, c, id)
			return err
		}
	}
}

// Outcomes of a request that may create a Room or a Participant.
const (
	outcomeNotCreated = iota // Twilio did not process it: never sent, 4xx (including 429 and 53119)
	outcomeUnknown           // it may have been processed: no answer after sending, or a 5xx
)

// createOutcome classifies a failed create: the one rule for "we don't know
// whether the Room exists". A request never sent, or answered with a 4xx
// (Twilio validated and refused it; a 429 is never processed), created
// nothing. A request sent without an answer (the connection failed, ctx
// ended or the Client closed while it was on the wire), or answered with a
// 5xx (the Room may exist and the answer be lost), may have.
func createOutcome(status int, sent bool) int {
	if !sent || (status >= 400 && status < 500) {
		return outcomeNotCreated
	}
	return outcomeUnknown
}

// reservationID returns a key for a pending Room slot, unique across the
// Clients sharing a store whatever their clocks (idEpoch is random).
func (c *Client) reservationID() string { return c.uniqueKey("room-reservation") }

// uniqueKey returns prefix made unique to this Client and call.
func (c *Client) uniqueKey(prefix string) string {
	return prefix + ":" + c.idEpoch + ":" + strconv.FormatUint(c.seq.Add(1), 36)
}

// RequestHandler returns twilio-go's request handler bound to ctx, as
// [openapi.ApiService.RequestHandler] does: requests made through it wait for
// rate tokens, are retried on 20429, are aborted when ctx ends and fail with
// [ErrClosed] after Close. Errors come back as twilio-go returns them. Its
// Client is twilio-go's BaseClient, not a *client.Client, so that twilio-go's
// own retrying cannot be switched on under the Client's. The handler is safe
// for simultaneous use.
func (c *Client) RequestHandler(ctx context.Context) *client.RequestHandler {
	return c.requestHandler(ctx)
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
	if err := c.endRoom(context.WithoutCancel(ctx), *r.Sid, quota.SourceLocal); err != nil && !errors.Is(err, quota.ErrClosed) {
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
	c.status.roomSeen(r)
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
	if err := c.releaseParticipant(context.WithoutCancel(ctx), *p.Sid, quota.SourceLocal); err != nil && !errors.Is(err, quota.ErrClosed) {
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
