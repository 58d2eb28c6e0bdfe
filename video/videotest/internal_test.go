package videotest

import "testing"

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
