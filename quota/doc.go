// Package quota keeps a Twilio Video account inside its quotas: the request
// rates (80 reads/s and 20 writes/s by default) and the concurrency of Rooms
// and Participants (10,000 each by default), per Account SID. Package video
// uses it for every call; use it directly to pace or account for work of
// your own.
//
// [Limits] holds an account's quota: a zero field means Twilio's default
// ([DefaultLimits]), [Unlimited] switches a limit off. A [Limiter] paces
// requests through a [Read] and a [Write] token bucket ([Limiter.Wait], one
// token per request, page and retry); it refuses with a [*RateLimitError]
// when the context's deadline cannot be met, and finds the rate the account
// really allows from Twilio's 20429s ([Limiter.Throttled],
// [Limiter.Succeeded]). A [Ledger] counts in-progress Rooms and connected
// Participants: a slot is reserved before a request that would take one
// ([Ledger.Reserve]), committed under the Twilio SID ([Ledger.Commit]) and
// released when the Room or Participant ends ([Ledger.Release]); past the
// quota, Reserve refuses with an [*ExceededError] matching [ErrExceeded]
// and nothing is sent. [WithThresholds] registers a [ThresholdFunc] told of
// each crossing of a level (0.7 by default, as Twilio's warning 53121),
// rising and falling.
//
// Both keep their state in a store: quota/memstore in process (video's
// default), quota/redisstore shared by many processes. What a store
// implements lives in quota/backend, as database/sql/driver does for
// database/sql: a store reports facts and this package builds what users see.
// Forecasts of when a quota would be reached are in quota/forecast.
//
// [NewLedger] and [NewLimiter] return an error for an invalid argument and
// take [Option]s: [WithClock] (the module's one [Clock]), [WithThresholds]
// and [WithLogger]. [ErrClosed] is the module's one "closed" error: errors.Is
// finds it in the errors of a closed Ledger, video.Client or
// redisstore.Store.
package quota
