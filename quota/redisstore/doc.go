// Package redisstore is a [backend.Store] kept in Redis, so that every replica
// of an application shares one Twilio account's quotas: the request-rate
// buckets, the adaptive slow-down after a 20429, and the ledger of concurrent
// Rooms and Participants with its threshold crossings.
//
// # Use
//
// Build a Store on a go-redis client ([New]) or a redis:// URL
// ([NewFromURL]) and hand it to the video client with its store option;
// every process that uses the same Redis and prefix shares the account's
// quota. Both check that Redis answers, and return an *[UnavailableError]
// (Op "New") if it does not:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	store, err := redisstore.New(rdb,
//		redisstore.WithFailurePolicy(redisstore.FailLocal),
//		redisstore.WithLocalShare(1.0/4), // 4 replicas
//	)
//
// # Bounded waits
//
// Every operation waits for Redis at most the store's deadline
// ([WithTimeout], [DefaultTimeout] 500 ms), whatever the go-redis client's
// own timeouts and retries: the round trip runs in a goroutine of its own,
// and the operation returns when it answers, when the deadline passes (then
// Redis counts as unreachable, with a *[TimeoutError] cause), when the
// caller's ctx ends (its cause), or when [Store.Close] is called
// ([ErrClosed]). The goroutine itself ends when the client returns, after its
// ReadTimeout at worst; a reservation Redis takes after its caller has gone
// (a hung Redis that resumes within the client's ReadTimeout) is given back.
//
// go-redis's own log lines (a dial that failed) go to the store's logger
// ([WithLogger]; see [RouteRedisLog] for the process-wide part).
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
// [Store.TakeTokenAs] ([backend.FairStore]) takes the token in the same round
// trip, ordering the takers of every process by priority level and tenant
// (fair.lua, which runs rate.lua inside it): a critical or normal taker leaves
// a mark for a second (<prefix>:{<account>}:mark:<class>:<level>), and while
// one of a higher level is there a lower level books at most half an
// interval ahead; inside a level, start-time fair tags (one key for the
// level's virtual time, one per tenant, expiring 20 s and 2 s after their
// last grant) let a tenant behind its weighted share book further ahead
// than one ahead of it.
//
// The ledger of a resource is two sorted sets of leases scored by expiry
// (pending reservations and holdings), a full-mark key with a PX expiry, and a
// hash of the threshold levels that are up. Lapsed leases are purged by the
// script before every decision; the check and the add are one script, so the
// quota holds across processes; and each threshold crossing is decided in the
// script that caused it and replied to that caller only, so exactly one
// process fires it. A reservation of a process that dies lapses after its ttl.
//
// Ended holdings are a third sorted set per ledger (<...>:rooms:ended),
// keys scored by when they were released: a Release (of a holding, or of a
// key neither held nor pending: an end heard before its start) adds the
// key, and the Hold, Commit and Sync scripts hold no key in it, so a late
// room-created or participant-connected that reaches the process that did
// not hear the end holds nothing, in the same script that checks. Entries
// older than [backend.EndedTTL] (20 minutes) are dropped by every script
// that reads the set, the set keeps the newest [backend.MaxEnded] (100,000)
// and it expires with its newest entry: at most one entry per Room or
// Participant that ended in the last 20 minutes, about 145 bytes each in
// Redis (10,000 Participant SIDs measured 1.45 MB with MEMORY USAGE; 14.5 MB
// at the bound).
//
// # Keys
//
// Keys are <prefix>:{<account>}:<part>, for example
// videoquota:{AC123}:rooms:pending or videoquota:{AC123}:rate:write. The
// braces are a Redis Cluster hash tag: one account's keys live on one slot, as
// a script needs, and many accounts spread over the cluster's masters. Hand
// New a *redis.ClusterClient for a cluster, or the *redis.Client of
// redis.NewFailoverClient for Sentinel. Every key expires with its last lease
// or token (a lease given with no ttl excepted), but each ledger's epoch and
// the account's generation, which persist; the adaptive factor expires
// 30 s (the ttl a quota.Limiter gives it) after its last adjustment (it is deleted when raised back
// to 1).
//
// # Redis trouble
//
// When Redis cannot be reached (refused, reset, no answer within the
// deadline, a loading or read-only server), the [FailurePolicy] decides:
//
//   - [FailClosed] (the default) returns an *[UnavailableError] naming the
//     operation and wrapping the Redis error; nothing is admitted on an unknown
//     quota. What Twilio reported meanwhile (Hold, Commit, Release: a status
//     callback's Room or Participant, a Room that ended) is not refused but
//     queued, up to 10,000 writes, and a goroutine writes the queue back in
//     order once Redis answers, trying every probe interval; until then
//     every other operation returns an *[UnavailableError] with [ErrBacklog].
//     The crossings of the writes written back late are not reported. The
//     store works again as soon as Redis answers and the queue is written.
//   - [FailLocal] serves from an in-process store holding this process's share
//     of every limit and rate ([WithLocalShare]; for a ledger, its own slots
//     plus its share of the room left, see below), so n replicas with share
//     1/n stay within the quota together. Sync needs the
//     whole account and returns an *[UnavailableError] meanwhile. A refusal of
//     the local share is an *[UnavailableError] whose cause wraps the share's
//     *quota.ExceededError (errors.As finds both). At most once per probe
//     interval ([WithProbeInterval], 250 ms by default) the first operation
//     starts a probe in a goroutine of its own (it does not wait for it): a
//     PING and, when Redis answers, the write-back of what the store did
//     while degraded, each within the deadline; then the store is back on
//     Redis.
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
//     data meanwhile, which a per-ledger epoch key shows (or a new
//     replication ID, after a failover); otherwise they are there already,
//     or were given back through another process and must not return. Every
//     ledger the process knows then refuses reservations for two probe
//     intervals (the grace, a key that releases do not clear; the refusal is
//     an *[UnavailableError] with [ErrGrace]), while the
//     other processes, which probe as often, write theirs back. Then the
//     local store is dropped and operations go to Redis again.
//
// A slot this process took and another process gave back counts against the
// local share until its lease ends: that errs on the safe side.
//
// The local share of a ledger is this process's own slots plus its share of
// the room left at its last reply from Redis, own + floor((Limit-used)*share),
// so that processes that held the quota unevenly still stay within it
// together; without a reply seen it is floor(Limit*share).
//
// # Rates across a failover
//
// Tokens granted from Redis with a wait (up to the callers' deadlines) go out
// whatever happens to Redis. Each process keeps the bucket's arrival time from
// its last reply and the deepest backlog it saw in the last two seconds (the
// others may have booked that far since it looked). A local bucket starts one
// local interval after that horizon, so the tokens already granted go out
// before any local one. On recovery the process pushes its local arrival
// times into Redis (the later one wins) and puts the account into calm for two
// probe intervals: a key that makes every process's Redis buckets run at the
// share of the rate, since other processes may still be serving from their
// local shares.
//
// # Lost data
//
// Redis may lose its data while reachable (a restart without persistence,
// FLUSHALL, a failover to a replica that lost the keys). Every ledger call
// carries the ledger's epoch as this process last saw it; the script that finds
// the epoch gone creates a new one and starts the grace (two probe
// intervals without reservations), and every process that sees the new epoch writes its
// own slots back at once, while no reservation is admitted. Every TakeToken
// carries the account's generation (a persistent key written with the
// account's first bucket) as this process saw it, and the horizon of the
// bucket; a new generation means the buckets were lost: the bucket is
// re-seeded from the horizon (the later of every process's wins), and the
// account goes into calm. This works under either policy: a FailClosed process writes back too.
//
// A process learns of a loss at its next call; with [WithWatch] a goroutine
// looks every interval, so an idle process holding slots writes them back
// within the grace too ([Store.Close] stops it). A replica promoted by a
// failover may have kept the epoch but missed the last writes: the store
// then sees a new replication ID (on recovery under FailLocal, and in the
// watch) and writes all its slots back the same way. Without either, the next
// reconciliation (Sync) restores the ledger from Twilio's list. docs/REDIS-FAILURES.md in the
// repository has the failure model, event by event.
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
