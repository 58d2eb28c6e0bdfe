package acct

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
)

// sortedKeys returns m's keys in order, without allocating for an empty
// map (most of a state's maps are empty).
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	if len(m) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}

// enc appends a canonical encoding of states, for the exploration's
// visited set; it uses no fmt (the exploration encodes every state).
type enc []byte

func (e *enc) i(v int64)  { *e = strconv.AppendInt(*e, v, 36); *e = append(*e, ',') }
func (e *enc) u(v uint64) { *e = strconv.AppendUint(*e, v, 36); *e = append(*e, ',') }
func (e *enc) s(v string) { *e = append(*e, v...); *e = append(*e, ',') }
func (e *enc) sep(c byte) { *e = append(*e, c) }
func (e *enc) b(v bool) {
	if v {
		*e = append(*e, '1')
	} else {
		*e = append(*e, '0')
	}
}

// state encodes m canonically: operation IDs are renumbered by rank among
// those open (rank maps them), so that two orders reaching one state meet.
func (m *Model) state(e *enc, rank map[uint64]int) {
	e.i(m.now)
	e.i(m.listed)
	e.i(int64(m.listings))
	for _, id := range sortedKeys(m.creates) {
		c := m.creates[id]
		e.u(id)
		e.s(c.key)
		e.s(c.name)
		e.i(int64(c.phase))
		e.i(c.started)
		e.i(c.sent)
		e.b(c.settled)
	}
	e.sep('|')
	for _, sid := range sortedKeys(m.rooms) {
		e.s(sid)
		e.s(m.rooms[sid].name)
		e.i(m.rooms[sid].learnt)
	}
	e.sep('|')
	for _, sid := range sortedKeys(m.ended) {
		e.s(sid)
	}
	e.sep('|')
	for _, o := range m.orphans {
		e.s(o.sid)
		e.i(o.at)
	}
	e.sep('|')
	for _, n := range sortedKeys(m.tokens) {
		t := m.tokens[n]
		e.s(n)
		e.s(t.key)
		e.s(t.base)
		e.u(t.gen)
		e.b(t.reserved)
		e.b(t.held)
		e.b(t.lapsed)
		e.i(t.lapsedAt)
		e.i(t.minted)
	}
	e.sep('|')
	for _, id := range sortedKeys(m.resOp) {
		e.i(int64(rank[id]))
		e.u(m.resOp[id])
	}
	e.sep('|')
	for _, id := range sortedKeys(m.tokOp) {
		e.i(int64(rank[id]))
		e.s(m.tokOp[id])
		e.b(m.againOp[id])
	}
	e.sep('|')
	for _, id := range sortedKeys(m.holdOp) {
		e.i(int64(rank[id]))
		e.s(m.holdOp[id])
	}
	e.sep('|')
	for _, id := range sortedKeys(m.endOp) {
		e.i(int64(rank[id]))
		e.s(m.endOp[id])
	}
	e.sep('|')
	for _, k := range sortedKeys(m.last) {
		e.s(k)
		e.i(int64(rank[m.last[k]]))
	}
	e.sep('|')
	for _, w := range m.waiting {
		e.i(int64(rank[w.op.ID]))
		e.op(w.op, 0)
		for _, d := range w.deps {
			e.i(int64(rank[d]))
		}
		e.sep(';')
	}
	e.sep('#')
}

func (e *enc) op(o Op, id int) {
	e.i(int64(id))
	e.i(int64(o.Kind))
	e.s(o.Key)
	e.s(o.To)
}

// ranks numbers m's open operations in the order they were made.
func (m *Model) ranks() map[uint64]int {
	ids := sortedKeys(m.open)
	r := make(map[uint64]int, len(ids))
	for i, id := range ids {
		r[id] = i + 1
	}
	return r
}
