package quota_test

import (
	"context"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
)

// TestFullEpisodeEndsWhenAnotherProcessSeesRoom: two Ledgers of one account
// on one store, as two processes behind one status callback URL. Twilio
// refused a Room to A (MarkFull: A's episode opens, one rising event); the
// callback that a Room ended reaches B. A source has shown room: the
// account's reservations are admitted again (A's too, not only after the
// mark lapses), and A's episode ends with its falling event, since A is
// the process whose threshold funcs were told the account is full.
func TestFullEpisodeEndsWhenAnotherProcessSeesRoom(t *testing.T) {
	st := newMem(t)
	ctx := context.Background()
	events := make(chan quota.Event, 16)
	a, err := quota.NewLedger(st, acct, quota.Limits{ConcurrentRooms: 2}, quota.WithThresholds(func(e quota.Event) { events <- e }, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := quota.NewLedger(st, acct, quota.Limits{ConcurrentRooms: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Hold(ctx, quota.Rooms, "RM1", quota.SourceLocal); err != nil {
		t.Fatal(err)
	}
	if err := b.Hold(ctx, quota.Rooms, "RM2", quota.SourceLocal); err != nil {
		t.Fatal(err)
	}
	next := func(what string) (quota.Event, bool) {
		select {
		case e := <-events:
			return e, true
		case <-time.After(5 * time.Second): // a bound for a broken build, not a timing assert
			t.Errorf("no event within 5s: want %s", what)
			return quota.Event{}, false
		}
	}
	if err := a.MarkFull(ctx, quota.Rooms, 10*time.Second, quota.SourceTwilio, time.Now()); err != nil {
		t.Fatal(err)
	}
	if e, ok := next("the rising event of the full episode"); ok && (!e.Rising || e.Code != quota.CodeRoomsExceeded) {
		t.Fatalf("after MarkFull: %+v, want the rising event with code 53119", e)
	}
	if err := b.Release(ctx, quota.Rooms, "RM2", quota.SourceCallback); err != nil {
		t.Fatal(err)
	}
	if err := a.Reserve(ctx, quota.Rooms, "r", time.Minute); err != nil {
		t.Errorf("A's Reserve after B heard a Room end (1 of 2 in use): %v, want it admitted", err)
	}
	for {
		e, ok := next("A's falling event ending the full episode")
		if !ok {
			break
		}
		if !e.Rising && e.Code == quota.CodeRoomsExceeded {
			break
		}
	}
	if since := a.FullSince(quota.Rooms); !since.IsZero() {
		t.Errorf("A's full episode still open (since %v) after B heard a Room end", since)
	}
}
