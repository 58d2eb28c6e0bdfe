package memstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/memstore"
	"github.com/videoquota/videoquota/quota/storetest"
)

// newMem returns a Store made with opts, failing tb if it cannot.
func newMem(tb testing.TB, opts ...memstore.Option) *memstore.Store {
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

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) backend.Store { return newMem(t) })
}

func TestInspector(t *testing.T) {
	storetest.RunInspector(t, func(t *testing.T) backend.Store { return newMem(t) })
}

func TestOptionErrors(t *testing.T) {
	for i, opt := range []memstore.Option{memstore.WithClock(nil), nil} {
		if _, err := memstore.New(opt); err == nil || !strings.HasPrefix(err.Error(), "memstore: ") {
			t.Errorf("option %d: %v, want a memstore: error", i, err)
		}
	}
}

func TestLimitsConformance(t *testing.T) {
	s := newMem(t)
	storetest.RunLimits(t, func(t *testing.T) (backend.Store, backend.Store) { return s, s })
}
