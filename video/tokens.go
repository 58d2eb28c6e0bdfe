package video

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twilio/twilio-go/client/jwt"

	"github.com/videoquota/videoquota/quota"
)

// Access token lifetimes (https://www.twilio.com/docs/iam/access-tokens).
const (
	// DefaultTokenTTL is the lifetime of a [Client.JoinToken] token unless
	// [WithTokenTTL] says otherwise: twilio-go's (and Twilio's) default, 1 hour.
	DefaultTokenTTL = time.Hour
	// MaxTokenTTL is Twilio's longest access token lifetime (24 hours);
	// longer ones are refused with 20157/20104, so JoinToken clamps to it.
	MaxTokenTTL = 24 * time.Hour
)

// ErrNoAPIKey is returned by [Client.JoinToken] when the Client has no API
// key: Twilio signs access tokens with an API key secret ([WithAPIKey]), never
// with the auth token.
var ErrNoAPIKey = errors.New("video: JoinToken: the Client has no API key (use video.WithAPIKey)")

// TokenOption configures one [Client.JoinToken] call.
type TokenOption func(*tokenConfig) error

type tokenConfig struct {
	ttl    time.Duration
	region string
}

// WithTokenTTL sets the token's lifetime, and so how long its reserved slots
// wait for the Participant to connect (default [DefaultTokenTTL]; clamped to
// [MaxTokenTTL]). Lifetimes under an hour are honoured exactly, although
// twilio-go raises its Ttl parameter to an hour: the expiry is set directly.
func WithTokenTTL(d time.Duration) TokenOption {
	return func(t *tokenConfig) error {
		if d < time.Second {
			return fmt.Errorf("video: WithTokenTTL(%s): want at least one second", d)
		}
		t.ttl = min(d, MaxTokenTTL)
		return nil
	}
}

// WithTokenRegion sets the token's "twr" header (the region of the API key,
// e.g. "us1").
func WithTokenRegion(region string) TokenOption {
	return func(t *tokenConfig) error {
		if region == "" {
			return errors.New("video: WithTokenRegion: empty region")
		}
		t.region = region
		return nil
	}
}

// JoinToken returns a Video access token that lets identity connect to room
// (a Room UniqueName, or SID), for ad-hoc Rooms created by the first
// client-side connect, or for REST Rooms.
//
// Before minting, it reserves a Participant slot for room and identity, and
// a Room slot for room unless the status callbacks show it in progress; the
// reservations lapse when the token expires, unless the participant-connected
// (and room-created) callbacks seen by [Client.StatusCallbackHandler] turn
// them into holdings first. Asking again for the same room and identity
// while a reservation is pending takes no further slot. When a quota is used
// up, JoinToken returns the *quota.ExceededError (SourceLocal) and no token,
// unless the Client or ctx asked to wait for capacity ([WithWaitForCapacity],
// [WaitForCapacity]). It never sends a request.
//
// The token is signed with the API key ([WithAPIKey], else [ErrNoAPIKey]);
// identity and room must be 1 to 128 characters (else a *ValidationError).
func (c *Client) JoinToken(ctx context.Context, room, identity string, opts ...TokenOption) (string, error) {
	cfg := tokenConfig{ttl: DefaultTokenTTL}
	for i, o := range opts {
		if o == nil {
			return "", fmt.Errorf("video: JoinToken: option %d is nil", i)
		}
		if err := o(&cfg); err != nil {
			return "", err
		}
	}
	if c.closed.Load() {
		return "", ErrClosed
	}
	if c.apiKeySID == "" {
		return "", ErrNoAPIKey
	}
	if err := checkSIDOrName("room", "RM", room); err != nil {
		return "", withMethod(err, "JoinToken")
	}
	if err := checkIdentity(identity); err != nil {
		return "", withMethod(err, "JoinToken")
	}
	now := c.now()
	exp := now.Add(cfg.ttl)

	// The event lock is not held while reserving: a reservation may wait for
	// capacity, which the status callbacks free under that lock.
	st := c.eventState()
	st.mu.Lock()
	roomKey := ""
	if !validSID("RM", room) && !st.roomInProgressLocked(room) {
		roomKey = roomResKey(room)
	}
	st.mu.Unlock()
	partKey := ParticipantReservationKey(room, identity)
	var tookRoom bool
	if roomKey != "" {
		had, err := c.ledger.Holds(ctx, quota.Rooms, roomKey)
		if err != nil {
			return "", err
		}
		if err := c.reserveFor(ctx, quota.Rooms, roomKey, cfg.ttl); err != nil {
			return "", err
		}
		tookRoom = !had
	}
	undo := func() {
		if tookRoom {
			_ = c.ledger.Release(context.WithoutCancel(ctx), quota.Rooms, roomKey)
		}
	}
	hadPart, err := c.ledger.Holds(ctx, quota.Participants, partKey)
	if err != nil {
		undo()
		return "", err
	}
	if err := c.reserveFor(ctx, quota.Participants, partKey, cfg.ttl); err != nil {
		undo()
		return "", err
	}
	tok := jwt.CreateAccessToken(jwt.AccessTokenParams{
		AccountSid:    c.accountSID,
		SigningKeySid: c.apiKeySID,
		Secret:        c.apiKeySecret,
		Identity:      identity,
		Region:        cfg.region,
		Nbf:           float64(now.Unix()),
		Ttl:           cfg.ttl.Seconds(),
		// twilio-go raises Ttl under an hour to an hour; ValidUntil is exact.
		ValidUntil: float64(exp.Unix()),
	})
	tok.AddGrant(&jwt.VideoGrant{Room: room})
	s, err := tok.ToJwt()
	if err != nil {
		if !hadPart {
			_ = c.ledger.Release(context.WithoutCancel(ctx), quota.Participants, partKey)
		}
		undo()
		return "", fmt.Errorf("video: JoinToken: signing the token: %w", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if old, ok := st.tokens[partKey]; !ok || exp.After(old) {
		st.tokens[partKey] = exp
	}
	if roomKey != "" {
		if old, ok := st.roomRes[room]; !ok || exp.After(old) {
			st.roomRes[room] = exp
		}
	}
	return s, nil
}

// reserveFor reserves a slot of res under key for ttl, waiting for one if
// the Client or ctx asked to, and counts local refusals in Usage.
func (c *Client) reserveFor(ctx context.Context, res quota.Resource, key string, ttl time.Duration) error {
	var err error
	if c.waits(ctx) {
		err = c.ledger.ReserveWait(ctx, res, key, ttl)
	} else {
		err = c.ledger.Reserve(ctx, res, key, ttl)
	}
	var ex *quota.ExceededError
	if errors.As(err, &ex) {
		c.stats.res[res].refused.Add(1)
	}
	return err
}

// checkIdentity validates a Participant identity: 1 to 128 characters.
func checkIdentity(identity string) error {
	n := len([]rune(identity))
	switch {
	case identity == "":
		return &ValidationError{Param: "identity", Reason: "empty"}
	case n > MaxNameLength:
		return &ValidationError{Param: "identity", Value: shorten(identity),
			Reason: fmt.Sprintf("%d characters, Twilio allows at most %d", n, MaxNameLength)}
	}
	return nil
}
