package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDemo runs the demo: four tokens are issued and accepted by the
// emulator, the fifth is refused with 503 and no request to Twilio, and is
// issued once someone leaves; the ledger matches the emulator throughout.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, "127.0.0.1:0", false); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"dave   joined standup",
		"erin   token refused: HTTP 503",
		"erin   joined standup",
		"ledger: 1 rooms, 4 participants; Twilio (emulator): 1 rooms, 4 participants, 0 REST requests",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "joined standup"); n != 5 {
		t.Errorf("%d joins, want 5:\n%s", n, got)
	}
}
