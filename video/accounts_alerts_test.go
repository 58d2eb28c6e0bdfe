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

// TestAccountsPollAlertsPerAccount: one Accounts.PollAlerts loop reads each
// subaccount's own Monitor Alerts with that subaccount's credentials: two
// subaccounts that Twilio (the emulator) refused a Room with 53119 each get
// their alert, with their own AccountSid; an alert raised later in one of
// them (a 53206 when a client SDK connects one Participant too many, no
// REST request involved) is found by a later pass, from that account's
// cursor, since the account still holds a Room; an account with a Client
// alive but no work (nothing held, no request sent) is not visited at all,
// nor is the parent.
func TestAccountsPollAlertsPerAccount(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: -1, ReadsPerSecond: -1})
	t.Cleanup(srv.Close)
	subs := subaccounts(t, srv, 3)
	busy, idle := subs[:2], subs[2]
	l := &emulatorLookup{srv: srv, limits: map[string]quota.Limits{}}
	for _, s := range busy {
		// Twilio allows one Room; the Client believes five: the second
		// Room is refused by Twilio, which raises a 53119 alert.
		if err := s.SetLimits(videotest.Limits{ConcurrentRooms: 1, ConcurrentParticipants: 1}); err != nil {
			t.Fatal(err)
		}
		l.limits[s.AccountSID()] = quota.Limits{ConcurrentRooms: 5}
	}
	a := newAccounts(t, srv, l)
	ctx := context.Background()
	for _, s := range busy {
		c, err := a.Client(ctx, s.AccountSID())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateRoom(ctx, room("first")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateRoom(ctx, room("second")); !errors.Is(err, quota.ErrExceeded) {
			t.Fatalf("second Room of %s: %v, want Twilio's 53119", s.AccountSID(), err)
		}
	}
	if _, err := a.Client(ctx, idle.AccountSID()); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(subs, srv) {
		s.ResetStats()
	}

	got := make(chan video.AlertEvent, 16)
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- a.PollAlerts(pctx, 20*time.Millisecond, video.OnAlert(func(ev video.AlertEvent) { got <- ev }))
	}()
	refused, partsRefused := map[string]int{}, map[string]int{}
	deadline := time.After(20 * time.Second)
	receive := func(until func() bool, what string) {
		t.Helper()
		for !until() {
			select {
			case ev := <-got:
				if !ev.Polled {
					t.Errorf("alert %s not marked Polled", ev.SID)
				}
				switch ev.Code {
				case quota.CodeRoomsExceeded:
					refused[ev.AccountSID]++
				case quota.CodeParticipantsExceeded:
					partsRefused[ev.AccountSID]++
				}
			case <-deadline:
				t.Fatalf("%s: 53119 alerts polled by account %v, 53206 %v", what, refused, partsRefused)
			}
		}
	}
	receive(func() bool { return len(refused) == len(busy) }, "the first pass")
	late := busy[0]
	if _, err := late.Connect("first", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := late.Connect("first", "bob"); err == nil {
		t.Fatal("the emulator let a second Participant in past a quota of one")
	}
	receive(func() bool { return partsRefused[late.AccountSID()] == 1 }, "a later pass")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("PollAlerts returned %v after its context ended, want context.Canceled", err)
	}
	if len(partsRefused) != 1 {
		t.Errorf("53206 alerts by account: %v, want one, of %s", partsRefused, late.AccountSID())
	}
	for _, s := range busy {
		if refused[s.AccountSID()] != 1 || s.Stats().MonitorReads == 0 {
			t.Errorf("account %s: %d 53119 alerts, %d reads; want 1 alert read with its own credentials",
				s.AccountSID(), refused[s.AccountSID()], s.Stats().MonitorReads)
		}
	}
	if n := idle.Stats().MonitorReads; n != 0 {
		t.Errorf("the account with no work was read %d times, want 0", n)
	}
	if n := srv.Stats().TotalRequests; n != 0 {
		t.Errorf("the parent account got %d requests, want 0", n)
	}

	// Close ends the loop with ErrClosed; a bad interval is refused.
	go func() { done <- a.PollAlerts(ctx, time.Hour) }()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, video.ErrClosed) {
		t.Errorf("PollAlerts returned %v after Close, want ErrClosed", err)
	}
	if err := a.PollAlerts(ctx, 0); err == nil {
		t.Error("PollAlerts with a zero interval returned nil")
	}
}
