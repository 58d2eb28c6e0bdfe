package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestQuickstart runs the demo against the embedded emulator and checks what
// it claims: reads paced without a 429, Rooms past the quota refused locally,
// the 70% threshold reached and left, and no 20429 anywhere.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo in real time (reads paced at 80/s, seconds); run without -short")
	}
	t.Setenv("TWILIO_ACCOUNT_SID", "")
	t.Setenv("TWILIO_AUTH_TOKEN", "")
	var out bytes.Buffer
	sum, err := run(&out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if sum.Emulator == nil {
		t.Fatal("did not use the emulator")
	}
	if sum.Created != 25 || sum.Refused != 15 {
		t.Errorf("created %d, refused %d; want 25 and 15 (quota 25, 40 attempts)", sum.Created, sum.Refused)
	}
	if sum.RateErrors != 0 || sum.Usage.Throttled != 0 || sum.Emulator.Throttled != 0 {
		t.Errorf("rate errors %d, 429s seen %d, 429s sent %d; want none", sum.RateErrors, sum.Usage.Throttled, sum.Emulator.Throttled)
	}
	if sum.Emulator.RoomsPeak != 25 || sum.Usage.Rooms.Used != 0 {
		t.Errorf("emulator peak %d, rooms in use after %d; want 25 and 0", sum.Emulator.RoomsPeak, sum.Usage.Rooms.Used)
	}
	for _, want := range []string{"reached 70% of the quota", "fell under 70% of the quota", "refused locally without a request"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
