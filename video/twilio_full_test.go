package video_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/memstore"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestAnotherApplicationFillsTheAccount: another application's Rooms fill
// the account, so Twilio refuses the Client's create with 53119, which the
// REST answer and the Debugger event both report. The Client tells it once:
// one rising event at Level 1 with Twilio's numbers (Used = Limit), local
// refusals that name Twilio's 53119 and since when, and, after the other
// application frees Rooms, creates resume within DefaultFullFor (the probe)
// and one falling event ends the episode.
func TestAnotherApplicationFillsTheAccount(t *testing.T) {
	const quotaRooms = 10
	clk := &fakeClock{t: time.Now()}
	var log eventLog
	e := newCBEnv(t, func(o *videotest.Options, e *cbEnv) {
		o.ConcurrentRooms = quotaRooms
		o.DebuggerWebhook = e.alertURL()
	}, nil, video.WithClock(clk), video.WithStore(memStore(t, memstore.WithClock(clk))),
		video.WithLimits(quota.Limits{ConcurrentRooms: quotaRooms, ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}),
		video.WithThresholds(log.add, 1))
	ctx := context.Background()
	other := openapi.NewApiServiceWithClient(e.srv.Client()) // the other application, on the same account
	var theirs []string
	for i := range quotaRooms {
		r, err := other.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName(fmt.Sprintf("other-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		theirs = append(theirs, *r.Sid)
	}

	_, err := e.vq.CreateRoom(ctx, room("mine"))
	var ex *quota.ExceededError
	if !errors.As(err, &ex) || ex.Source != quota.SourceTwilio || ex.Used != quotaRooms || ex.Limit != quotaRooms || ex.Code != quota.CodeRoomsExceeded {
		t.Fatalf("create on a full account: %v; want Twilio's 53119 with %d of %d", err, quotaRooms, quotaRooms)
	}
	e.flush(t) // the Debugger's 53119 arrives too
	refusedAt := clk.Now()
	_, err = e.vq.CreateRoom(ctx, room("mine"))
	if !errors.As(err, &ex) || ex.Source != quota.SourceLocal || ex.FullSince.IsZero() || ex.FullUntil.Sub(refusedAt) > video.DefaultFullFor ||
		!strings.Contains(err.Error(), "Twilio refused with 53119 at") {
		t.Fatalf("create while marked full: %v; want a local refusal naming Twilio's 53119, since and until when", err)
	}
	full := log.count(quota.SourceTwilio, quota.CodeRoomsExceeded)
	if len(full) != 1 || !full[0].Rising || full[0].Level != 1 || full[0].Used != quotaRooms || full[0].Limit != quotaRooms {
		t.Fatalf("full events %+v; want one rising event at Level 1 with %d of %d", full, quotaRooms, quotaRooms)
	}

	// The other application frees half its Rooms: no callback of this
	// Client says so. Within DefaultFullFor the mark lapses and the next
	// create, a probe, goes through and ends the episode.
	for _, sid := range theirs[:5] {
		if _, err := other.UpdateRoom(sid, (&openapi.UpdateRoomParams{}).SetStatus("completed")); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(video.DefaultFullFor)
	if _, err := e.vq.CreateRoom(ctx, room("mine")); err != nil {
		t.Fatalf("create %s after the other application freed Rooms: %v", video.DefaultFullFor, err)
	}
	e.flush(t)
	// Threshold events are delivered on the ledger's goroutine: wait for
	// the falling one (bounded), then check what came.
	for deadline := time.Now().Add(10 * time.Second); ; {
		log.mu.Lock()
		n := len(log.ev)
		log.mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var rising, falling int
	log.mu.Lock()
	for _, ev := range log.ev {
		if ev.Code != quota.CodeRoomsExceeded {
			continue
		}
		if ev.Rising {
			rising++
		} else {
			falling++
			if ev.Level != 1 || ev.Used != 1 {
				t.Errorf("falling event %+v; want Level 1 and this Client's 1 Room", ev)
			}
		}
	}
	log.mu.Unlock()
	if rising != 1 || falling != 1 {
		t.Fatalf("full episode: %d rising and %d falling events, want 1 and 1", rising, falling)
	}
	if u := e.vq.Usage(); u.Rooms.Full {
		t.Fatalf("still marked full after the probe: %+v", u.Rooms)
	}
}
