package redisstore_test

import (
	"strings"
	"testing"

	"github.com/videoquota/videoquota/quota/redisstore"
)

// TestNewFromURLErrorHidesPassword checks that the error for a url NewFromURL
// cannot use never shows the password in it, whatever is wrong with the url:
// net/url's own errors quote the whole url.
func TestNewFromURLErrorHidesPassword(t *testing.T) {
	const secret = "s3cretpw"
	for _, tc := range []struct{ url, want string }{
		{"redis://:" + secret + "@127.0.0.1:bad/0", `invalid port ":bad"`},
		{"redis://:" + secret + "%zz@127.0.0.1:1/0", "invalid %-escape"},
		{"redis//:" + secret + "@127.0.0.1:1/0", "invalid URL scheme"},
		{"redis://user:" + secret + "@127.0.0.1:1/abc", "invalid database number"},
	} {
		st, err := redisstore.NewFromURL(tc.url)
		if err == nil {
			_ = st.Close()
			t.Fatalf("NewFromURL(%q) = nil error, want one", tc.url)
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
