package redisstore

import (
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// OnGrant makes s call f with the Redis server time (µs) at which each
// token granted from Redis may be used: the store's schedule, for tests that
// measure it. Set it before s is used.
func OnGrant(s *Store, f func(account string, class backend.Class, redisMicros int64)) {
	s.granted = func(id bucketID, us int64) { f(id.account, id.class, us) }
}

// OnReturn makes s call f for each token given back to Redis (a caller's
// ctx ended while it waited for it): the slot it had is granted again, so
// the schedule OnGrant reports holds it twice. Set it before s is used.
func OnReturn(s *Store, f func(account string, class backend.Class)) {
	s.returned = func(id bucketID) { f(id.account, id.class) }
}

// Waiting returns how many operations of s wait on Redis.
func Waiting(s *Store) int { return int(s.waiting.Load()) }

// MaxQueued is the bound of the write queue of a FailClosed store.
const MaxQueued = maxQueued

// QueueLen returns how many writes s has queued while Redis was unreachable.
func QueueLen(s *Store) int { return s.queueLen() }

// SetEnded shortens how long s remembers ended holdings and how many, for
// tests of those bounds. Set it before s is used.
func SetEnded(s *Store, ttl time.Duration, maxEnded int) { s.endedTTL, s.maxEnded = ttl, maxEnded }
