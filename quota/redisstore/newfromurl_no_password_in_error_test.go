package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/redisstore"
)

// TestNewFromURLErrorHidesPassword: whatever is wrong with a Redis URL (a
// port, a host, an escape, a scheme, a database number, a control
// character, a stray value where the URL should be, an empty one),
// NewFromURL's error names the function and what was wrong, and never
// carries the password:
// net/url's own parse errors quote the whole URL, and a secret pasted in
// place of the URL is no URL at all.
func TestNewFromURLErrorHidesPassword(t *testing.T) {
	const secret = "s3cretpw"
	for _, tc := range []struct{ url, want string }{
		{"redis://:" + secret + "@127.0.0.1:bad/0", `invalid port ":bad"`},
		{"redis://:" + secret + "%zz@127.0.0.1:1/0", "invalid %-escape"},
		{"redis//:" + secret + "@127.0.0.1:1/0", "invalid URL scheme"},
		{"redis://user:" + secret + "@127.0.0.1:1/abc", "invalid database number"},
		{"redis://user:" + secret + "@[::1/0", ""},
		{"redis://user:" + secret + "@127.0.0.1:1/0\n", ""},
		{secret, ""},
		{"", "empty URL, want redis://"},
	} {
		st, err := redisstore.NewFromURL(tc.url, redisstore.WithTimeout(100*time.Millisecond))
		if err == nil {
			_ = st.Close()
			t.Errorf("NewFromURL(%q) = nil error, want one", tc.url)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, secret) || strings.Contains(msg, "%zz") {
			t.Errorf("NewFromURL(%q): error shows the password: %s", tc.url, msg)
		}
		if !strings.HasPrefix(msg, "redisstore: NewFromURL(") || !strings.Contains(msg, tc.want) {
			t.Errorf("NewFromURL(%q): error %q, want it to start with the function and say %q", tc.url, msg, tc.want)
		}
	}
}
