package video

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twilio/twilio-go/client/jwt"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video/internal/acct"
)

// Access token lifetimes (https://www.twilio.com/docs/iam/access-tokens).
const (
	// DefaultTokenTTL is the lifetime of a [Client.JoinToken] token unless
	// [WithTokenTTL] says otherwise: twilio-go's (and Twilio's) default, 1 hour.
	DefaultTokenTTL = time.Hour
	// MaxTokenTTL is Twilio's longest access token lifetime (24 hours);
	// longer ones are refused with 20157/20104, so JoinToken clamps to it.
	MaxTokenTTL = 24 * time.Hour
	// DefaultJoinWindow is how long a JoinToken's reserved slots wait for
	// its holder to connect unless [WithJoinWindow] says otherwise: long
	// enough for a user to open the page and join, short enough that
	// tokens nobody uses do not hold the quota for the token's hour.
	DefaultJoinWindow = 2 * time.Minute
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
// Before minting, it reserves the slots the token may take, as the Client
// knows the account:
//
//   - a Room slot only for a name with no Room in progress and none being
//     created that the Client knows of (through its own CreateRoom, status
//     callbacks or a reconciliation): a token for a Room in progress takes
//     no Room slot;
//   - a Participant slot unless identity is already connected in that Room
//     (Twilio replaces a Participant that connects again with the same
//     identity, error 53205, so the count does not grow) or a token for the
//     same room and identity is already pending: asking again takes no
//     further slot.
//
// The reservations lapse after the join window ([WithJoinWindow], default
// [DefaultJoinWindow]; the token's lifetime if shorter), unless the
// participant-connected (and room-created) callbacks seen by
// [Client.StatusCallbackHandler] turn them into holdings first. Concurrent
// calls for the same room share one reservation; one that fails gives back
// only what no other call relies on. When a quota is used up, JoinToken
// returns the *quota.ExceededError (SourceLocal) and no token, unless the
// Client or ctx asked to wait for capacity ([WithWaitForCapacity],
// [WaitForCapacity]). It never sends a request.
//
// The token is signed with the API key ([WithAPIKey], else [ErrNoAPIKey]);
// identity and room must be 1 to 128 characters (else a *ValidationError).
// It returns ctx's error, taking nothing, when ctx has ended, and
// [ErrClosed] after Close.
func (c *Client) JoinToken(ctx context.Context, room, identity string, opts ...TokenOption) (_ string, err error) {
	ctx, release, err := c.bind(ctx) // nil or ended ctx, closed Client: refused before any slot
	if err != nil {
		return "", err
	}
	defer release()
	defer func() { err = ended(ctx, err) }() // a wait Close ended reports ErrClosed
	cfg := tokenConfig{ttl: DefaultTokenTTL}
	for i, o := range opts {
		if o == nil {
			return "", fmt.Errorf("video: JoinToken: option %d is nil", i)
		}
		if err := o(&cfg); err != nil {
			return "", err
		}
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
	// The slots wait for the holder within the join window only.
	window := min(cfg.ttl, c.joinWindow)
	resExp := now.Add(window)

	m := c.model()
	roomTok, partTok, mineRoom, minePart := m.tokenSlots(c, room, identity)
	ok := false
	defer func() {
		m.tokenDone(ctx, c, partTok, quota.Participants, ok, resExp)
		m.tokenDone(ctx, c, roomTok, quota.Rooms, ok, resExp)
	}()
	// No model lock is held while reserving: a reservation may wait for
	// capacity, which the status callbacks free.
	if err := c.settleTok(ctx, roomTok, mineRoom, quota.Rooms, window); err != nil {
		return "", err
	}
	if err := c.settleTok(ctx, partTok, minePart, quota.Participants, window); err != nil {
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
	signed, err := tok.ToJwt()
	if err != nil {
		return "", fmt.Errorf("video: JoinToken: signing the token: %w", err)
	}
	ok = true
	return signed, nil
}

// settleTok makes the reservation t stands for: this call's own (mine), or
// another call's, waited for; when that one failed, this call tries itself.
func (c *Client) settleTok(ctx context.Context, t *tokRes, mine bool, res quota.Resource, ttl time.Duration) error {
	if t == nil {
		return nil
	}
	m := c.model()
	for !mine {
		m.mu.Lock()
		ready := t.ready
		m.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		m.mu.Lock()
		err := t.err
		if err != nil && t.retry() {
			mine = true // the first call failed: this one reserves in its place
		}
		m.mu.Unlock()
		if !mine && err == nil {
			// Reserved again (the key is the same in every process, so this
			// changes nothing while the reservation is pending, but its
			// lapse): another process may have settled it since, hearing an
			// earlier token's Participant connect.
			return c.reserveTok(ctx, t, res, ttl)
		}
		if !mine {
			return err
		}
	}
	err := c.reserveTok(ctx, t, res, ttl)
	m.mu.Lock()
	t.err = err
	if !t.isReady() {
		close(t.ready)
	}
	m.mu.Unlock()
	return err
}

// reserveTok reserves t's slot for ttl. For a Room, the Rooms' accounting
// reserves for the name and turns the reservation into a Room's holding
// when a token's Participant connects (acct.TokenMinted, acct.Joined).
func (c *Client) reserveTok(ctx context.Context, t *tokRes, res quota.Resource, ttl time.Duration) error {
	if res != quota.Rooms {
		return c.reserve(ctx, res, t.key, ttl)
	}
	_, err := c.rooms().feed(ctx, c, quota.SourceLocal, stamp(c.now()), acct.TokenMinted{Name: t.id, Key: t.key, Gen: t.gen},
		reserving(func(key string) error { return c.reserve(ctx, res, key, ttl) }))
	return err
}

// retry makes a failed reservation ready to be made again by the caller.
// Requires the model's mu held.
func (t *tokRes) retry() bool {
	if t.err == nil {
		return false
	}
	t.err = nil
	t.ready = make(chan struct{})
	return true
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
