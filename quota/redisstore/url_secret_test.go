package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/redisstore"
)

// TestNewFromURLErrorHidesPassword: whatever is wrong with a Redis URL (a
// port, a host, an escape, a control character, a stray value where the URL
// should be), NewFromURL's error does not carry the password: net/url's own
// parse errors quote the whole URL, and a secret pasted in place of the URL
// is no URL at all.
func TestNewFromURLErrorsShowNoSecret(t *testing.T) {
	for _, u := range []string{
		"redis://:s3cret@127.0.0.1:badport/0",
		"redis://user:s3cret@[::1/0",
		"redis://user:s3cret%ZZ@127.0.0.1:1/0",
		"redis://user:s3cret@127.0.0.1:1/0\n",
		"redis://user:s3cret@127.0.0.1:1/x",
		"s3cret",
	} {
		_, err := redisstore.NewFromURL(u, redisstore.WithTimeout(100*time.Millisecond))
		if err == nil {
			t.Errorf("NewFromURL(%q): no error", u)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "s3cret") || !strings.HasPrefix(msg, "redisstore: NewFromURL") {
			t.Errorf("NewFromURL(%q): %q, want an error from redisstore without the password", u, msg)
		}
	}
}
