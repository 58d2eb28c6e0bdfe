package video

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	openapi "github.com/twilio/twilio-go/rest/video/v1"
)

// FuzzTwilioCode feeds arbitrary response bodies to the error-body parser
// the transport uses on every failed response.
func FuzzTwilioCode(f *testing.F) {
	f.Add([]byte(`{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}`))
	f.Add([]byte(`{"code":"x"}`))
	f.Add([]byte(`<html>502 Bad Gateway</html>`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		code := twilioCode(body)
		// encoding/json matches keys case-insensitively and decodes escapes.
		if code != 0 && !bytes.Contains(bytes.ToLower(body), []byte("code")) && !bytes.Contains(body, []byte(`\u`)) {
			t.Fatalf("code %d from a body without a code field: %q", code, body)
		}
	})
}

// FuzzValidateName checks the SID-or-name validation used for every path
// parameter: it never accepts what would break the URL path, never panics,
// and its error never grows with the input.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"", "RM0123456789abcdef0123456789abcdef", "RMzz", "my-room", "a/b", "a?b", "x#", strings.Repeat("é", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkSIDOrName("RoomSid", "RM", s)
		if err == nil {
			if s == "" || strings.ContainsAny(s, "/?#") || utf8.RuneCountInString(s) > MaxNameLength {
				t.Fatalf("accepted %q", s)
			}
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Param != "RoomSid" {
			t.Fatalf("got %v; want a *ValidationError for RoomSid", err)
		}
		if len(err.Error()) > 400 {
			t.Fatalf("error message of %d bytes for a %d-byte input", len(err.Error()), len(s))
		}
	})
}

// FuzzValidateCreateRoom checks that validation accepts only values inside
// Twilio's documented ranges.
func FuzzValidateCreateRoom(f *testing.F) {
	f.Add("group", 50, 5, 5, 14400, "POST", "room")
	f.Add("go", 3, 0, 61, 599, "PUT", "")
	f.Fuzz(func(t *testing.T, typ string, maxP, empty, unused, dur int, method, name string) {
		p := (&openapi.CreateRoomParams{}).SetType(typ).SetMaxParticipants(maxP).SetEmptyRoomTimeout(empty).
			SetUnusedRoomTimeout(unused).SetMaxParticipantDuration(dur).SetStatusCallbackMethod(method).SetUniqueName(name)
		err := validateCreateRoom(p)
		max, known := maxParticipantsByType[typ]
		ok := known && maxP >= 1 && maxP <= max && empty >= 1 && empty <= 60 && unused >= 1 && unused <= 60 &&
			dur >= 600 && dur <= 86400 && (strings.EqualFold(method, "GET") || strings.EqualFold(method, "POST")) &&
			checkName("UniqueName", name) == nil && !validSID("RM", name)
		if ok != (err == nil) {
			t.Fatalf("validateCreateRoom(%q, %d, %d, %d, %d, %q, %q) = %v", typ, maxP, empty, unused, dur, method, name, err)
		}
	})
}

// TestGeneratedUpToDate regenerates api_gen.go and compares it with the
// checked-in file, so a twilio-go upgrade cannot silently leave methods out.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	out := filepath.Join(t.TempDir(), "api_gen.go")
	cmd := exec.Command("go", "run", "./internal/gen", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("api_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("api_gen.go is stale: run go generate ./video")
	}
}
