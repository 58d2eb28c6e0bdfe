package redisstore

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// bucketID names one request bucket: an account's reads or writes.
type bucketID struct {
	account string
	class   backend.Class
}

// booking is what this process last saw of a bucket in Redis.
type booking struct {
	tat  int64        // the bucket's arrival time after the call (Redis µs)
	now  int64        // Redis server time of the reply (µs)
	at   time.Time    // local time of the reply
	rate backend.Rate // the ceiling the call asked for
	gen  int64        // the account's generation (see rate.lua)

	// depth is the deepest backlog (arrival time minus server time, µs)
	// a reply showed within depthWindow before depthAt.
	depth   int64
	depthAt time.Time
}

// depthWindow is how long the deepest backlog seen counts: the other
// processes may have booked the bucket that deep since this one last looked.
const depthWindow = 2 * time.Second

// horizon returns, in Redis µs, the latest arrival time the bucket may have
// at the local time t: the one seen, or, while a deep backlog was seen
// recently, t plus that depth, since the other processes may have booked
// that far ahead since this one last looked. force uses the depth even when
// the bucket had no backlog at the last look.
func (b booking) horizon(t time.Time, force bool) int64 {
	redisNow := t.UnixMicro() + (b.now - b.at.UnixMicro())
	if (force || b.tat > redisNow) && t.Sub(b.depthAt) <= depthWindow {
		return max(b.tat, redisNow+b.depth)
	}
	return b.tat
}

// local returns the local time of the Redis time us, as this reply relates them.
func (b booking) local(us int64) time.Time {
	return b.at.Add(time.Duration(us-b.now) * time.Microsecond)
}

// schedule keeps, per bucket, the arrival time this process last saw in
// Redis: the tokens granted until then are going out whatever happens to
// Redis. It re-seeds a bucket that Redis lost ([rate.lua]) and starts the
// local bucket of [FailLocal] after them.
//
// A schedule is safe for simultaneous use.
type schedule struct {
	mu        sync.Mutex // guards seen and nextPrune
	seen      map[bucketID]booking
	nextPrune time.Time

	// offset is Redis server time minus local time at the last reply (µs),
	// to carry a local arrival time back to Redis.
	offset atomic.Int64
}

func newSchedule() *schedule {
	return &schedule{seen: make(map[bucketID]booking)}
}

// last returns the latest arrival time id may have now (Redis µs, 0: none
// seen; see [booking.horizon]) and the generation last seen, for a rate
// script that finds the bucket lost.
func (s *schedule) last(id bucketID) (horizon, gen int64) {
	s.mu.Lock()
	b, ok := s.seen[id]
	s.mu.Unlock()
	if !ok {
		return 0, 0
	}
	return b.horizon(time.Now(), true), b.gen
}

// saw records a reply of the rate script.
func (s *schedule) saw(id bucketID, b booking) {
	s.offset.Store(b.now - b.at.UnixMicro())
	s.mu.Lock()
	defer s.mu.Unlock()
	b.depth, b.depthAt = max(b.tat-b.now, 0), b.at
	if old, ok := s.seen[id]; ok {
		if old.tat > b.tat && old.gen == b.gen {
			// A reply that crossed a later one: keep the later arrival time.
			b.tat = old.tat
		}
		if old.depth > b.depth && b.at.Sub(old.depthAt) <= depthWindow {
			b.depth, b.depthAt = old.depth, old.depthAt
		}
	}
	s.seen[id] = b
	// Forget, once a second, the buckets whose tokens have all gone out,
	// so that the map holds only the buckets in use.
	if b.at.After(s.nextPrune) {
		s.nextPrune = b.at.Add(time.Second)
		for k, v := range s.seen {
			if v.local(v.tat).Before(b.at) {
				delete(s.seen, k)
			}
		}
	}
}

// redisTime returns the Redis server time of the local time t, by the last reply.
func (s *schedule) redisTime(t time.Time) int64 {
	return t.UnixMicro() + s.offset.Load()
}

// ahead returns, for every bucket whose granted tokens may not all be out by
// now (see [booking.horizon]), the booking with that arrival time.
func (s *schedule) ahead(now time.Time) map[bucketID]booking {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[bucketID]booking)
	for id, b := range s.seen {
		b.tat = b.horizon(now, true)
		if b.local(b.tat).After(now) {
			out[id] = b
		}
	}
	return out
}

// accounts returns the accounts of every bucket seen.
func (s *schedule) accounts() map[string]struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]struct{})
	for id := range s.seen {
		out[id.account] = struct{}{}
	}
	return out
}
