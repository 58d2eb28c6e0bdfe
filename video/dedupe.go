package video

import (
	"hash/maphash"
)

// dedupe is a bounded set of keys that forgets its oldest first. It stores
// 64-bit hashes (hash/maphash, seeded per set), not the keys: two different
// keys colliding (about 2^-51 for a set of 8192) would make the second look
// like a duplicate and be dropped, which costs one ignored delivery, the
// same as a lost one, and is corrected by [Client.Reconcile].
type dedupe struct {
	seed maphash.Seed
	set  map[uint64]struct{}
	ring []uint64 // made on first add
	size int      // capacity of ring
	n    int      // hashes in ring
	next int
}

func (d *dedupe) init(n int) {
	d.seed = maphash.MakeSeed()
	d.set = make(map[uint64]struct{})
	d.size = n
}

func (d *dedupe) hash(key string) uint64 { return maphash.String(d.seed, key) }

// add records key and reports whether it was new.
func (d *dedupe) add(key string) bool { return d.addHash(d.hash(key)) }

func (d *dedupe) has(key string) bool { return d.hasHash(d.hash(key)) }

// addHash records h and reports whether it was new.
func (d *dedupe) addHash(h uint64) bool {
	if _, ok := d.set[h]; ok {
		return false
	}
	if d.ring == nil {
		d.ring = make([]uint64, d.size)
	}
	if d.n == len(d.ring) {
		delete(d.set, d.ring[d.next])
	} else {
		d.n++
	}
	d.ring[d.next] = h
	d.next = (d.next + 1) % len(d.ring)
	d.set[h] = struct{}{}
	return true
}

func (d *dedupe) hasHash(h uint64) bool {
	_, ok := d.set[h]
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
