package video_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
)

// TestJoinTokensNeverUsedLapseWithinJoinWindow: tokens minted for
// identities that never connect hold the Participant slots for the join
// window only, not for the token's hour: 10,000 fill the quota, the
// 10,001st is refused locally (53206), and one join window later every slot
// is back and a new token is minted. Fake time (testing/synctest).
func TestJoinTokensNeverUsedLapseWithinJoinWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: mints 10,001 tokens")
	}
	synctest.Test(t, func(t *testing.T) {
		const acct = "AC0123456789abcdef0123456789abcdef"
		vq, err := video.New(acct, "0123456789abcdef0123456789abcdef",
			video.WithBaseURL("http://127.0.0.1:1"),
			video.WithAPIKey("SK0123456789abcdef0123456789abcdef", "secret"))
		if err != nil {
			t.Fatal(err)
		}
		defer vq.Close()
		ctx := context.Background()
		for i := range 10_000 {
			if _, err := vq.JoinToken(ctx, "townhall", fmt.Sprintf("user-%d", i)); err != nil {
				t.Fatalf("token %d: %v", i, err)
			}
		}
		var ex *quota.ExceededError
		if _, err := vq.JoinToken(ctx, "townhall", "user-10000"); !errors.As(err, &ex) || ex.Resource != quota.Participants {
			t.Fatalf("token 10,001: %v; want a local *quota.ExceededError for Participants", err)
		}
		if u := vq.Usage().Participants; u.Used != 10_000 {
			t.Fatalf("after 10,000 tokens: %d Participant slots used", u.Used)
		}
		time.Sleep(video.DefaultJoinWindow - time.Second)
		if u := vq.Usage().Participants; u.Used != 10_000 {
			t.Fatalf("a second before the join window ends: %d Participant slots used, want 10,000", u.Used)
		}
		time.Sleep(2 * time.Second)
		if u := vq.Usage(); u.Participants.Used != 0 || u.Rooms.Used != 0 {
			t.Fatalf("after the join window: %d Participant and %d Room slots used, want 0", u.Participants.Used, u.Rooms.Used)
		}
		if _, err := vq.JoinToken(ctx, "townhall", "user-10000"); err != nil {
			t.Fatalf("a token after the join window: %v", err)
		}
	})
}

// TestJoinWindowOption: WithJoinWindow sets the window and refuses less
// than a second, naming itself.
func TestJoinWindowOption(t *testing.T) {
	const acct = "AC0123456789abcdef0123456789abcdef"
	if _, err := video.New(acct, "token", video.WithJoinWindow(time.Millisecond)); err == nil {
		t.Fatal("WithJoinWindow(1ms) accepted")
	} else if ce := (*video.ConfigError)(nil); !errors.As(err, &ce) || ce.Option != "WithJoinWindow" {
		t.Fatalf("WithJoinWindow(1ms): %v; want a *ConfigError naming WithJoinWindow", err)
	}
	synctest.Test(t, func(t *testing.T) {
		vq, err := video.New(acct, "0123456789abcdef0123456789abcdef", video.WithBaseURL("http://127.0.0.1:1"),
			video.WithAPIKey("SK0123456789abcdef0123456789abcdef", "secret"), video.WithJoinWindow(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer vq.Close()
		if _, err := vq.JoinToken(context.Background(), "standup", "alice"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(9 * time.Second)
		if n := vq.Usage().Participants.Used; n != 1 {
			t.Fatalf("within the window: %d used, want 1", n)
		}
		time.Sleep(2 * time.Second)
		if n := vq.Usage().Participants.Used; n != 0 {
			t.Fatalf("after the window: %d used, want 0", n)
		}
	})
}
