// Package sidmap holds Twilio SIDs compactly: a SID (two letters and 32
// hex digits, https://www.twilio.com/docs/glossary/what-is-a-sid) is an
// [ID] of 16 bytes, and a [Table] maps IDs (or other small keys) to values
// in one dense array indexed by an open-addressing table of 2-byte slots
// (4-byte beyond 49,152 entries). At 10,000 entries a Table costs its
// entries (16 bytes of ID and the value) plus about 6% and 3.3 bytes each;
// a Go map of SID strings costs a 34-byte string (a 48-byte allocation)
// plus a slot of key and value at about 60% load. [Map] is the same for
// string keys: keys of the SID shape are held as IDs, others in a Go map.
package sidmap

import (
	"hash/maphash"
	"iter"
	"strings"
)

// ID is the 16 bytes that a SID's 32 hex digits encode; its two-letter
// prefix is known from context.
type ID [16]byte

// Parse returns the ID of s, which must be prefix followed by 32 hex
// digits in either case (Twilio writes them in lower case), and true; or
// the zero ID and false.
func Parse(prefix, s string) (ID, bool) {
	return parse(prefix, s, true)
}

// Exact is [Parse] for lower-case hex digits only, so that the ID's
// [ID.String] gives s back.
func Exact(prefix, s string) (ID, bool) {
	return parse(prefix, s, false)
}

func parse(prefix, s string, anyCase bool) (ID, bool) {
	var id ID
	if len(s) != len(prefix)+32 || s[:len(prefix)] != prefix {
		return id, false
	}
	s = s[len(prefix):]
	for i := range id {
		hi, ok1 := nibble(s[2*i], anyCase)
		lo, ok2 := nibble(s[2*i+1], anyCase)
		if !ok1 || !ok2 {
			return ID{}, false
		}
		id[i] = hi<<4 | lo
	}
	return id, true
}

func nibble(c byte, anyCase bool) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case anyCase && 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

// String returns the SID: prefix and the 32 lower-case hex digits.
func (id ID) String(prefix string) string {
	return string(id.Append(make([]byte, 0, len(prefix)+32), prefix))
}

// Append appends the SID to b.
func (id ID) Append(b []byte, prefix string) []byte {
	b = append(b, prefix...)
	for _, x := range id {
		b = append(b, hexDigits[x>>4], hexDigits[x&15])
	}
	return b
}

// Table is a map from K (an [ID], or another small comparable such as a
// 64-bit hash) to V. Its entries live in one dense array (a deletion moves
// the last entry into the hole), which grows by an eighth when full (about
// 6% slack on average, at the price of copying each entry about 9 times
// while it fills), found through a table of slots probed linearly and
// kept at most 3/4 full: 2 bytes each up to 65,536 slots, 4 beyond. Its zero value is an empty Table. It is not
// safe for simultaneous use.
type Table[K comparable, V any] struct {
	seed maphash.Seed
	ents []entry[K, V]
	// The slots: entry index + 1, 0 empty; n of them, 0 or a power of two,
	// in s16 while every index + 1 fits 16 bits (up to 65,536 slots, at
	// most 49,152 entries), else in s32.
	s16 []uint16
	s32 []uint32
	n   int
}

type entry[K comparable, V any] struct {
	id K
	v  V
}

// Len returns the number of entries.
func (t *Table[K, V]) Len() int { return len(t.ents) }

func (t *Table[K, V]) slot(p int) uint32 {
	if t.s16 != nil {
		return uint32(t.s16[p])
	}
	return t.s32[p]
}

func (t *Table[K, V]) setSlot(p int, v uint32) {
	if t.s16 != nil {
		t.s16[p] = uint16(v)
		return
	}
	t.s32[p] = v
}

func (t *Table[K, V]) home(id K) int {
	return int(maphash.Comparable(t.seed, id) & uint64(t.n-1))
}

// find returns the slot of id and its entry index, or the empty slot
// where it would go and -1.
func (t *Table[K, V]) find(id K) (slot, ent int) {
	if t.n == 0 {
		return -1, -1
	}
	mask := t.n - 1
	for p := t.home(id); ; p = (p + 1) & mask {
		s := t.slot(p)
		if s == 0 {
			return p, -1
		}
		if t.ents[s-1].id == id {
			return p, int(s - 1)
		}
	}
}

// Get returns the value of id and whether it is there.
func (t *Table[K, V]) Get(id K) (V, bool) {
	if _, i := t.find(id); i >= 0 {
		return t.ents[i].v, true
	}
	var zero V
	return zero, false
}

// Ptr returns a pointer to the value of id, nil if it is not there. The
// pointer is valid until the next Set of a new ID or Delete.
func (t *Table[K, V]) Ptr(id K) *V {
	if _, i := t.find(id); i >= 0 {
		return &t.ents[i].v
	}
	return nil
}

// Set sets the value of id.
func (t *Table[K, V]) Set(id K, v V) {
	p, i := t.find(id)
	if i >= 0 {
		t.ents[i].v = v
		return
	}
	if (len(t.ents)+1)*4 > t.n*3 {
		t.resize(max(8, 2*t.n))
		p, _ = t.find(id)
	}
	if len(t.ents) == cap(t.ents) {
		// By an eighth, not append's quarter: the slack is the Table's
		// main cost over its entries.
		t.ents = append(make([]entry[K, V], 0, len(t.ents)+len(t.ents)/8+8), t.ents...)
	}
	t.ents = append(t.ents, entry[K, V]{id: id, v: v})
	t.setSlot(p, uint32(len(t.ents)))
}

// Delete removes id and returns the value it had.
func (t *Table[K, V]) Delete(id K) (V, bool) {
	var zero V
	p, i := t.find(id)
	if i < 0 {
		return zero, false
	}
	v := t.ents[i].v
	t.unslot(p)
	last := len(t.ents) - 1
	if i != last {
		t.ents[i] = t.ents[last]
		q, _ := t.find(t.ents[i].id) // the slot naming last, the one holding that ID
		t.setSlot(q, uint32(i+1))
	}
	t.ents[last] = entry[K, V]{}
	t.ents = t.ents[:last]
	if n := len(t.ents); cap(t.ents) > 64 && n < cap(t.ents)/4 {
		t.ents = append(make([]entry[K, V], 0, 2*n), t.ents...)
	}
	if n := len(t.ents); t.n > 8 && n*8 < t.n {
		t.resize(t.n / 2)
	}
	return v, true
}

// unslot empties slot p, shifting back the entries probed past it.
func (t *Table[K, V]) unslot(p int) {
	mask := t.n - 1
	for q := (p + 1) & mask; t.slot(q) != 0; q = (q + 1) & mask {
		h := t.home(t.ents[t.slot(q)-1].id)
		// The entry at q may move to p if its home is not in (p, q].
		if (q > p && (h <= p || h > q)) || (q < p && h <= p && h > q) {
			t.setSlot(p, t.slot(q))
			p = q
		}
	}
	t.setSlot(p, 0)
}

func (t *Table[K, V]) resize(n int) {
	if t.n == 0 {
		t.seed = maphash.MakeSeed()
	}
	t.n, t.s16, t.s32 = n, nil, nil
	if n <= 1<<16 {
		t.s16 = make([]uint16, n)
	} else {
		t.s32 = make([]uint32, n)
	}
	for i := range t.ents {
		p := t.home(t.ents[i].id)
		for t.slot(p) != 0 {
			p = (p + 1) & (n - 1)
		}
		t.setSlot(p, uint32(i+1))
	}
}

// All yields every entry, the value by pointer (valid as [Table.Ptr]'s:
// a Set of a new key may move the entries). The loop body may change the
// value and may Delete the key it is given; a key Set during the loop may
// or may not be yielded, and other deletions make the loop yield some
// entries twice or not at all.
func (t *Table[K, V]) All() iter.Seq2[K, *V] {
	return func(yield func(K, *V) bool) {
		for i := len(t.ents) - 1; i >= 0; i-- {
			if i >= len(t.ents) {
				continue
			}
			if !yield(t.ents[i].id, &t.ents[i].v) {
				return
			}
		}
	}
}

// Grow makes room for n more entries without allocating again.
func (t *Table[K, V]) Grow(n int) {
	if n <= 0 {
		return
	}
	want := len(t.ents) + n
	if want > cap(t.ents) {
		t.ents = append(make([]entry[K, V], 0, want), t.ents...)
	}
	if size := max(8, t.n); want*4 > size*3 {
		for want*4 > size*3 {
			size *= 2
		}
		t.resize(size)
	}
}

// At returns the i'th entry of the dense array, 0 <= i < Len, the value
// by pointer (valid as [Table.Ptr]'s): for walking the entries a few at a
// time, as a cursor. A deletion moves the last entry to the deleted one's
// place.
func (t *Table[K, V]) At(i int) (K, *V) {
	return t.ents[i].id, &t.ents[i].v
}

// Clear removes every entry and frees the memory.
func (t *Table[K, V]) Clear() {
	t.ents, t.s16, t.s32, t.n = nil, nil, nil, 0
}

// Map is a map from strings to V that holds the keys of the SID shape (a
// prefix and 32 lower-case hex digits, as Twilio writes SIDs) as IDs in a
// [Table], and other keys (another prefix, upper-case hex, any string) in
// a Go map. The prefix is the one given to [Map.Prefix], or else that of
// the first key of two upper-case letters and 32 lower-case hex digits.
// Its zero value is an empty Map. It is not safe for simultaneous use.
type Map[V any] struct {
	prefix string
	t      Table[ID, V]
	other  map[string]*V // by pointer, so that All yields the value itself
	last   Parser        // a caller asks for one key several times in a row
}

// Parser is [Exact] with a memory of the last SID of 34 bytes it parsed,
// for callers that ask for one SID several times in a row (the steps of
// one event). It keeps a copy, not the caller's string (which may share a
// larger buffer). Its zero value is ready to use. It is not safe for
// simultaneous use.
type Parser struct {
	s  [34]byte
	id ID
	ok bool
}

// Exact is [Exact], answered from memory for the SID parsed last.
func (p *Parser) Exact(prefix, s string) (ID, bool) {
	if p.ok && len(s) == len(p.s) && s == string(p.s[:]) && s[:len(prefix)] == prefix {
		return p.id, true
	}
	id, ok := Exact(prefix, s)
	if ok && len(s) == len(p.s) {
		copy(p.s[:], s)
		p.id, p.ok = id, true
	}
	return id, ok
}

// Key is a key of a Map as the Map holds it: an ID and its prefix, or the
// string itself. Keys are for [Map.HasKey] and [Map.DeleteKey], not for
// comparing: one string may be held as either. The zero Key is the empty
// string.
type Key struct {
	id     ID
	prefix string // "" when s holds the key
	s      string
}

// String returns the key.
func (k Key) String() string {
	if k.prefix == "" {
		return k.s
	}
	return k.id.String(k.prefix)
}

// key returns the key s as m would hold it, taking s's prefix as m's own
// if m has none yet.
func (m *Map[V]) key(s string) Key {
	if m.prefix == "" && len(s) == 34 && isUpper(s[0]) && isUpper(s[1]) {
		if _, ok := Exact(s[:2], s); ok {
			m.prefix = strings.Clone(s[:2]) // not s's memory
		}
	}
	return m.lookup(s)
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

func (m *Map[V]) lookup(s string) Key {
	if m.prefix == "" || len(s) != len(m.prefix)+32 {
		return Key{s: s}
	}
	id, ok := m.last.Exact(m.prefix, s)
	if !ok {
		return Key{s: s}
	}
	return Key{id: id, prefix: m.prefix}
}

// Len returns the number of keys.
func (m *Map[V]) Len() int { return m.t.Len() + len(m.other) }

// Get returns the value of key and whether it is there.
func (m *Map[V]) Get(key string) (V, bool) {
	k := m.lookup(key)
	if k.prefix != "" {
		return m.t.Get(k.id)
	}
	if p, ok := m.other[key]; ok {
		return *p, true
	}
	var zero V
	return zero, false
}

// Has reports whether key is there.
func (m *Map[V]) Has(key string) bool {
	_, ok := m.Get(key)
	return ok
}

// HasKey reports whether k, a key of any Map, is there.
func (m *Map[V]) HasKey(k Key) bool {
	if k.prefix != "" && k.prefix == m.prefix {
		_, ok := m.t.Get(k.id)
		return ok
	}
	return m.Has(k.String())
}

// Set sets the value of key. A key held in the Go map is the string
// given: a caller whose string shares a larger buffer clones it first.
func (m *Map[V]) Set(key string, v V) {
	k := m.key(key)
	if k.prefix != "" {
		m.t.Set(k.id, v)
		return
	}
	if p, ok := m.other[key]; ok {
		*p = v
		return
	}
	if m.other == nil {
		m.other = make(map[string]*V)
	}
	p := new(V) // not &v: v would then be moved to the heap on every Set
	*p = v
	m.other[key] = p
}

// Grow makes room for n more keys of the SID shape without allocating
// again.
func (m *Map[V]) Grow(n int) { m.t.Grow(n) }

// Delete removes key and reports whether it was there.
func (m *Map[V]) Delete(key string) bool {
	k := m.lookup(key)
	if k.prefix != "" {
		_, ok := m.t.Delete(k.id)
		return ok
	}
	_, ok := m.other[key]
	delete(m.other, key)
	return ok
}

// DeleteKey removes k, a key yielded by m's All.
func (m *Map[V]) DeleteKey(k Key) {
	if k.prefix != "" {
		m.t.Delete(k.id)
		return
	}
	delete(m.other, k.s)
}

// All yields every key and its value by pointer, with the guarantees of
// [Table.All]: the loop may change the value and DeleteKey the key it is
// given.
func (m *Map[V]) All() iter.Seq2[Key, *V] {
	return func(yield func(Key, *V) bool) {
		for id, v := range m.t.All() {
			if !yield(Key{id: id, prefix: m.prefix}, v) {
				return
			}
		}
		for s, v := range m.other {
			if !yield(Key{s: s}, v) {
				return
			}
		}
	}
}

// Prefix makes prefix (any string; Twilio's are two upper-case letters)
// the prefix of the keys m holds as IDs. It panics if m is not empty.
func (m *Map[V]) Prefix(prefix string) {
	if m.Len() != 0 {
		panic("sidmap: Prefix after Set")
	}
	m.prefix, m.last = prefix, Parser{}
}

// Append appends the key to b.
func (k Key) Append(b []byte) []byte {
	if k.prefix == "" {
		return append(b, k.s...)
	}
	return k.id.Append(b, k.prefix)
}
