package main

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the handlers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemo runs the demo end to end: the emulator's signed callbacks and
// Debugger event reach the handlers, the emptied Room is completed, and the
// reconcile finds the ledger already right.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo end to end in real time (seconds); run without -short")
	}
	var out syncBuffer
	if err := run(&out, "127.0.0.1:0", false); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"debugger: WARNING 53121",
		"callback: room-ended class-0",
		"ledger after joining: 7 rooms, 20 participants",
		"ledger after class-0 emptied: 6 rooms, 17 participants",
		"reconcile: 6 rooms and 17 participants at Twilio, corrected 0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "debugger: WARNING 53121\n") && strings.Count(got, "debugger:") != 1 {
		t.Errorf("more than one Debugger event:\n%s", got)
	}
	// The crossing is reported once, by whichever source saw it first: the
	// hallway's room-created callback, or Twilio's 53121, which reaches the
	// Debugger handler (above) in any case but is never a second event.
	rising := regexp.MustCompile(`threshold: rooms reached 70% \(\d+ of 10, code 53121, reported by (callback|twilio)\)`)
	if n := len(rising.FindAllString(got, -1)); n != 1 || strings.Count(got, "threshold: rooms reached") != 1 {
		t.Errorf("%d rising threshold events for rooms, want 1:\n%s", n, got)
	}
}
