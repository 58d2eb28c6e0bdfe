package video_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
)

// TestReservationTTL: a reservation nobody commits or releases (the process
// died, the token was never used) gives its slot back after the TTL set by
// WithReservationTTL.
func TestReservationTTL(t *testing.T) {
	const acct = "AC0123456789abcdef0123456789abcdef"
	if _, err := video.New(acct, "token", video.WithReservationTTL(100*time.Millisecond)); err == nil ||
		!strings.Contains(err.Error(), "WithReservationTTL") {
		t.Fatalf("New with a 100ms reservation TTL = %v, want an error naming WithReservationTTL", err)
	}
	vq, err := video.New(acct, "token", video.WithBaseURL("http://127.0.0.1:1"),
		video.WithReservationTTL(time.Second), video.WithLimits(quota.Limits{ConcurrentParticipants: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer vq.Close()
	ctx := context.Background()
	if err := vq.ReserveParticipant(ctx, video.ParticipantReservationKey("standup", "alice")); err != nil {
		t.Fatal(err)
	}
	err = vq.ReserveParticipant(ctx, video.ParticipantReservationKey("standup", "bob"))
	if !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("second reservation = %v, want quota.ErrExceeded", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		err = vq.ReserveParticipant(ctx, video.ParticipantReservationKey("standup", "bob"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lapsed reservation was never given back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
