package sidmap

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const s = "RM0123456789abcdef0123456789ABCDEF"
	id, ok := Parse("RM", s)
	if !ok {
		t.Fatalf("Parse(%q) failed", s)
	}
	if got, want := id.String("RM"), strings.ToLower(s[2:]); got != "RM"+want {
		t.Fatalf("String = %q, want RM%s", got, want)
	}
	if _, ok := Exact("RM", s); ok {
		t.Fatalf("Exact accepted upper-case hex %q", s)
	}
	for _, bad := range []string{"", "RM", "PA0123456789abcdef0123456789abcdef", "RM0123456789abcdef0123456789abcdeg",
		"RM0123456789abcdef0123456789abcde", "RM0123456789abcdef0123456789abcdef0"} {
		if _, ok := Parse("RM", bad); ok {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// FuzzParse: every SID that parses exactly prints back as itself, and one
// that parses in either case prints back as its lower-case form.
func FuzzParse(f *testing.F) {
	f.Add("RM0123456789abcdef0123456789abcdef")
	f.Add("RM0123456789ABCDEF0123456789abcdef")
	f.Fuzz(func(t *testing.T, s string) {
		if id, ok := Exact("RM", s); ok && id.String("RM") != s {
			t.Fatalf("Exact(%q).String() = %q", s, id.String("RM"))
		}
		if id, ok := Parse("RM", s); ok && id.String("RM") != "RM"+strings.ToLower(s[2:]) {
			t.Fatalf("Parse(%q).String() = %q", s, id.String("RM"))
		}
	})
}

func randID(r *rand.Rand, space int) ID {
	var id ID
	binary.LittleEndian.PutUint64(id[:], uint64(r.IntN(space)))
	return id
}

// TestTableAgainstMap runs random Sets, Deletes and deleting loops on a
// Table and a Go map side by side, from empty to thousands of entries and
// back, and compares them after every step.
func TestTableAgainstMap(t *testing.T) {
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 1))
		var tab Table[ID, int]
		ref := map[ID]int{}
		space := 4000
		for step := range 60000 {
			id := randID(r, space)
			switch op := r.IntN(100); {
			case op < 55-25*(step/30000): // grow, then shrink
				tab.Set(id, step)
				ref[id] = step
			case op < 98:
				_, had := ref[id]
				v, ok := tab.Delete(id)
				if ok != had || ok && v != ref[id] {
					t.Fatalf("seed %d step %d: Delete = %d, %v; want %d, %v", seed, step, v, ok, ref[id], had)
				}
				delete(ref, id)
			default: // a loop that deletes some of what it is given and changes the rest
				seen := map[ID]bool{}
				for id, v := range tab.All() {
					if seen[id] {
						t.Fatalf("seed %d step %d: %x yielded twice", seed, step, id)
					}
					seen[id] = true
					if *v%3 == 0 {
						tab.Delete(id)
						delete(ref, id)
					} else {
						*v++
						ref[id]++
					}
				}
				if len(seen) != len(ref)+countDeleted(seen, ref) {
					t.Fatalf("seed %d step %d: loop saw %d entries", seed, step, len(seen))
				}
			}
			if tab.Len() != len(ref) {
				t.Fatalf("seed %d step %d: Len %d, want %d", seed, step, tab.Len(), len(ref))
			}
			if step%997 == 0 {
				for id, want := range ref {
					if got, ok := tab.Get(id); !ok || got != want {
						t.Fatalf("seed %d step %d: Get(%x) = %d, %v; want %d", seed, step, id, got, ok, want)
					}
				}
				if _, ok := tab.Get(ID{15: 1}); ok {
					t.Fatalf("seed %d step %d: Get of an absent ID found it", seed, step)
				}
			}
		}
	}
}

func countDeleted(seen map[ID]bool, ref map[ID]int) int {
	n := 0
	for id := range seen {
		if _, ok := ref[id]; !ok {
			n++
		}
	}
	return n
}

func sid(i int) string { return fmt.Sprintf("RM%032x", i) }

// TestMapKeys: SID-shaped keys of the Map's prefix are held as IDs, every
// other key (another prefix, upper-case hex, any string) as itself, and
// each is found, deleted and yielded as given.
func TestMapKeys(t *testing.T) {
	var m Map[int]
	keys := []string{sid(0xabc1), sid(2), "PA" + sid(3)[2:], strings.ToUpper(sid(0xabc)), "RM1", "", "reservation:x", sid(5)}
	for i, k := range keys {
		m.Set(k, i)
	}
	if m.t.Len() != 3 || len(m.other) != 5 {
		t.Fatalf("held %d as IDs and %d as strings, want 3 and 5", m.t.Len(), len(m.other))
	}
	got := map[string]int{}
	for k, v := range m.All() {
		got[k.String()] = *v
		if !m.HasKey(k) {
			t.Errorf("HasKey(%q) = false", k.String())
		}
	}
	for i, k := range keys {
		if got[k] != i {
			t.Errorf("All gave %q = %d, want %d", k, got[k], i)
		}
		if v, ok := m.Get(k); !ok || v != i {
			t.Errorf("Get(%q) = %d, %v", k, v, ok)
		}
	}
	if m.Has(strings.ToUpper(sid(0xabc1))) {
		t.Errorf("upper-case form of a held SID found")
	}
	for _, k := range keys {
		if !m.Delete(k) || m.Has(k) {
			t.Errorf("Delete(%q) failed", k)
		}
	}
	if m.Len() != 0 {
		t.Fatalf("Len %d after deleting all", m.Len())
	}
}

// TestTableMemory: at 10,000 entries of 24 bytes (a SID and an int64, as
// the memory store holds them) the Table keeps at most 40 bytes each,
// where a Go map of SID strings to int64 keeps about 90 (a 48-byte string
// and a slot at about 60% load).
func TestTableMemory(t *testing.T) {
	const n = 10000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var tab Table[ID, int64]
	for i := range n {
		id, _ := Exact("RM", sid(i))
		tab.Set(id, int64(i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.1f B per entry", per)
	if per > 40 {
		t.Errorf("%.1f B per entry, want at most 40", per)
	}
	runtime.KeepAlive(&tab)
}

func BenchmarkTableGet(b *testing.B) {
	var tab Table[ID, int64]
	ids := make([]ID, 10000)
	for i := range ids {
		ids[i], _ = Exact("RM", sid(i))
		tab.Set(ids[i], int64(i))
	}
	b.ResetTimer()
	for i := range b.N {
		if _, ok := tab.Get(ids[i%len(ids)]); !ok {
			b.Fatal("missing")
		}
	}
}

// TestMapSetDuringAll: a value Set during a loop over All, for the key the
// loop is on or after deleting it, is what the Map holds afterwards, for
// keys held as IDs and as strings alike (a Table keeps every Set; the
// loop must not write a stale copy back over it).
func TestMapSetDuringAll(t *testing.T) {
	for _, key := range []string{sid(1), strings.ToUpper(sid(0xabc)), "reservation:x"} {
		var m Map[int]
		m.Prefix("RM")
		m.Set(key, 1)
		for k, v := range m.All() {
			*v = 2
			m.Set(k.String(), 3)
		}
		if v, _ := m.Get(key); v != 3 {
			t.Errorf("%q: Set to 3 during the loop, holds %d", key, v)
		}
		for k := range m.All() {
			m.DeleteKey(k)
			m.Set(k.String(), 4)
		}
		if v, _ := m.Get(key); v != 4 {
			t.Errorf("%q: deleted and Set to 4 during the loop, holds %d", key, v)
		}
	}
}

// TestGrow: after Grow(n), n Sets allocate nothing.
func TestGrow(t *testing.T) {
	ids := make([]ID, 5000)
	for i := range ids {
		ids[i], _ = Exact("RM", sid(i))
	}
	var tab Table[ID, int]
	tab.Set(ids[0], 0)
	tab.Grow(len(ids))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i, id := range ids {
		tab.Set(id, i)
	}
	runtime.ReadMemStats(&after)
	allocs := after.Mallocs - before.Mallocs
	if allocs != 0 || tab.Len() != len(ids) {
		t.Fatalf("%v allocations for %d Sets after Grow, Len %d", allocs, len(ids), tab.Len())
	}
}

// TestSetAllocatesNothing: setting a value, of a key held as an ID or of
// one already held as a string, allocates nothing.
func TestSetAllocatesNothing(t *testing.T) {
	var m Map[[4]int64]
	m.Prefix("RM")
	key := sid(1)
	m.Set(key, [4]int64{1})
	m.Set("other", [4]int64{2})
	if n := testing.AllocsPerRun(100, func() {
		m.Set(key, [4]int64{3})
		m.Set("other", [4]int64{4})
	}); n != 0 {
		t.Fatalf("%v allocations a Set", n)
	}
}

// TestTableWideSlots: past 49,152 entries the slots widen to 4 bytes, and
// narrow again as the Table empties; every entry is found throughout.
func TestTableWideSlots(t *testing.T) {
	var tab Table[uint64, int]
	check := func(lo, hi int) {
		t.Helper()
		if tab.Len() != hi-lo {
			t.Fatalf("Len %d, want %d", tab.Len(), hi-lo)
		}
		for i := lo; i < hi; i += 7 {
			if v, ok := tab.Get(uint64(i)); !ok || v != i {
				t.Fatalf("Get(%d) = %d, %v", i, v, ok)
			}
		}
		if _, ok := tab.Get(uint64(hi)); ok {
			t.Fatalf("Get(%d) found an entry never set", hi)
		}
	}
	const n = 120000
	for i := range n {
		tab.Set(uint64(i), i)
	}
	if tab.s32 == nil || tab.s16 != nil {
		t.Fatalf("%d entries in %d slots of 2 bytes", tab.Len(), tab.n)
	}
	check(0, n)
	for i := range n - 1000 {
		if _, ok := tab.Delete(uint64(i)); !ok {
			t.Fatalf("Delete(%d) found nothing", i)
		}
	}
	if tab.s16 == nil {
		t.Fatalf("%d entries still in %d slots of 4 bytes", tab.Len(), tab.n)
	}
	check(n-1000, n)
}

// TestParserMemory: a Parser answers as Exact does, from memory or not,
// whatever the prefix asked for and the SID parsed before.
func TestParserMemory(t *testing.T) {
	var p Parser
	rm, pa := sid(7), "PA"+sid(7)[2:]
	for _, c := range []struct {
		prefix, s string
	}{{"RM", rm}, {"RM", rm}, {"PA", rm}, {"PA", pa}, {"PA", pa}, {"RM", pa}, {"RM", strings.ToUpper(rm)}, {"RM", rm[:33]}, {"RM", rm}} {
		gotID, gotOK := p.Exact(c.prefix, c.s)
		wantID, wantOK := Exact(c.prefix, c.s)
		if gotID != wantID || gotOK != wantOK {
			t.Fatalf("Parser.Exact(%q, %q) = %x, %v; Exact gives %x, %v", c.prefix, c.s, gotID, gotOK, wantID, wantOK)
		}
	}
}
