package videotest

import (
	"strings"
	"testing"
	"time"
)

func TestNameMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"hook", "Hook", true},
		{"hook", "hooks", false},
		{"ho*", "HOOK", true},
		{"*ok", "hook", true},
		{"h*o*k", "hook", true},
		{"h*x*k", "hook", false},
		{"a*a", "a", false},
		{"*", "", true},
	} {
		if got := nameMatch(c.pattern, c.name); got != c.want {
			t.Errorf("nameMatch(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestSIDFormat(t *testing.T) {
	s, err := newServer(Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.disp.close()
	for _, p := range []string{"RM", "PA", "NO"} {
		sid := s.newSID(p)
		if !isSID(sid, p) || isSID(sid, "XX") || isSID(sid[:33], p) {
			t.Fatalf("newSID(%q) = %q", p, sid)
		}
	}
	if id := s.requestID(); len(id) != 34 || !isSID(id, "RQ") {
		t.Fatalf("requestID = %q", id)
	}
}

// FuzzParseOverrides: whatever the fragment, the URL requested has none and
// every override stays within Twilio's documented range.
func FuzzParseOverrides(f *testing.F) {
	for _, s := range []string{"http://x/cb", "http://x/cb#rc=3&rp=5xx,ct", "http://x/cb#ct=1&rt=99999&tt=-5&rc=9",
		"http://x/cb#rp=&rc=", "http://x/a#b#c", "#%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, o := parseOverrides(raw)
		if strings.Contains(u, "#") {
			t.Fatalf("%q: requested URL %q keeps a fragment", raw, u)
		}
		if o.rc < 0 || o.rc > 5 || o.ct < 100*time.Millisecond || o.ct > 10*time.Second ||
			o.rt < 100*time.Millisecond || o.rt > 15*time.Second || o.tt < 100*time.Millisecond || o.tt > 15*time.Second {
			t.Fatalf("%q: overrides out of range: %+v", raw, o)
		}
	})
}
