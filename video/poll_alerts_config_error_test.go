package video_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestPollAlertsInvalidArgumentsAreConfigErrors: Client.PollAlerts and
// Accounts.PollAlerts given a nil HandlerOption, an option out of range or
// an interval that is not positive return at once a *video.ConfigError
// naming what is wrong, as the handlers log one.
func TestPollAlertsInvalidArgumentsAreConfigErrors(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: -1, ReadsPerSecond: -1})
	t.Cleanup(srv.Close)
	vq := newClient(t, srv)
	a := newAccounts(t, srv, &emulatorLookup{srv: srv, limits: map[string]quota.Limits{}})
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		every int64 // seconds
		opt   video.HandlerOption
	}{
		{"nil option", 1, nil},
		{"option out of range", 1, video.WithMaxBody(-1)},
		{"zero interval", 0, video.OnAlert(func(video.AlertEvent) {})},
	} {
		for who, poll := range map[string]func(video.HandlerOption, int64) error{
			"Client":   func(o video.HandlerOption, s int64) error { return vq.PollAlerts(ctx, time.Duration(s)*time.Second, o) },
			"Accounts": func(o video.HandlerOption, s int64) error { return a.PollAlerts(ctx, time.Duration(s)*time.Second, o) },
		} {
			err := poll(tc.opt, tc.every)
			var ce *video.ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("%s.PollAlerts with a %s: %v (%T), want a *video.ConfigError", who, tc.name, err, err)
			}
		}
	}
}
