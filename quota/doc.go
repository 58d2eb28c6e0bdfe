// Package quota keeps a Twilio Video account inside its quotas: the request
// rates (80 reads/s and 20 writes/s by default) and the concurrency of Rooms
// and Participants (10,000 each by default), per Account SID.
//
// Package video uses it for every call; use it directly to pace or account
// for work of your own. What a store implements (backend.Store) lives in
// package quota/backend, as database/sql/driver does for database/sql: a
// store reports facts and this package builds what users see from them.
//
// # Limits
//
// [Limits] holds an account's quota; the zero value of each field means
// Twilio's default ([DefaultLimits]) and [Unlimited] switches a limit off.
//
// # Rate limits
//
// A [Limiter] keeps two token buckets, [Read] (GET) and [Write] (POST,
// DELETE), built on golang.org/x/time/rate. [Limiter.Wait] takes a token for
// each HTTP request, each page of a list and each retry included; when the
// context's deadline cannot be met it fails at once with a
// [*RateLimitError]. When Twilio answers 20429 although the bucket allowed the
// request, [Limiter.Throttled] moves the bucket's rate to what Twilio
// accepted and [Limiter.Succeeded] probes upward gently, never above the
// configured rate, so a rate set too high converges to the real one
// ([Limiter.Factor] times the configured rate) instead of hammering Twilio. The adjustment lives in
// the store: every Limiter of the store shares it, any of them raises it
// again, and it expires 30 s after its last change.
//
// # Concurrency ledger
//
// A [Ledger] counts in-progress Rooms and connected Participants. A request
// that would take a slot reserves it first ([Ledger.Reserve]); the slot is
// committed under the Twilio SID on success ([Ledger.Commit]) and released
// when the Room completes or the Participant leaves ([Ledger.Release]). When
// the quota is used up, Reserve returns an [*ExceededError] matching
// [ErrExceeded] and nothing is sent. Reservations lapse after their TTL, so a
// crashed caller cannot leak a slot; holdings end after [MaxHold], Twilio's
// 24-hour maximum.
//
// # Thresholds
//
// [WithThresholds] registers a [ThresholdFunc] for levels of each quota,
// 0.7 by default like Twilio's warning 53121. It is told once when usage
// rises to a level and once when it falls back under it (with a hysteresis
// of 2% of the quota, at least one slot, so it does not flap). Events from
// Twilio itself reach the same funcs through [Ledger.Notify].
//
// # Stores
//
// A store holds the buckets and the ledger. Package quota/memstore is the
// in-process one (video's default); package quota/redisstore shares one account's quota among many
// processes. Every store operation is atomic, and threshold crossings are
// decided inside the store, so each crossing is reported to exactly one
// caller.
//
// # Options, clock and Close
//
// [NewLedger] and [NewLimiter] return an error for an invalid argument, and
// take one kind of [Option]: [WithClock] (one [Clock] for the module:
// memstore.WithClock and video.WithClock take it too), [WithThresholds] (a
// Ledger's) and [WithLogger] (a Limiter's). [ErrClosed] is the module's one "closed"
// error: a closed Ledger returns it, and errors.Is finds it in the errors of
// a closed video.Client and of a redisstore.Store whose Redis client was
// closed.
package quota
