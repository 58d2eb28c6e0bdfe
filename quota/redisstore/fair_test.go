package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
)

// TestTakeTokenAsOrdersTakersAcrossStores: two stores on one Redis (two
// processes) and a bucket of one token a second. A background taker may
// not book a token that a normal taker of the other store could have (a
// normal taker asked within the last second): it is deferred with a lead of
// half an interval, where a normal taker books the same token. A tenant
// that took more than its share books less far ahead than a tenant that is
// behind, which books the next token first.
func TestTakeTokenAsOrdersTakersAcrossStores(t *testing.T) {
	srv := redistest.Start(t)
	prefix := redistest.Prefix(t)
	a := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	b := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	ctx := context.Background()
	r := backend.Rate{PerSecond: 1, Burst: 1}
	take := func(s *redisstore.Store, class backend.Class, maxWait time.Duration, tk backend.Taker) (time.Duration, time.Duration, bool) {
		t.Helper()
		wait, lead, ok, err := s.TakeTokenAs(ctx, "AC1", class, r, maxWait, tk)
		if err != nil {
			t.Fatal(err)
		}
		return wait, lead, ok
	}

	if _, _, ok := take(a, backend.Write, time.Second, backend.Taker{}); !ok {
		t.Fatal("the first token of an idle bucket was refused")
	}
	if wait, lead, ok := take(b, backend.Write, time.Second, backend.Taker{Level: backend.LevelBackground}); ok || lead != 500*time.Millisecond || wait < 900*time.Millisecond {
		t.Errorf("background behind a normal taker: wait %v, lead %v, ok %v; want refused with a lead of 500ms", wait, lead, ok)
	}
	if wait, _, ok := take(b, backend.Write, time.Second, backend.Taker{}); !ok || wait < 900*time.Millisecond {
		t.Errorf("normal: wait %v, ok %v; want the token a second ahead", wait, ok)
	}

	// Tenants, on the read bucket: x takes two tokens, then is a whole
	// token ahead of the bucket's virtual time; y, new, is at it.
	x, y := backend.Taker{Tenant: "x", Weight: 1}, backend.Taker{Tenant: "y", Weight: 1}
	for range 2 {
		if _, _, ok := take(a, backend.Read, 10*time.Second, x); !ok {
			t.Fatal("x refused within its lead")
		}
	}
	if wait, lead, ok := take(b, backend.Read, 10*time.Second, x); ok || lead != time.Second {
		t.Errorf("x ahead of its share: wait %v, lead %v, ok %v; want refused with a lead of 1s", wait, lead, ok)
	}
	if wait, lead, ok := take(b, backend.Read, 10*time.Second, y); !ok || lead != 10*time.Second || wait < 1900*time.Millisecond {
		t.Errorf("y behind: wait %v, lead %v, ok %v; want the next token, 2s ahead, with the whole lead", wait, lead, ok)
	}
}
