package redisstore

import (
	"context"
	"sync"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

type ledgerID struct {
	account string
	res     backend.Resource
}

type lease struct {
	held  bool
	until time.Time // zero: no expiry
	// seeded marks a slot taken in Redis before the outage, which the
	// write-back restores only if Redis lost its data meanwhile.
	seeded bool
}

// holdings are the slots this process took in Redis and has not given back,
// and each ledger's epoch at the last reply: what the process writes back
// when Redis has lost its data, and what its local share starts from under
// [FailLocal].
//
// holdings are safe for simultaneous use.
type holdings struct {
	now func() time.Time

	mu     sync.Mutex // guards own, epochs and used
	own    map[ledgerID]map[string]lease
	epochs map[ledgerID]int64
	used   map[ledgerID]usage
}

// usage is what the replies showed of a ledger's whole usage (every
// process's slots): the highest in the last usageWindow, since the other
// processes may have taken as many again since this one last looked.
type usage struct {
	peak int
	at   time.Time // of the reply that showed peak
}

// usageWindow is how long the highest usage seen counts.
const usageWindow = 2 * time.Second

func newHoldings(now func() time.Time) *holdings {
	return &holdings{now: now, own: make(map[ledgerID]map[string]lease), epochs: make(map[ledgerID]int64), used: make(map[ledgerID]usage)}
}

// until returns the expiry of a lease of ttl taken now (zero: none).
func (h *holdings) until(ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return h.now().Add(ttl)
}

// epoch returns the epoch last seen of id (0: none).
func (h *holdings) epoch(id ledgerID) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.epochs[id]
}

// sawEpoch records the epoch of a ledger Redis replied with. It reports
// whether the ledger had another epoch before, that is, Redis lost it: then
// exactly one caller learns of each loss.
func (h *holdings) sawEpoch(id ledgerID, epoch int64) (lost bool) {
	if epoch == 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.epochs[id]
	h.epochs[id] = epoch
	return old != 0 && old != epoch
}

// sawUsed records a ledger's usage (every process's slots) Redis replied with.
func (h *holdings) sawUsed(id ledgerID, used int) {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if u, ok := h.used[id]; ok && u.peak > used && now.Sub(u.at) <= usageWindow {
		return
	}
	h.used[id] = usage{peak: used, at: now}
}

// usage returns the highest usage of id seen in the last usageWindow (or
// the last one seen, if older); requires h.mu held (for [holdings.each]'s
// callers, who hold it through f).
func (h *holdings) usage(id ledgerID) (int, bool) {
	u, ok := h.used[id]
	return u.peak, ok
}

// usedOf is [holdings.usage] for callers that do not hold h.mu.
func (h *holdings) usedOf(id ledgerID) (int, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.usage(id)
}

// usedAll returns [holdings.usage] of every ledger seen.
func (h *holdings) usedAll() map[ledgerID]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[ledgerID]int, len(h.used))
	for id, u := range h.used {
		out[id] = u.peak
	}
	return out
}

// owned records that this process took key in Redis (held or pending).
func (h *holdings) owned(id ledgerID, key string, held bool, ttl time.Duration) {
	until := h.until(ttl)
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.own[id]
	if m == nil {
		m = make(map[string]lease)
		h.own[id] = m
	}
	m[key] = lease{held: held, until: until}
}

// disowned records that keys were given back in Redis.
func (h *holdings) disowned(id ledgerID, keys ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.own[id]
	for _, k := range keys {
		delete(m, k)
	}
	if len(m) == 0 {
		delete(h.own, id)
	}
}

// synced keeps, of the holdings this process took, those in keys.
func (h *holdings) synced(id ledgerID, keys []string) {
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, l := range h.own[id] {
		if l.held && !want[k] {
			delete(h.own[id], k)
		}
	}
}

// live returns the leases of id that have not ended by now.
func (h *holdings) live(id ledgerID, now time.Time) map[string]lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]lease, len(h.own[id]))
	for k, l := range h.own[id] {
		if l.until.IsZero() || l.until.After(now) {
			out[k] = l
		} else {
			delete(h.own[id], k)
		}
	}
	return out
}

// held returns every ledger this process holds slots in.
func (h *holdings) held() []ledgerID {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]ledgerID, 0, len(h.own))
	for id, m := range h.own {
		if len(m) > 0 {
			out = append(out, id)
		}
	}
	return out
}

// ledgers returns the ledgers of account this process holds slots in.
func (h *holdings) ledgers(account string) []ledgerID {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []ledgerID
	for id, m := range h.own {
		if id.account == account && len(m) > 0 {
			out = append(out, id)
		}
	}
	return out
}

// each calls f with every ledger and its live leases; f runs with h locked.
func (h *holdings) each(now time.Time, f func(ledgerID, map[string]lease)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, m := range h.own {
		for k, l := range m {
			if !l.until.IsZero() && !l.until.After(now) {
				delete(m, k)
			}
		}
		f(id, m)
	}
}

// replace sets the holdings after a write-back to leases (their seeded marks dropped).
func (h *holdings) replace(leases map[ledgerID]map[string]lease, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.own)
	for id, m := range leases {
		for k, l := range m {
			if l.until.IsZero() || l.until.After(now) {
				if h.own[id] == nil {
					h.own[id] = make(map[string]lease)
				}
				l.seeded = false
				h.own[id][k] = l
			}
		}
	}
}

// writeBack writes this process's slots in the ledger id back to a Redis that
// lost them, with their remaining time; the ledger's script keeps refusing
// reservations for the grace meanwhile. known is the epoch seen before the
// loss, or -1 to write back whatever the epoch (after a failover). Keys
// already there are counted once.
func (s *Store) writeBack(ctx context.Context, id ledgerID, known int64) (int, error) {
	s.wb.Lock()
	defer s.wb.Unlock()
	now := s.hold.now()
	leases := s.hold.live(id, now)
	extra := []any{known, millis(2 * s.probe), millis(s.endedTTL), s.maxEnded, 0}
	n := 0
	for k, l := range leases {
		var ms int64
		if !l.until.IsZero() {
			if ms = l.until.Sub(now).Milliseconds(); ms <= 0 {
				continue
			}
		}
		kind := "op"
		if l.held {
			kind = "oh"
		}
		extra = append(extra, kind, k, ms)
		n++
	}
	vals, err := ledgerScript.Run(ctx, s.rdb, s.ledgerKeys(id.account, id.res), ledgerArgs("restore", 0, 0, nil, extra...)...).Int64Slice()
	if err != nil {
		return 0, err
	}
	if len(vals) == 3 {
		s.hold.sawEpoch(id, vals[2])
	}
	return n, nil
}

// lostLedger writes back the slots of id after a reply showed that Redis lost
// the ledger (epoch known before). It runs on the caller's goroutine, after
// the operation that found the loss; a failure is logged, and the next
// reconciliation restores the slots from Twilio's list.
func (s *Store) lostLedger(ctx context.Context, id ledgerID, known int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
	defer cancel()
	n, err := s.writeBack(ctx, id, known)
	if err != nil {
		s.logger().Warn("redisstore: Redis lost a ledger; writing back this process's slots failed", "resource", id.res.String(), "err", err)
		return
	}
	s.logger().Warn("redisstore: Redis lost a ledger; this process's slots written back", "resource", id.res.String(), "slots", n)
}
