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
//	if err != nil {
//		return err // a *ConfigError naming the argument or option
//	}
//	defer vq.Close()
//
// [WithBaseURL] points every Twilio host at another origin, such as a
// [github.com/videoquota/videoquota/video/videotest] emulator in tests. An
// invalid argument or option makes New fail with a *[ConfigError] naming it.
//
// # The drop-in rule
//
// Every exported method of twilio-go's Video v1 *openapi.ApiService exists on
// [Client] with the same name, a context.Context first, then the same
// parameters and results: Create*, Fetch*, Update*, Delete*, List*, Page*,
// Stream* and their *WithMetadata variants, and RequestHandler. The methods
// are generated from twilio-go by reflection (go generate runs
// internal/gen), and a test fails if any is missing or differs. twilio-go
// still encodes the requests and decodes the responses; errors.As with a
// *client.TwilioRestError target works as before.
//
// Stream* methods close their record channel when the listing ends or when
// ctx ends; the error channel then holds the error (ctx.Err() for a
// cancelled stream), and twilio-go's paging goroutine is drained so that
// nothing leaks.
//
// # Context
//
// Every method checks ctx before anything else: a nil ctx fails with an
// error saying so (as net/http's NewRequestWithContext does) and an ended
// one with ctx.Err(), and nothing is reserved or sent. Cancelling ctx aborts
// whatever the call is doing: a wait for a rate token, for a slot of
// [WithMaxInFlight] or for capacity ([WaitForCapacity]), a backoff sleep
// between retries, or the HTTP request in flight. A context whose deadline
// comes before the next rate token fails at once with a *quota.RateLimitError
// whose Cause is quota.CauseLocalDeadline, and sends nothing. Each HTTP
// attempt is also bounded by [DefaultTimeout] ([WithAttemptTimeout], or a
// positive Timeout of the [WithHTTPClient] client, changes it).
//
// # Closing
//
// [Client.Close] ends everything the Client does, as http.Server.Close does:
// calls waiting or on the wire return [ErrClosed], nothing is sent after
// Close returns, every later call fails with ErrClosed, and
// [Client.RunReconciler] and [Client.PollAlerts] return. A second Close does
// nothing. See Close for the order, and for Close called from a callback.
//
// # Rate limits
//
// Twilio allows each account 80 read (GET) and 20 write (POST, DELETE)
// requests per second. Every HTTP request takes a token from the matching
// bucket of a [quota.Limiter]: each page of a listing and each retry too.
// When Twilio answers 20429 although the bucket allowed the request (another
// application on the account, a quota lower than configured), the bucket
// moves to the rate Twilio accepted and probes upward gently (see
// quota.Limiter), so a misconfigured rate converges to the real one instead
// of hammering Twilio. [Client.Usage] and videoquota.rate.estimate report the
// rate the account appears to allow, and one Warn line says so when it
// settles far below the configured quota.
//
// [WithMaxInFlight] caps the requests in flight, for accounts that meet the
// platform's API concurrency limit before the Video per-second quota. A
// 20429 error says which limit was most likely met
// (quota.CauseVideoRate or quota.CauseConcurrency, from the
// Twilio-Concurrent-Requests header; see [WithConcurrencyHint]).
//
// # Priorities and tenants
//
// When callers wait for tokens, they wait in the Client by level
// ([WithPriority]: [PriorityCritical], [PriorityNormal] by default,
// [PriorityBackground]) and inside a level by weighted fair queuing between
// tenants ([WithTenant], weights from [WithTenantPolicy]); lower levels get
// guaranteed shares ([WithPriorityShares]). Completions and disconnections
// are critical by default; the Client's reconciler and alert poller
// background. A tenant's [TenantPolicy].Limits cap its concurrent Rooms and
// Participants across every Client of the store; a tenant at its cap is
// refused with a *quota.ExceededError whose Tenant names it. Usage's
// Priorities and Tenants (per class), [Client.PriorityUsage] and
// [Client.TenantUsage] report the queues, the refusals and the caps. With a
// store that orders takers across its clients (the Redis store; see
// backend.FairStore) the order holds between the Clients of every process;
// Clients sharing a memory store share its rate first come first served.
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
// # Unknown outcomes
//
// A request that may have reached Twilio and whose answer the Client never
// saw (the connection failed after sending, ctx ended while it was on the
// wire, a 5xx) keeps its slot pending: it is never given back on a guess,
// so the ledger never undercounts. The Client keeps what the other sources
// need to settle it, and the first that knows does: the create's retry
// finding the Room by UniqueName; a room-created (or participant-connected)
// callback for that UniqueName, or for an unnamed create a Room the Client
// knows nothing of, once no unnamed create is in flight (until then such a
// Room is held on its own: it may be the Room of the create in flight; a
// Client given a store with [WithStore] never settles a create this way,
// since another process's create may have made the Room); a
// [Client.Reconcile] started more than the request window (the attempt
// timeout in force: [DefaultRequestWindow]) after the request was last on
// the wire (the listing
// shows every Room that exists, so the reservation is given back); else the
// reservation's TTL ([WithReservationTTL]). A 4xx, or a request never sent,
// created nothing: its slot is given back at once.
//
// With several processes on one store behind one callback URL, a callback
// settles what any of them made: JoinToken reservations are keyed the same
// in every process ([ParticipantReservationKey]) and committed by whichever
// process hears the Participant connect, and the store remembers ended
// Room and Participant SIDs (backend.EndedTTL), so that a late room-created
// or participant-connected heard by the process that did not see the end
// holds nothing.
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
// Give every Client of an account the same [backend.Store] ([WithStore], for
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
// order the store decided the crossings, so it never blocks a request. The
// event's Source says where the crossing was learnt: the Client's own call,
// a callback, a reconciliation, or Twilio's own 53121, which is delivered
// only when the level was not already reported rising, by this Client or by
// another sharing the store (the store's usage is then past the level).
//
// # Twilio's events keep the ledger true
//
// Participants join through the client SDKs and ad-hoc Rooms appear without
// a REST call, so the Client also listens to what Twilio reports:
//
//	mux.Handle("/twilio/status", vq.StatusCallbackHandler(video.WithCloseEmptyRooms(video.DefaultCloseGrace)))
//	mux.Handle("/twilio/debugger", vq.AlertHandler())
//	go vq.RunReconciler(ctx, time.Minute)
//
// Each of these does one job:
//
//   - [Client.StatusCallbackHandler] is the Room StatusCallback (REST Rooms)
//     and the ad-hoc Rooms' callback: it checks X-Twilio-Signature (403
//     otherwise, see [WithPublicURL] behind a proxy) and applies room-created,
//     room-ended, participant-connected and participant-disconnected to the
//     ledger once each, whatever the duplicates and the order of delivery.
//     [WithCloseEmptyRooms] completes a REST Room as soon as its last
//     Participant left, instead of holding the slot for Twilio's 5-minute
//     EmptyRoomTimeout; [OnRoomEvent] passes the events on.
//   - [Client.AlertHandler] is the Console Debugger webhook: Twilio's own
//     53121 (70% of a quota) reaches the threshold funcs with
//     quota.SourceTwilio, and 53119/53206 mark the resource full. Without a
//     public URL, [Client.PollAlerts] reads the Monitor Alerts API instead,
//     on a small read budget of its own.
//   - [Client.JoinToken] mints an access token for ad-hoc Rooms (or REST
//     ones) after reserving the Participant slot, unless that identity is
//     already connected in the Room (Twilio replaces it, error 53205), and
//     the Room slot unless the Client created, is creating or saw the Room in
//     progress: past the quota it returns the typed error and no token. The
//     reservation is confirmed by the participant-connected callback and
//     lapses with the token otherwise.
//   - [Client.Reconcile] corrects the ledger within a read budget (the
//     interval × [WithReadShare] of the read quota: 480 reads a minute by
//     default), reporting the [Drift] ([OnDrift]); [Client.RunReconciler]
//     runs it periodically. Every pass makes the Rooms exact (⌈N/1000⌉
//     reads at N Rooms); Participants cost one read per Room, so each pass
//     lists the Rooms where drift is likely first, then the others round
//     robin. A lost Room callback is corrected at the next pass, a lost
//     Participant callback within [Drift.Sweep] passes (22 at 10,000 Rooms
//     and the defaults); see the cost model at [Client.Reconcile].
//
// # Sharing a quota between processes
//
// The buckets and the ledger live in a [backend.Store]: a memory store per
// Client by default. Replicas of an application share one account's quotas
// through the Redis store of package
// [github.com/videoquota/videoquota/quota/redisstore], given to each Client
// with [WithStore]:
//
//	store, err := redisstore.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}),
//		redisstore.WithFailurePolicy(redisstore.FailLocal), redisstore.WithLocalShare(1.0/4))
//	vq, err := video.New(accountSID, authToken, video.WithStore(store))
//
// Every store operation is one atomic script, so the quota holds across
// processes and each threshold crossing fires in exactly one of them. While
// Redis is down, the store's failure policy either refuses (FailClosed) or
// serves each process's share of the quota locally (FailLocal).
//
// # Many accounts: subaccounts
//
// Twilio's Video quotas belong to each Account SID and are not shared with
// subaccounts; each subaccount signs its webhooks with its own auth token
// (https://www.twilio.com/docs/video/guide-to-scaling-applications,
// https://www.twilio.com/docs/iam/api/subaccounts). [Accounts] serves many
// accounts from one process: [NewAccounts] takes an [AccountLookup] that
// returns an account's [Account] (auth token, optional API key, quotas),
// [Accounts.Client] makes each account's Client on first use (one lookup
// for concurrent first uses) and caches it, [Accounts.StatusCallbackHandler]
// and [Accounts.AlertHandler] are one endpoint for every account, routed by
// AccountSid and checked with that account's token, [Accounts.Reconcile]
// visits the accounts with work, each within its own read share, and idle
// Clients are dropped after [WithIdleEviction], never while their account
// holds slots. The Clients share one transport, store, meter provider and
// logger; [WithAccountMetrics] makes the metrics per account.
//
// # Testing with the emulator
//
// Package [github.com/videoquota/videoquota/video/videotest] is an
// in-process emulator of Twilio's Video and Monitor APIs on loopback that
// enforces the quotas as Twilio does (20429, 53119, 53206), delivers signed
// status callbacks and Debugger events, connects Participants as an SDK
// would, and injects faults (forced 429s, 5xx, dropped connections, dropped,
// duplicated or reordered callbacks). Point a Client at it with
// [WithBaseURL]:
//
//	srv := videotest.NewServer(videotest.Options{ConcurrentRooms: 10})
//	defer srv.Close()
//	keySID, keySecret := srv.APIKey()
//	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
//		video.WithAPIKey(keySID, keySecret),                   // JoinToken signs with an API key
//		video.WithLimits(quota.Limits{ConcurrentRooms: 10})) // the emulator's quota
//
// # Metrics
//
// [WithMeterProvider] records the Client's metrics through an OpenTelemetry
// MeterProvider (the application picks the exporter: Prometheus, OTLP...);
// without it nothing is recorded. The library depends only on the
// go.opentelemetry.io/otel/metric API. Instruments (scope [MeterName]):
//
//	videoquota.concurrency.usage        {slot}        Rooms/Participants held plus reserved    resource
//	videoquota.concurrency.limit        {slot}        the concurrency quota                    resource
//	videoquota.concurrency.utilization  1             usage / limit (Twilio warns at 0.7)      resource
//	videoquota.concurrency.full         1             1 while marked full after a 53119/53206  resource
//	videoquota.concurrency.refusals     {refusal}     calls refused for a concurrency quota    resource, source
//	videoquota.reservations.pending     {reservation} reservations pending in the store        resource
//	videoquota.requests                 {request}     HTTP requests by outcome                 class, outcome
//	videoquota.rate.limit               {request}/s   configured rate quota                    class
//	videoquota.rate.factor              1             adaptive factor (1 = not slowed down)    class
//	videoquota.rate.estimate            {request}/s   rate the account appears to allow        class
//	videoquota.rate.tokens              {request}     tokens left in the bucket                class
//	videoquota.limiter.wait             s             wait for a rate token (histogram)        class
//	videoquota.retries                  {retry}       requests sent again                      class, retry.cause
//	videoquota.throttles                {episode}     onsets of throttling by Twilio           class
//	videoquota.threshold.events         {event}       threshold crossings, 53121, 53119/53206  resource, threshold.level, direction, source, twilio.code
//	videoquota.reconcile.runs           {run}         reconciliations completed                -
//	videoquota.reconcile.drift          {slot}        holdings added/removed by reconcile      resource, direction
//	videoquota.callbacks                {callback}    Twilio events received                   delivery, outcome
//
// Attribute keys carry the videoquota. prefix ([AttrResource], [AttrClass],
// [AttrOutcome], ...). Request outcomes are success, throttled (429), error,
// network_error and refused (no rate token before the deadline; not sent);
// callback outcomes are accepted, duplicate, stale, rejected and failed.
// Every value comes from a small fixed set or the configured threshold
// levels: no SID, identity, URL or secret is ever an attribute. The gauges
// and request counts are read at collection time from counters the Client
// keeps anyway, so requests do no extra work; only waits that actually
// happened and rare events are recorded as they occur. Threshold events are
// counted at the levels given to [WithThresholds] (0.7 when none). Several
// Clients recording into one MeterProvider are told apart with
// [WithMetricAttributes]. examples/metrics serves them all to Prometheus.
//
// Tokens left and pending reservations come from stores that implement
// backend.Inspector (quota/memstore and quota/redisstore do); with another
// store there is no tokens series and the pending gauge counts this Client's
// JoinToken reservations only.
//
// # Logging and usage
//
// [WithLogger] takes a *slog.Logger (nil, the default, is silent). Twilio
// throttling logs one Warn line when it starts (with the likely cause) and
// one Info line when it is over (no 429 for a recovery interval and the
// adaptive rate back to the configured one), never a line per request; a
// 53119/53206 from Twilio, failed ledger updates and rejected webhooks log
// at Warn, reconciliations that corrected something at Info, retries and
// per-call details at Debug. Secrets never appear in logs or errors.
// [Client.Usage] returns a snapshot of the slots used, the rates and the
// counters, for code that wants them without a metrics pipeline.
//
// # Status page, forecast and peak report
//
// [Client.StatusHandler] is a read-only http.Handler, mounted where the
// application chooses (never on a default mux): a self-contained page for a
// browser, the same state as a [StatusReport] for Accept: application/json,
// and the peak report as CSV or JSON. [Client.Status] returns the report.
// Each resource's usage trend, over a short and a long window, forecasts
// when its quota would be reached ([forecast.Forecast], in Usage, on the page
// and as videoquota.concurrency.forecast); [WithForecast] is told when both
// windows predict it within a horizon, and when they stop. The peak report
// keeps the highest concurrent Rooms and Participants of each hour for
// [WithPeakPeriod], in the store when it implements backend.PeakRecorder,
// so that every process sharing it reports the account's peak.
package video
