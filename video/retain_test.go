package video

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"unsafe"
	"weak"

	"github.com/videoquota/videoquota/quota"
)

// bodySID returns sid as a slice of a fresh 1 MiB buffer, as a form value
// parsed from a request body shares the body's memory, and a weak pointer
// to that buffer.
func bodySID(sid string) (string, weak.Pointer[byte]) {
	buf := make([]byte, 1<<20)
	copy(buf[1000:], sid)
	return unsafe.String(&buf[1000], len(sid)), weak.Make(&buf[0])
}

// TestReleaseRoomKeepsNoCallerMemory: ReleaseRoom remembers the Room
// ended (until pruned) under a SID of its own, not the caller's string,
// which may share a request body's memory, whether or not the model knew
// the Room.
func TestReleaseRoomKeepsNoCallerMemory(t *testing.T) {
	c, err := New("AC0123456789abcdef0123456789abcdef", "tok", WithBaseURL("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	const known, unknown = "RM0123456789abcdef0123456789abcdef", "RMfedcba9876543210fedcba9876543210"
	if err := c.HoldRoom(ctx, strings.Clone(known)); err != nil {
		t.Fatal(err)
	}
	for _, sid := range []string{known, unknown} {
		s, body := bodySID(sid)
		if err := c.ReleaseRoom(ctx, s); err != nil {
			t.Fatal(err)
		}
		s = ""
		runtime.GC()
		runtime.GC()
		if body.Value() != nil {
			t.Errorf("ReleaseRoom(%s) keeps the caller's buffer alive", sid)
		}
	}
	m := c.model()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ends.len() != 2 {
		t.Fatalf("%d ended SIDs remembered, want 2", m.ends.len())
	}
}

// TestHoldParticipantKeepsNoCallerMemory: a Participant held through
// HoldParticipant is kept under SIDs of the Client's own, not the
// caller's strings, which may share a request body's memory, for as long
// as it is held.
func TestHoldParticipantKeepsNoCallerMemory(t *testing.T) {
	c, err := New("AC0123456789abcdef0123456789abcdef", "tok", WithBaseURL("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	const room = "RM0123456789abcdef0123456789abcdef"
	for _, part := range []string{"PA0123456789abcdef0123456789abcdef", "PA0123456789ABCDEF0123456789ABCDEF"} {
		r, roomBody := bodySID(room)
		p, partBody := bodySID(part)
		if err := c.HoldParticipant(ctx, r, p); err != nil {
			t.Fatal(err)
		}
		r, p = "", ""
		runtime.GC()
		runtime.GC()
		if roomBody.Value() != nil || partBody.Value() != nil {
			t.Errorf("HoldParticipant(%s, %s) keeps the caller's buffers alive: Room %v, Participant %v",
				room, part, roomBody.Value() != nil, partBody.Value() != nil)
		}
		if ok, err := c.ledger.Holds(ctx, quota.Participants, part); err != nil || !ok {
			t.Fatalf("%s not held (%v)", part, err)
		}
	}
}
