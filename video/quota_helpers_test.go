package video_test

import (
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/memstore"
)

// memStore returns a memstore.Store made with opts, failing tb if it cannot.
func memStore(tb testing.TB, opts ...memstore.Option) *memstore.Store {
	tb.Helper()
	s, err := memstore.New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// clockFunc is a quota.Clock made of a func.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }
