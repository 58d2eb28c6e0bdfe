package video

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/videoquota/videoquota/quota"
)

// WaitBackground waits until the goroutines completing empty Rooms
// ([WithCloseEmptyRooms]) are idle. It exists for the package's tests.
func WaitBackground(c *Client) { c.model().closer.wait() }

func TestNextPage(t *testing.T) {
	s := func(v string) *string { return &v }
	cases := []struct {
		in          *string
		token, page string
		ok          bool
	}{
		{nil, "", "", false},
		{s(""), "", "", false},
		{s("https://video.twilio.com/v1/Rooms?Status=in-progress&PageSize=1000&Page=1&PageToken=PT1000"), "PT1000", "1", true},
		{s("::bad"), "", "", false},
		{s("https://video.twilio.com/v1/Rooms?PageSize=50"), "", "", false},
	}
	for _, c := range cases {
		tok, page, ok := nextPage(c.in)
		if tok != c.token || page != c.page || ok != c.ok {
			t.Errorf("nextPage(%v) = %q %q %v, want %q %q %v", c.in, tok, page, ok, c.token, c.page, c.ok)
		}
	}
}

func TestDedupeBounded(t *testing.T) {
	var d dedupe
	d.init(3)
	for _, k := range []string{"a", "b", "c"} {
		if !d.add(k) {
			t.Fatalf("%s not new", k)
		}
	}
	if d.add("a") {
		t.Fatal("duplicate a accepted")
	}
	d.add("d") // evicts a, the oldest
	if d.has("a") || !d.has("b") || !d.has("c") || !d.has("d") || d.len() != 3 {
		t.Fatalf("after eviction: has a %v, b %v, c %v, d %v, len %d", d.has("a"), d.has("b"), d.has("c"), d.has("d"), d.len())
	}
}

// TestDedupeAgainstMap drives a dedupe and a reference (a FIFO and a Go
// map) with hashes from a small space, so that probe chains run long and
// wrap, through many evictions, and compares every answer.
func TestDedupeAgainstMap(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 3, 100, 1000} {
		var d dedupe
		d.init(size)
		var fifo []uint64
		ref := map[uint64]bool{}
		r := rand.New(rand.NewPCG(uint64(size), 2))
		for step := range 50000 {
			h := r.Uint64N(uint64(3*size)) * 0x9e3779b97f4a7c15 >> 3 // clustered low bits
			if r.IntN(4) == 0 {
				h = uint64(len(d.slots) - 1 - r.IntN(4)) // the table's last slots: chains wrap
			}
			if got, want := d.hasHash(h), ref[h]; got != want {
				t.Fatalf("size %d step %d: hasHash(%#x) = %v, want %v", size, step, h, got, want)
			}
			if got, want := d.addHash(h), !ref[h]; got != want {
				t.Fatalf("size %d step %d: addHash(%#x) = %v, want %v", size, step, h, got, want)
			}
			if !ref[h] {
				if len(fifo) == size {
					delete(ref, fifo[0])
					fifo = fifo[1:]
				}
				fifo = append(fifo, h)
				ref[h] = true
			}
			if d.len() != len(ref) {
				t.Fatalf("size %d step %d: len %d, want %d", size, step, d.len(), len(ref))
			}
		}
	}
}

// TestReconcileReadShare: the local budget is the configured share of the
// Client's read quota, kept across calls and re-rated when changed.
func TestReconcileReadShare(t *testing.T) {
	c, err := New("AC0123456789abcdef0123456789abcdef", "tok", WithBaseURL("http://127.0.0.1:1"),
		WithLimits(quota.Limits{ReadsPerSecond: 80}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := c.model()
	lim := m.readBudget(&m.reconLim, c.limits.ReadsPerSecond*DefaultReconcileShare)
	if lim.Limit() != rate.Limit(8) || lim.Burst() != 1 {
		t.Fatalf("default budget %v/%d, want 8/s burst 1", lim.Limit(), lim.Burst())
	}
	if again := m.readBudget(&m.reconLim, 80*0.25); again != lim || again.Limit() != 20 {
		t.Fatalf("re-rated budget %v (same limiter %v), want 20/s", again.Limit(), again == lim)
	}
	if _, err := c.Reconcile(context.Background(), WithReadShare(0)); err == nil {
		t.Fatal("WithReadShare(0) accepted")
	}
}

// TestPruneForgetsEnded: ended Rooms and Participants are forgotten after
// the retention, live ones never; names of ended Rooms and expired
// JoinToken reservations go too; each callback's pruning looks at a
// bounded number of entries, and a backlog is worked off over later ones.
func TestPruneForgetsEnded(t *testing.T) {
	var s model
	s.init()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s.newest = stamp(now) // the callbacks' clock
	old := stamp(now.Add(-DefaultCallbackRetention - 1))
	const oldRoom, liveRoom = "RM0000000000000000000000000000001d", "RM0000000000000000000000000000001e"
	s.endRoomTrackLocked(roomTrack{sid: oldRoom}, old)
	s.putRoom(roomTrack{sid: liveRoom})
	s.nameLocked("old-name", oldRoom)
	s.nameLocked("live-name", liveRoom)
	s.trackPartLocked("", "gone", endedAt(old), 0)
	s.trackPartLocked("", "recent", endedAt(stamp(now.Add(-1))), 0)
	tok := &tokRes{id: "expired", room: "r", exp: now}
	s.partToks["expired"] = tok
	s.tokQ.push(tok)
	s.toksOf["r"] = 1
	s.pruneLocked()
	if s.rooms.Has(oldRoom) {
		t.Error("old ended room kept")
	}
	if !s.rooms.Has(liveRoom) {
		t.Error("live room forgotten")
	}
	if _, ok := s.parts["gone"]; ok {
		t.Error("old participant kept")
	}
	if _, ok := s.parts["recent"]; !ok {
		t.Error("recent participant forgotten")
	}
	if _, ok := s.nameSIDLocked("old-name"); ok {
		t.Error("name of an ended room kept")
	}
	if sid, _ := s.nameSIDLocked("live-name"); sid != liveRoom {
		t.Error("name of a live room dropped")
	}
	if len(s.partToks) != 0 || len(s.toksOf) != 0 {
		t.Error("expired token reservation kept")
	}

	// A backlog: each pruning forgets at most pruneEnds; an end queued
	// behind a later one waits for it.
	var b model
	b.init()
	b.newest = stamp(now)
	const backlog = 1000
	for i := range backlog {
		b.trackPartLocked("", fmt.Sprintf("PA%d", i), endedAt(old), 0)
	}
	b.trackPartLocked("", "recent", endedAt(stamp(now.Add(-1))), 0)
	b.trackPartLocked("", "behind", endedAt(old), 0)
	b.pruneLocked()
	if got := len(b.parts); got != backlog+2-pruneEnds {
		t.Fatalf("after one pruning %d participants, want %d", got, backlog+2-pruneEnds)
	}
	for range backlog / pruneEnds {
		b.pruneLocked()
	}
	if len(b.parts) != 2 {
		t.Fatalf("after the backlog: %d participants, want recent and the one behind it", len(b.parts))
	}
	b.newest = stamp(now.Add(DefaultCallbackRetention))
	b.pruneLocked()
	if len(b.parts) != 0 {
		t.Fatalf("after the retention: %d participants left", len(b.parts))
	}
}

// TestMarkKeepsTimes: a track's mark keeps its time exact, in order, and
// apart from whether the SID ended, for the years RFC 3339 can write and
// for fake clocks starting at the zero time.
func TestMarkKeepsTimes(t *testing.T) {
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		{}, // year 1
		time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Unix(0, 0),
		time.Date(2026, 11, 26, 10, 0, 0, 1000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
	}
	for i, tm := range times {
		at := stamp(tm)
		if !time.UnixMicro(at).Equal(tm) {
			t.Errorf("stamp(%s) = %d, which is %s", tm, at, time.UnixMicro(at))
		}
		for _, m := range []mark{inProgress(at), endedAt(at)} {
			if m.at() != at {
				t.Errorf("%s: mark %d keeps %d, want %d", tm, m, m.at(), at)
			}
		}
		if inProgress(at).ended() || !endedAt(at).ended() {
			t.Errorf("%s: ended bit wrong", tm)
		}
		if i > 0 {
			prev := stamp(times[i-1])
			if !(prev < at && inProgress(prev).at() < endedAt(at).at() && endedAt(prev).at() < inProgress(at).at()) {
				t.Errorf("%s and %s: order lost", times[i-1], tm)
			}
		}
	}
}

// TestIndexForgetsWhatOnlyItKnew: Participants held through the public
// methods, which the callbacks never told of, leave no entry behind once
// released, by Participant or by Room.
func TestIndexForgetsWhatOnlyItKnew(t *testing.T) {
	c, err := New("AC0123456789abcdef0123456789abcdef", "tok", WithBaseURL("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	const room, p1, p2 = "RM0123456789abcdef0123456789abcdef", "PA0123456789abcdef0123456789abcdef", "PAfedcba9876543210fedcba9876543210"
	st := c.model()
	sizes := func() (int, int) {
		st.mu.Lock()
		defer st.mu.Unlock()
		n := len(st.parts)
		for _, r := range st.rooms.All() {
			n += len(r.parts)
		}
		return st.rooms.Len(), n
	}
	for _, p := range []string{p1, p2} {
		if err := c.HoldParticipant(ctx, room, p); err != nil {
			t.Fatal(err)
		}
	}
	if r, p := sizes(); r != 1 || p != 2 {
		t.Fatalf("after two holds: %d rooms, %d participants indexed, want 1 and 2", r, p)
	}
	if err := c.ReleaseParticipant(ctx, p1); err != nil {
		t.Fatal(err)
	}
	if r, p := sizes(); r != 1 || p != 1 {
		t.Fatalf("after one release: %d rooms, %d participants indexed, want 1 and 1", r, p)
	}
	if err := c.ReleaseRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	// The Room is remembered ended (so that a late room-created for it is
	// stale) until pruned; its Participants, which only the index knew, are
	// forgotten.
	if r, p := sizes(); r != 1 || p != 0 {
		t.Fatalf("after ReleaseRoom: %d rooms, %d participants left, want the ended Room only", r, p)
	}
	if used, _, err := c.ledger.Used(ctx, quota.Participants); err != nil || used != 0 {
		t.Fatalf("participants used %d (%v), want 0", used, err)
	}
}

// TestPaceFixedClock: on a Client clock that does not move, reads are still
// paced one interval of the rate apart, not ever further apart.
func TestPaceFixedClock(t *testing.T) {
	fixed := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	c, err := New("AC0123456789abcdef0123456789abcdef", "tok", WithBaseURL("http://127.0.0.1:1"),
		WithClock(clockFunc(func() time.Time { return fixed })))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := c.model()
	var waits []time.Duration
	m.sleepFn = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}
	lim := rate.NewLimiter(8, 1)
	for range 5 {
		if err := m.pace(context.Background(), c, lim); err != nil {
			t.Fatal(err)
		}
	}
	if len(waits) != 4 {
		t.Fatalf("%d waits for 5 reads, want 4 (the first goes at once)", len(waits))
	}
	for i, d := range waits {
		if d != time.Second/8 {
			t.Fatalf("wait %d: %s, want %s", i, d, time.Second/8)
		}
	}
}
