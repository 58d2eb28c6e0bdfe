package video

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
)

// TestSIDShapeIsNotBehaviour: the model holds SIDs of Twilio's shape as
// bytes and others through aliases, which must not change what it does. Two
// Clients get the same random callbacks and public slot calls, one with
// Room and Participant SIDs in upper, mixed and lower case, the other with
// each SID renamed to a distinct lower-case one; their ledgers must agree
// after every step, and once every Room ended no alias is left.
func TestSIDShapeIsNotBehaviour(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	lower := func(prefix string, i int) string { return fmt.Sprintf("%s%032x", prefix, 0xbeef00+i) }
	var rooms, parts []string
	rename := map[string]string{}
	add := func(pool *[]string, s, prefix string, i int) {
		*pool = append(*pool, s)
		if s == s[:2]+strings.ToLower(s[2:]) {
			rename[s] = s
		} else {
			rename[s] = lower(prefix, 100000+i) // a SID no other one lowers to
		}
	}
	for i := range 6 {
		s := lower("RM", i)
		switch i % 3 {
		case 1:
			s = "RM" + strings.ToUpper(s[2:])
		case 2:
			s = s[:33] + "F"
		}
		add(&rooms, s, "RM", i)
	}
	for i := range 200 {
		s := lower("PA", i)
		switch i % 4 {
		case 1:
			s = "PA" + strings.ToUpper(s[2:])
		case 2:
			s = s[:33] + "A"
		}
		add(&parts, s, "PA", i)
	}
	for seed := range uint64(3) {
		r := rand.New(rand.NewPCG(seed, 9))
		now := base
		clock := func() time.Time { return now }
		var cs [2]*Client
		for i := range cs {
			c, err := New("AC0123456789abcdef0123456789abcdef", "tok", WithBaseURL("http://127.0.0.1:1"), WithClock(clockFunc(clock)),
				WithLimits(quota.Limits{ConcurrentRooms: quota.Unlimited, ConcurrentParticipants: quota.Unlimited}))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cs[i] = c
		}
		h := &handlerConfig{}
		peak, big := 0, 0
		for step := range 6000 {
			// Rooms 0 and 3 get most Participants: past bigRoom.
			ri := r.IntN(len(rooms))
			if r.IntN(2) == 0 {
				ri = 3 * r.IntN(2)
			}
			room, part := rooms[ri], parts[r.IntN(len(parts))]
			now = now.Add(time.Duration(r.IntN(3)) * time.Second)
			ts := now.Add(-time.Duration(r.IntN(3)) * time.Second)
			op := r.IntN(100)
			if op == 75 && r.IntN(3) > 0 {
				op = 74 // Rooms end rarely: they grow past bigRoom
			}
			var errs [2]error
			for i, c := range cs {
				rm, pa := room, part
				if i == 1 {
					rm, pa = rename[room], rename[part]
				}
				e := &RoomEvent{AccountSID: c.AccountSID(), RoomSID: rm, RoomName: "", RoomStatus: "in-progress",
					RoomType: "group", Timestamp: ts, ParticipantIdentity: "id-" + part}
				switch {
				case op < 8:
					e.Event = EventRoomCreated
				case op < 55:
					e.Event, e.ParticipantSID, e.ParticipantStatus = EventParticipantConnected, pa, "connected"
				case op < 75:
					e.Event, e.ParticipantSID, e.ParticipantStatus = EventParticipantDisconnected, pa, "disconnected"
				case op < 76:
					e.Event, e.RoomStatus = EventRoomEnded, "completed"
				case op < 88:
					errs[i] = c.HoldParticipant(ctx, rm, pa)
					continue
				default:
					errs[i] = c.ReleaseParticipant(ctx, pa)
					continue
				}
				_, errs[i] = c.model().applyRoomEvent(ctx, c, e, h)
			}
			where := fmt.Sprintf("seed %d step %d (op %d, %s, %s)", seed, step, op, room, part)
			if (errs[0] == nil) != (errs[1] == nil) {
				t.Fatalf("%s: errors %v and %v", where, errs[0], errs[1])
			}
			for _, res := range []quota.Resource{quota.Rooms, quota.Participants} {
				u0, _, _ := cs[0].ledger.Used(ctx, res)
				u1, _, _ := cs[1].ledger.Used(ctx, res)
				if res == quota.Participants {
					peak = max(peak, u0)
					m := cs[0].model()
					m.mu.Lock()
					big = max(big, len(m.bigIdx))
					m.mu.Unlock()
				}
				if u0 != u1 {
					t.Fatalf("%s: %v used %d with SIDs as given, %d renamed", where, res, u0, u1)
				}
			}
			h0, _ := cs[0].ledger.Holds(ctx, quota.Participants, part)
			h1, _ := cs[1].ledger.Holds(ctx, quota.Participants, rename[part])
			if h0 != h1 {
				t.Fatalf("%s: holds %s %v as given, %v renamed", where, part, h0, h1)
			}
		}
		t.Logf("seed %d: at most %d Participants held, %d Rooms past bigRoom", seed, peak, big)
		if big == 0 {
			t.Fatalf("seed %d: no Room grew past bigRoom", seed)
		}
		for _, room := range rooms {
			for i, c := range cs {
				rm := room
				if i == 1 {
					rm = rename[room]
				}
				if err := c.ReleaseRoom(ctx, rm); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, part := range parts {
			for i, c := range cs {
				pa := part
				if i == 1 {
					pa = rename[part]
				}
				if err := c.ReleaseParticipant(ctx, pa); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, c := range cs {
			if u, _, _ := c.ledger.Used(ctx, quota.Participants); u != 0 {
				t.Errorf("seed %d client %d: %d Participants held after every Room ended", seed, i, u)
			}
			m := c.model()
			m.mu.Lock()
			na, nb := len(m.aliases), len(m.aliasOf)
			m.mu.Unlock()
			if na != 0 || nb != 0 {
				t.Errorf("seed %d client %d: %d aliases (%d by SID) left after every Room ended", seed, i, na, nb)
			}
		}
	}
}
