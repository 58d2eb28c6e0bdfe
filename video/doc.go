// Package video is a drop-in, quota-aware client for Twilio Programmable
// Video's REST API, built on twilio-go.
//
// A team replaces twilio-go's
//
//	room, err := twilioClient.VideoV1.CreateRoom(params)
//
// with
//
//	room, err := vq.CreateRoom(ctx, params)
//
// and from then on never sends a request Twilio would reject for rate or
// concurrency, never sees a 20429 it could have avoided, and is told at 70% of
// a quota instead of finding out from a 53119 in production.
//
// # Getting started
//
// [New] takes the Account SID and auth token (or an API key with
// [WithAPIKey]) and functional options, each validated:
//
//	vq, err := video.New(accountSID, authToken,
//		video.WithLimits(quota.Limits{ConcurrentRooms: 500}), // zero fields: Twilio's defaults
//		video.WithThresholds(onThreshold, 0.7, 0.9),
//	)
//	defer vq.Close()
//
// [WithBaseURL] points every Twilio host at another origin, such as a
// [github.com/videoquota/videoquota/video/videotest] emulator in tests.
//
// # The drop-in rule
//
// Every exported method of twilio-go's Video v1 *openapi.ApiService exists on
// [Client] with the same name, a context.Context first, then the same
// parameters and results: Create*, Fetch*, Update*, Delete*, List*, Page*,
// Stream* and their *WithMetadata variants, and RequestHandler. The methods
// are generated from twilio-go by reflection (go generate runs
// internal/gen), and a test fails if any is missing or differs. twilio-go
// still encodes the requests and decodes the responses; errors.As(err,
// &*client.TwilioRestError) works as before.
//
// Stream* methods close their record channel when the listing ends or when
// ctx ends; the error channel then holds the error (ctx.Err() for a
// cancelled stream), and twilio-go's paging goroutine is drained so that
// nothing leaks.
//
// # Context
//
// Cancelling ctx aborts whatever the call is doing: a wait for a rate token,
// a backoff sleep between retries, or the HTTP request in flight. A context
// whose deadline comes before the next rate token fails at once with a
// *quota.RateLimitError whose Cause is quota.CauseLocalDeadline, and sends
// nothing. Each HTTP attempt is also bounded by the HTTP client's timeout
// ([DefaultTimeout], or that of [WithHTTPClient]).
//
// # Rate limits
//
// Twilio allows each account 80 read (GET) and 20 write (POST, DELETE)
// requests per second. Every HTTP request takes a token from the matching
// bucket of a [quota.Limiter]: each page of a listing and each retry too.
// When Twilio answers 20429 although the bucket allowed the request (another
// application on the account, a quota lower than configured), the bucket
// slows down multiplicatively and recovers additively after a quiet interval
// (AIMD), so a misconfigured rate converges instead of hammering Twilio.
//
// [WithMaxInFlight] caps the requests in flight, for accounts that meet the
// platform's API concurrency limit before the Video per-second quota. A
// 20429 error says which limit was most likely met
// (quota.CauseVideoRate or quota.CauseConcurrency, from the
// Twilio-Concurrent-Requests header; see [WithConcurrencyHint]).
//
// # Concurrency ledger
//
// Concurrent Rooms and Participants are accounted in a [quota.Ledger].
// [Client.CreateRoom] reserves a Room slot before sending, commits it under
// the new Room's SID on success and gives it back on failure. Completing a
// Room ([Client.UpdateRoom] with Status=completed) releases it and the
// Participants the Client knew in it; any response the application reads
// that shows a Room completed or a Participant disconnected corrects the
// ledger for free.
//
// When a reservation would exceed the quota, the call fails with a
// *quota.ExceededError (errors.Is(err, quota.ErrExceeded)) without sending
// anything, unless the Client ([WithWaitForCapacity]) or the call
// ([WaitForCapacity]) asked to wait for capacity, bounded by ctx. A 53119 or
// 53206 from Twilio means the ledger is behind (ad-hoc Rooms, other
// applications): it comes back as a *quota.ExceededError with
// quota.SourceTwilio, is not retried, and marks the resource full until
// corrected. Participants join through the client SDKs, so their slots are
// managed through [Client.ReserveParticipant], [Client.CommitParticipant],
// [Client.HoldParticipant] and [Client.ReleaseParticipant], which
// [Client.JoinToken] and [Client.StatusCallbackHandler] use.
//
// Give every Client of an account the same [quota.Store] ([WithStore], for
// instance a Redis store) to share the buckets and the ledger across
// processes; the default is a memory store per Client.
//
// # Retries
//
// A 20429 is retried for every method, since Twilio never processed the
// request, with full-jitter exponential backoff, honouring a Retry-After
// (capped), and under a retry budget that stops retry storms
// ([WithRetry], [backoff.DefaultPolicy]). 5xx and network errors are
// retried only where it is safe: reads, and a CreateRoom with a UniqueName,
// which first looks the Room up by name. When retries run out the error is a
// *backoff.MaxAttemptsError with the attempts, wrapping a
// *quota.RateLimitError (for 20429s) that wraps Twilio's error.
//
// # Validation
//
// Parameters Twilio would reject fail locally with a *[ValidationError]
// and cost no request: a UniqueName or identity over 128 characters,
// MaxParticipants outside the Room type's range, timeouts outside 1..60
// minutes, MaxParticipantDuration outside 600..86400 seconds, malformed SIDs,
// an unknown StatusCallbackMethod.
//
// # Thresholds
//
// [WithThresholds] registers a quota.ThresholdFunc for levels of each
// concurrency quota (default 70%, Twilio's warning 53121). It fires once per
// upward crossing and once when usage falls back under the level (with
// hysteresis), on the ledger's own goroutine, outside every lock and in the
// order of the crossings, so it never blocks a request.
//
// # Observability
//
// [Client.Usage] returns the slots used per resource, the rate and adaptive
// factor per class, and counters of requests, retries, 429s and refusals.
// [WithLogger] logs retries and ledger corrections; secrets never appear in
// logs or errors.
package video
