package quota_test

import (
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/memstore"
)

// newMem returns a memstore.Store made with opts, failing tb if it cannot.
func newMem(tb testing.TB, opts ...memstore.Option) *memstore.Store {
	tb.Helper()
	s, err := memstore.New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// newLimiter returns a Limiter made with its arguments, failing tb if it cannot.
func newLimiter(tb testing.TB, st backend.Store, account string, l quota.Limits, opts ...quota.Option) *quota.Limiter {
	tb.Helper()
	lim, err := quota.NewLimiter(st, account, l, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return lim
}

// clockFunc is a quota.Clock made of a func.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// closeAll closes each Ledger and waits until its events are all delivered,
// even when a ThresholdFunc was running as Close was called.
func closeAll(ls ...*quota.Ledger) {
	for _, l := range ls {
		l.Close()
		<-quota.Stopped(l)
	}
}
