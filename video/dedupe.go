package video

import (
	"hash/maphash"
	"math/bits"
)

// dedupe is a bounded set of keys that forgets its oldest first. It stores
// 64-bit hashes (hash/maphash, seeded per set), not the keys: two different
// keys colliding (about 2^-51 for a set of 8192) would make the second look
// like a duplicate and be dropped, which costs one ignored delivery, the
// same as a lost one, and is corrected by [Client.Reconcile].
//
// The hashes live in a ring, in the order they were added, found through
// an open-addressing table of 2-byte slots (ring index + 1, probed
// linearly, at most half full): 12 bytes a hash where a Go map of them
// would take about 35.
type dedupe struct {
	seed  maphash.Seed
	ring  []uint64 // made on first add
	slots []uint16 // made with ring; len a power of two, at least 2*size
	size  int      // capacity of ring, at most maxDedupe
	n     int      // hashes in ring
	next  int
}

// maxDedupe is the largest dedupe: ring indexes + 1 fit in a slot.
const maxDedupe = 1<<15 - 1

func (d *dedupe) init(n int) {
	d.seed = maphash.MakeSeed()
	d.size = min(max(n, 1), maxDedupe)
}

func (d *dedupe) hash(key string) uint64 { return maphash.String(d.seed, key) }

// add records key and reports whether it was new.
func (d *dedupe) add(key string) bool { return d.addHash(d.hash(key)) }

func (d *dedupe) has(key string) bool { return d.hasHash(d.hash(key)) }

// len returns the number of hashes held.
func (d *dedupe) len() int { return d.n }

// find returns the slot holding h, or the empty slot where it would go,
// and whether h is there.
func (d *dedupe) find(h uint64) (int, bool) {
	mask := len(d.slots) - 1
	for p := int(h) & mask; ; p = (p + 1) & mask {
		switch s := d.slots[p]; {
		case s == 0:
			return p, false
		case d.ring[s-1] == h:
			return p, true
		}
	}
}

// addHash records h and reports whether it was new.
func (d *dedupe) addHash(h uint64) bool {
	if d.ring == nil {
		d.ring = make([]uint64, d.size)
		d.slots = make([]uint16, 1<<bits.Len(uint(2*d.size-1)))
	}
	if _, ok := d.find(h); ok {
		return false
	}
	if d.n == len(d.ring) {
		p, _ := d.find(d.ring[d.next])
		d.unslot(p)
	} else {
		d.n++
	}
	d.ring[d.next] = h
	p, _ := d.find(h)
	d.slots[p] = uint16(d.next + 1)
	d.next = (d.next + 1) % len(d.ring)
	return true
}

// unslot empties slot p, shifting back the hashes probed past it.
func (d *dedupe) unslot(p int) {
	mask := len(d.slots) - 1
	for q := (p + 1) & mask; d.slots[q] != 0; q = (q + 1) & mask {
		h := int(d.ring[d.slots[q]-1]) & mask
		// The hash at q may move to p if its home is not in (p, q].
		if (q > p && (h <= p || h > q)) || (q < p && h <= p && h > q) {
			d.slots[p] = d.slots[q]
			p = q
		}
	}
	d.slots[p] = 0
}

func (d *dedupe) hasHash(h uint64) bool {
	if d.ring == nil {
		return false
	}
	_, ok := d.find(h)
	return ok
}

// deliveryHash identifies one delivery of an event in d: a duplicate has
// the same. It hashes the fields, separated, without building a key.
func (d *dedupe) deliveryHash(e *RoomEvent) uint64 {
	var h maphash.Hash
	h.SetSeed(d.seed)
	for _, f := range [...]string{e.Event, e.RoomSID, e.ParticipantSID, e.TrackSID, e.RecordingSID,
		e.rawTimestamp, e.rawSeq} {
		h.WriteString(f)
		h.WriteByte('|')
	}
	return h.Sum64()
}
