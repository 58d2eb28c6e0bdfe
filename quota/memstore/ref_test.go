package memstore_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/memstore"
)

// refLedger is a ledger as plain Go maps of strings, the way MemoryStore
// kept it before it held SIDs compactly: the reference that
// TestMemoryStoreAgainstMaps holds the Store to.
type refLedger struct {
	pending   map[string]int64
	held      map[string]int64
	ended     map[string]int64 // holdings given back -> when (unix ns)
	fullUntil time.Time
}

// isEnded reports whether holding k was given back within backend.EndedTTL.
func (l *refLedger) isEnded(k string, now time.Time) bool {
	at, ok := l.ended[k]
	return ok && now.UnixNano()-at < int64(backend.EndedTTL)
}

func (l *refLedger) used(now time.Time) int {
	n := now.UnixNano()
	for _, m := range []map[string]int64{l.pending, l.held} {
		for k, t := range m {
			if n >= t {
				delete(m, k)
			}
		}
	}
	return len(l.pending) + len(l.held)
}

func refExpiry(now time.Time, ttl time.Duration) int64 {
	if ttl > 0 {
		return now.Add(ttl).UnixNano()
	}
	return math.MaxInt64
}

// memKeys are keys of every shape a ledger may be given: Participant and
// Room SIDs as Twilio writes them, the same in upper and mixed case (which
// must stay distinct keys), other prefixes, near-SIDs and reservation keys.
func memKeys() []string {
	var keys []string
	for i := range 6 {
		hex := fmt.Sprintf("%032x", 0xabcdef0000+i*0x1f3)
		keys = append(keys,
			"PA"+hex, "PA"+strings.ToUpper(hex), "PA"+hex[:31]+strings.ToUpper(hex[31:]),
			"RM"+hex, "RM"+strings.ToUpper(hex), "CA"+hex, "pa"+hex,
			"PA"+hex+"0", "PA"+hex[:31],
			"pending-participant:room/"+hex[28:])
	}
	return append(keys, "", "PA", "x")
}

// TestMemoryStoreAgainstMaps runs random Reserves, Commits, Holds,
// Releases, Syncs (with keep), MarkFulls and clock steps on a MemoryStore
// and on refLedger, with keys of every shape, and compares every answer.
func TestMemoryStoreAgainstMaps(t *testing.T) {
	ctx := context.Background()
	keys := memKeys()
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		now := time.Unix(1_700_000_000, 0)
		s := newMem(t, memstore.WithClock(clockFunc(func() time.Time { return now })))
		accounts := []string{"a", "b", "c"}
		ref := map[string]*refLedger{}
		for _, a := range accounts {
			for _, res := range []backend.Resource{backend.Rooms, backend.Participants} {
				ref[fmt.Sprint(a, res)] = &refLedger{pending: map[string]int64{}, held: map[string]int64{}, ended: map[string]int64{}}
			}
		}
		b := &backend.Bounds{Limit: 12}
		key := func() string { return keys[r.IntN(len(keys))] }
		ttl := func() time.Duration {
			if r.IntN(4) == 0 {
				return 0
			}
			return time.Duration(1+r.IntN(20)) * time.Second
		}
		for step := range 4000 {
			a := accounts[r.IntN(len(accounts))]
			res := backend.Resource(r.IntN(2))
			l := ref[fmt.Sprint(a, res)]
			where := fmt.Sprintf("seed %d step %d (%s %v)", seed, step, a, res)
			switch op := r.IntN(100); {
			case op < 10:
				now = now.Add(time.Duration(r.IntN(4000)) * time.Millisecond)
				if r.IntN(40) == 0 {
					now = now.Add(backend.EndedTTL / 3) // ends lapse too
				}
			case op < 30:
				k, d := key(), ttl()
				c, err := s.Reserve(ctx, a, res, k, b, d)
				used := l.used(now)
				_, p := l.pending[k]
				_, h := l.held[k]
				var want backend.Change
				switch {
				case p:
					l.pending[k] = max(l.pending[k], refExpiry(now, d))
					want = backend.Change{Used: used}
				case h:
					want = backend.Change{Used: used}
				case now.Before(l.fullUntil) || used >= b.Limit:
					want = backend.Change{Used: used, Refused: true}
				default:
					l.pending[k] = refExpiry(now, d)
					want = backend.Change{Used: used + 1, Changed: true}
				}
				if c.Used != want.Used || c.Changed != want.Changed || c.Refused != want.Refused || err != nil {
					t.Fatalf("%s: Reserve(%q) = %+v, %v; want %+v, no error", where, k, c, err, want)
				}
			case op < 42:
				k, hk, d := key(), key(), ttl()
				if r.IntN(2) == 0 {
					hk = k
				}
				c, err := s.Commit(ctx, a, res, k, hk, b, d)
				l.used(now)
				_, wasPending := l.pending[k]
				delete(l.pending, k)
				_, wasHeld := l.held[hk]
				if l.isEnded(hk, now) {
					wasHeld = true // nothing to hold
				} else {
					l.held[hk] = refExpiry(now, d)
				}
				want := backend.Change{Used: l.used(now), Changed: wasPending || !wasHeld}
				if err != nil || c.Used != want.Used || c.Changed != want.Changed {
					t.Fatalf("%s: Commit(%q, %q) = %+v, %v; want %+v", where, k, hk, c, err, want)
				}
			case op < 57:
				k, d := key(), ttl()
				c, err := s.Hold(ctx, a, res, k, b, d)
				l.used(now)
				_, wasHeld := l.held[k]
				if l.isEnded(k, now) {
					wasHeld = true // nothing to hold
				}
				if !wasHeld {
					delete(l.pending, k)
					l.held[k] = refExpiry(now, d)
				}
				want := backend.Change{Used: l.used(now), Changed: !wasHeld}
				if err != nil || c.Used != want.Used || c.Changed != want.Changed {
					t.Fatalf("%s: Hold(%q) = %+v, %v; want %+v", where, k, c, err, want)
				}
			case op < 75:
				k := key()
				c, err := s.Release(ctx, a, res, k, b)
				changed := true
				if _, ok := l.pending[k]; ok {
					delete(l.pending, k)
				} else if _, ok := l.held[k]; ok {
					delete(l.held, k)
					l.ended[k] = now.UnixNano()
					l.fullUntil = time.Time{}
				} else {
					if k != "" {
						l.ended[k] = now.UnixNano()
					}
					changed = false
				}
				// Release reads no clock: what it counts may include
				// lapsed entries, so only Changed is compared.
				if err != nil || c.Changed != changed {
					t.Fatalf("%s: Release(%q) = %+v, %v; want changed %v", where, k, c, err, changed)
				}
			case op < 82:
				var ks []string
				for range r.IntN(8) {
					ks = append(ks, key())
				}
				d := time.Duration(5+r.IntN(20)) * time.Second
				keep := time.Duration(r.IntN(8)) * time.Second
				c, added, removed, err := s.Sync(ctx, a, res, ks, b, d, keep)
				l.used(now)
				want := map[string]bool{}
				wantAdded, wantRemoved := 0, 0
				for _, k := range ks {
					want[k] = true
					if l.isEnded(k, now) {
						continue // an ended SID is never in progress again
					}
					if _, ok := l.held[k]; !ok {
						delete(l.pending, k)
						l.held[k] = refExpiry(now, d)
						wantAdded++
					}
				}
				young := int64(math.MaxInt64)
				if keep > 0 {
					young = now.Add(d - keep).UnixNano()
				}
				for k, exp := range l.held {
					if !want[k] && exp <= young {
						delete(l.held, k)
						l.ended[k] = now.UnixNano()
						wantRemoved++
					}
				}
				l.fullUntil = time.Time{}
				if err != nil || added != wantAdded || removed != wantRemoved || c.Used != l.used(now) {
					t.Fatalf("%s: Sync(%q, keep %v) = %+v, %d, %d, %v; want used %d, %d, %d", where, ks, keep, c, added, removed, err, l.used(now), wantAdded, wantRemoved)
				}
			case op < 85:
				d := time.Duration(r.IntN(5)) * time.Second
				if err := s.MarkFull(ctx, a, res, d); err != nil {
					t.Fatal(err)
				}
				l.fullUntil = now.Add(d)
			default:
				k := key()
				got, err := s.Holds(ctx, a, res, k)
				l.used(now)
				_, p := l.pending[k]
				_, h := l.held[k]
				if err != nil || got != (p || h) {
					t.Fatalf("%s: Holds(%q) = %v, %v; want %v", where, k, got, err, p || h)
				}
			}
			used, full, err := s.Used(ctx, a, res)
			if want := l.used(now); err != nil || used != want || full != now.Before(l.fullUntil) {
				t.Fatalf("%s: Used = %d, %v, %v; want %d, %v", where, used, full, err, want, now.Before(l.fullUntil))
			}
			pending, err := s.Pending(ctx, a, res)
			if err != nil || pending != len(l.pending) {
				t.Fatalf("%s: Pending = %d, %v; want %d", where, pending, err, len(l.pending))
			}
		}
		// Every key of every ledger answers as the reference does.
		for _, a := range accounts {
			for _, res := range []backend.Resource{backend.Rooms, backend.Participants} {
				l := ref[fmt.Sprint(a, res)]
				l.used(now)
				for _, k := range keys {
					got, _ := s.Holds(ctx, a, res, k)
					_, p := l.pending[k]
					_, h := l.held[k]
					if got != (p || h) {
						t.Fatalf("seed %d end (%s %v): Holds(%q) = %v, want %v", seed, a, res, k, got, p || h)
					}
				}
			}
		}
	}
}
