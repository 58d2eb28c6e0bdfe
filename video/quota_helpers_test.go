package video_test

import (
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
)

// memStore returns a quota.MemoryStore made with opts, failing tb if it cannot.
func memStore(tb testing.TB, opts ...quota.Option) *quota.MemoryStore {
	tb.Helper()
	s, err := quota.NewMemoryStore(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// clockFunc is a quota.Clock made of a func.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }
