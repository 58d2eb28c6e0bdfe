// Package redisstore is a [quota.Store] kept in Redis, so that every replica
// of an application shares one Twilio account's quotas: the request-rate
// buckets, the adaptive slow-down after a 20429, and the ledger of concurrent
// Rooms and Participants with its threshold crossings.
//
// # Use
//
// Build a Store on a go-redis client and hand it to the video client with its
// store option; every process that uses the same Redis and prefix shares the
// account's quota:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	store, err := redisstore.New(rdb,
//		redisstore.WithFailurePolicy(redisstore.FailLocal),
//		redisstore.WithLocalShare(1.0/4), // 4 replicas
//	)
//
// # One round trip
//
// Each operation is one EVALSHA of an embedded Lua script (falling back to
// EVAL once when Redis has lost its script cache). The scripts read Redis
// server time (TIME), so the clocks of the processes do not matter.
//
// Rates are GCRA buckets: one key per account and class holding the
// theoretical arrival time, and one key with the adaptive factor that every
// process's TakeToken reads, so a slow-down after a 20429 in one process slows
// them all.
//
// The ledger of a resource is two sorted sets of leases scored by expiry
// (pending reservations and holdings), a full-mark key with a PX expiry, and a
// hash of the threshold levels that are up. Lapsed leases are purged by the
// script before every decision; the check and the add are one script, so the
// quota holds across processes; and each threshold crossing is decided in the
// script that caused it and replied to that caller only, so exactly one
// process fires it. A reservation of a process that dies lapses after its ttl.
//
// # Keys
//
// Keys are <prefix>:{<account>}:<part>, for example
// videoquota:{AC123}:rooms:pending or videoquota:{AC123}:rate:write. The
// braces are a Redis Cluster hash tag: one account's keys live on one slot, as
// a script needs. Every key expires with its last lease or token (a lease given
// with no ttl excepted); the adaptive factor expires quota.FactorTTL after
// its last adjustment (it is deleted when raised back to 1).
//
// # Redis trouble
//
// When Redis cannot be reached (refused, reset, a timeout set with
// [WithTimeout], a loading or read-only server), the [FailurePolicy] decides:
//
//   - [FailClosed] (the default) returns an *[UnavailableError] naming the
//     operation and wrapping the Redis error; nothing is admitted on an unknown
//     quota. The store works again as soon as Redis answers.
//   - [FailLocal] serves from an in-process store holding this process's share
//     of every limit and rate ([WithLocalShare], floor(limit*share) slots), so
//     n replicas with share 1/n stay within the quota together. Sync needs the
//     whole account and returns an *[UnavailableError] meanwhile. At most once
//     per probe interval ([WithProbeInterval]) an operation pings Redis; when it
//     answers, the store writes back what it did while degraded and switches
//     back by itself.
//
// No slot is counted twice across the switch: each lives in one place at a
// time, and leases are sets keyed by the slot's key (reservation id or SID),
// so a key is counted once however often it is written.
//
//   - Switching to the local share, the local store starts with the slots
//     this process took in Redis and has not given back, so they count against
//     its share: n processes with share 1/n stay within the quota as long as
//     none held more than its share when Redis went away.
//   - While degraded, new slots are taken in the local store only; releases of
//     keys that may live in Redis are recorded.
//   - On recovery no local operation runs until one script per ledger has
//     removed the released keys from Redis and added the local leases with
//     their remaining time (ZADD NX: a key already there, for instance from an
//     operation that timed out after Redis applied it, stays counted once).
//     The slots from before the outage are added back only if Redis lost its
//     data meanwhile, which a per-ledger epoch key shows; otherwise they are
//     there already, or were given back through another process and must not
//     return. Then the local store is dropped and operations go to Redis again.
//
// A Redis that restarted empty thus gets back the slots of every process that
// degraded and recovered. A process that finds the data lost marks the ledger
// full for two probe intervals, so that the other processes, which probe as
// often, write theirs back before new slots are given out. The slots of
// processes that did not notice the outage (idle, or under FailClosed) are
// missing until the next reconciliation (Sync) restores them from Twilio's
// list. A slot this process took and another process gave back
// counts against the local share until its lease ends: that errs on the safe side.
//
// While degraded, Used and Holds answer for the local share, and the
// threshold crossings are those of the local share. The adaptive factor set
// while degraded stays local.
//
// # Tests
//
// The subpackage redistest starts a redis-server of the test's own on a free
// loopback port (or uses $VIDEOQUOTA_REDIS_URL), for this package's tests and
// for any that need a Redis.
package redisstore
