package video_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/backoff"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestReservationTTL: a reservation nobody commits or releases (the process
// died, the token was never used) gives its slot back after the TTL set by
// WithReservationTTL.
func TestReservationTTL(t *testing.T) {
	t.Parallel()
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

// TestConfigErrors: New and each option reject bad values with a
// *video.ConfigError naming the option, and build no Client.
func TestConfigErrors(t *testing.T) {
	const acct = "AC0123456789abcdef0123456789abcdef"
	cases := []struct {
		option string
		sid    string
		opts   []video.Option
	}{
		{"New", "AC123", nil},
		{"New", acct, []video.Option{nil}},
		{"WithAPIKey", acct, []video.Option{video.WithAPIKey("SK1", "secret")}},
		{"WithAPIKey", acct, []video.Option{video.WithAPIKey("SK0123456789abcdef0123456789abcdef", "")}},
		{"WithBaseURL", acct, []video.Option{video.WithBaseURL("ftp://127.0.0.1")}},
		{"WithBaseURL", acct, []video.Option{video.WithBaseURL("http://127.0.0.1/v1")}},
		{"WithLimits", acct, []video.Option{video.WithLimits(quota.Limits{ConcurrentRooms: -5})}},
		{"WithThresholds", acct, []video.Option{video.WithThresholds(nil)}},
		{"WithThresholds", acct, []video.Option{video.WithThresholds(func(quota.Event) {}, 1.5)}},
		{"WithHTTPClient", acct, []video.Option{video.WithHTTPClient(nil)}},
		{"WithAttemptTimeout", acct, []video.Option{video.WithAttemptTimeout(-time.Second)}},
		{"WithRetry", acct, []video.Option{video.WithRetry(backoff.Policy{MaxRetries: -2})}},
		{"WithStore", acct, []video.Option{video.WithStore(nil)}},
		{"WithClock", acct, []video.Option{video.WithClock(nil)}},
		{"WithMaxInFlight", acct, []video.Option{video.WithMaxInFlight(0)}},
		{"WithConcurrencyHint", acct, []video.Option{video.WithConcurrencyHint(-1)}},
		{"WithReservationTTL", acct, []video.Option{video.WithReservationTTL(time.Millisecond)}},
		{"WithMeterProvider", acct, []video.Option{video.WithMeterProvider(nil)}},
	}
	for _, tc := range cases {
		vq, err := video.New(tc.sid, "token", tc.opts...)
		var ce *video.ConfigError
		if !errors.As(err, &ce) || ce.Option != tc.option || ce.Err == nil {
			t.Errorf("%s: got %v (%T); want a *video.ConfigError naming %s", tc.option, err, err, tc.option)
		} else if !strings.HasPrefix(err.Error(), "video: "+tc.option+": ") || strings.Count(err.Error(), "video: ") != 1 {
			t.Errorf("%s: message %q; want one \"video: %s: \" prefix", tc.option, err, tc.option)
		}
		if vq != nil {
			t.Errorf("%s: New returned a Client with its error", tc.option)
			vq.Close()
		}
	}
}

// TestAttemptTimeout: a WithHTTPClient client without a Timeout keeps the
// per-attempt bound (WithAttemptTimeout here, DefaultTimeout by default),
// and WithAttemptTimeout(0) removes it.
func TestAttemptTimeout(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{Faults: videotest.Faults{Latency: time.Hour}})
	t.Cleanup(srv.Close)
	bounded, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithHTTPClient(&http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}),
		video.WithAttemptTimeout(50*time.Millisecond), video.WithRetry(backoff.NoRetry()))
	if err != nil {
		t.Fatal(err)
	}
	defer bounded.Close()
	if _, err := bounded.FetchRoom(context.Background(), "standup"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an attempt past WithAttemptTimeout: got %v; want context.DeadlineExceeded", err)
	}

	unbounded, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithHTTPClient(&http.Client{}), video.WithAttemptTimeout(0), video.WithRetry(backoff.NoRetry()))
	if err != nil {
		t.Fatal(err)
	}
	defer unbounded.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := unbounded.FetchRoom(ctx, "standup")
		done <- err
	}()
	waitForStack(t, "persistConn).roundTrip", "FetchRoom")
	select {
	case err := <-done:
		t.Fatalf("an unbounded attempt ended by itself: %v", err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v; want context.Canceled", err)
	}
}
