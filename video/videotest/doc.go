// Package videotest is an in-process, loopback emulator of Twilio's
// Programmable Video v1 REST API and Monitor v1 Alerts, which enforces Twilio's
// account quotas the way Twilio does, so clients can be tested offline the way
// net/http/httptest is used for HTTP code.
//
//	srv := videotest.NewServer(videotest.Options{}) // zero value = Twilio's defaults
//	defer srv.Close()
//	video := openapi.NewApiServiceWithClient(srv.Client()) // twilio-go rest/video/v1
//	room, err := video.CreateRoom(&openapi.CreateRoomParams{})
//	psid, err := srv.Connect(*room.Sid, "alice") // a participant joins, as an SDK would
//
// # Wiring twilio-go
//
// twilio-go hardcodes https://video.twilio.com and https://monitor.twilio.com.
// [Server.Transport] is an http.RoundTripper that sends every request to the
// emulator whatever its host, keeping the Host header, and [Server.Client]
// returns a ready *client.Client (account SID + auth token). Both hosts are
// served by the same server and routed by path. [Server.APIKey] gives an API
// key (SK…) that is also accepted for Basic auth and that verifies access
// tokens in [Server.ConnectWithToken]. The SIDs are Twilio's shape (two
// letters and 32 hex digits) and the secrets alphanumeric, as twilio-go
// and video.New require.
//
// # Surface
//
// Rooms (create, list with Status/UniqueName/DateCreatedAfter/Before and
// paging, fetch by SID or by UniqueName of an in-progress room, update
// Status=completed), Participants (list/filter, fetch by SID or connected
// identity, update Status=disconnected, Anonymize), Published and Subscribed
// Tracks (tracks come from [Server.PublishTrack]), Subscribe Rules, Recording
// Rules, Room Recordings, Transcriptions, Recordings, Compositions,
// Composition Hooks, CompositionSettings/Default, RecordingSettings/Default,
// and Monitor GET /v1/Alerts and /v1/Alerts/{Sid}. Requests are form-encoded
// with repeated keys for arrays and JSON strings for rule and layout objects,
// as twilio-go sends them; responses use the spec's status codes (create 201,
// room and participant update 202, delete 204), JSON field names and nulls.
// Lists carry Twilio's meta block with absolute URLs built from the request's
// Host; PageSize is 1..1000 (default 50); Page and PageToken both work.
// Rooms, recordings, compositions, hooks and alerts are listed newest first;
// participants in join order.
//
// # Errors
//
// Failures use Twilio's legacy body {"code","message","more_info","status"}
// with the matching HTTP status. One table in the code maps codes to
// statuses ([HTTPStatus]):
//
//	20001 400  invalid or missing parameter, malformed form
//	20003 401  missing or wrong Basic auth (with WWW-Authenticate); the message
//	           is Twilio's: "Authentication Error - No credentials provided",
//	           "Authentication Error - invalid username" or "Authenticate"
//	20004 405  known path, method not allowed (with Allow; HEAD included)
//	20404 404  unknown path or resource, wrong SID format in a path
//	20413 413  body over 1 MiB (emulator-specific code)
//	20429 429  rate or concurrency limit, or an injected 429
//	20500 500, 20503 503  injected faults
//	53100/53101 400  bad or too long UniqueName
//	53107 400  MaxParticipants out of range for the room type
//	53110/53111 400  bad StatusCallbackMethod / StatusCallback
//	53112 400  invalid status change (room not in progress, Status not completed)
//	53113 400  UniqueName already in progress
//	53119 400  concurrent Rooms quota exceeded
//	53123 400  MaxParticipantDuration outside 600..86400
//
// Twilio does not document the HTTP status of 53107, 53110-53113, 53119 and
// 53123 (https://www.twilio.com/docs/api/errors lists their codes and
// messages, not their statuses); 400 is the most plausible choice, as these are
// client request errors and legacy Twilio APIs answer those with 400.
// [Server.Connect], [Server.Disconnect] and [Server.ConnectWithToken] return
// *[Error] with SDK-side codes: 53103, 53105, 53106, 53118, 53200, 53201,
// 53204, 53206, 20101, 20104, 20105, 20107, 20157.
//
// # Quotas and the rate-window model
//
// Concurrent rooms are in-progress rooms (REST and ad-hoc); concurrent
// participants are connected ones. Creating a room past
// [Options.ConcurrentRooms] gives 53119; connecting past
// [Options.ConcurrentParticipants] gives 53206; a room holds at most
// MaxParticipants (group 50, group-small 4, peer-to-peer 10, go 2), past which
// Connect gives 53105. A duplicate identity replaces the earlier participant,
// so the count does not grow.
//
// Twilio does not publish its rate window. The emulator uses one token bucket
// per class (golang.org/x/time/rate, driven by the injected clock through
// AllowN(now, 1)) with rate = quota per second and burst = one second's worth
// (ReadBurst/WriteBurst override it). Every authenticated Video request counts
// once, each page of a list and each retry included: GET is a read, POST and
// DELETE are writes. A throttled request still counts in [Stats] Reads or
// Writes. Unauthenticated requests, methods the path does not allow (405,
// HEAD included) and requests refused by the concurrency limit or an injected
// fault are not charged to the buckets. Monitor /v1/Alerts requests are
// counted apart ([Stats.MonitorReads]) and not charged to the Video buckets. With a [FakeClock] the buckets only
// refill when the clock advances. [Options.MaxConcurrentRequests] models the
// platform concurrency limit: more requests in flight gives 20429 too. Every
// response carries Twilio-Request-Id (RQ…) and Twilio-Concurrent-Requests;
// 429s carry Retry-After only if [Options.RetryAfter] is set.
//
// # Room lifecycle
//
// REST rooms end after UnusedRoomTimeout minutes if nobody joins and after
// EmptyRoomTimeout minutes once the last participant left (both 1..60, default
// 5). Ad-hoc rooms (Connect to an unknown name with [Options.AdHocRooms]) end
// when their last participant leaves. Completing a room disconnects its
// participants, completes its recordings and stops its transcriptions.
// Participants are disconnected after MaxParticipantDuration seconds.
// [Server.Reconnecting] shows a Participant whose SDK is re-establishing its
// connection as "reconnecting" (it keeps its place and its quota slot) until
// [Server.Reconnected] or [Server.Disconnect]. A group Room created with
// LargeRoom=true holds up to [LargeRoomMaxParticipants]. A Composition is
// enqueued, then processing one second later, then completed five seconds
// after that, with the Room's duration, a size and a bitrate; Twilio documents
// the order of these states, the durations are the emulator's. With a
// [FakeClock], [FakeClock.Advance] fires these timeouts synchronously.
//
// # Callbacks and the Debugger webhook
//
// Rooms with a StatusCallback (or [Options.AdHocStatusCallback]) receive
// room-created, room-ended, participant-connected, participant-disconnected,
// track-added, track-removed, track-enabled, track-disabled,
// recording-started and recording-completed (tracks are simulated with
// [Server.PublishTrack], [Server.SetTrackEnabled] and [Server.UnpublishTrack]),
// with the documented fields, as a POST form or a GET query per StatusCallbackMethod, signed with
// X-Twilio-Signature ([Signature]) exactly as Twilio signs, so twilio-go's
// client.RequestValidator accepts them. Delivery is asynchronous: an
// unbounded queue served by worker goroutines, so API requests never wait.
// When in-progress rooms or connected participants reach 70% of their quota
// (once per upward crossing, re-armed below 70%), a 53121 WARNING is recorded
// as a Monitor alert and POSTed, signed, to [Options.DebuggerWebhook] as
// Twilio's Debugger does (Sid NO…, AccountSid, Timestamp, Level, PayloadType,
// Payload JSON with resource_sid, service_sid, error_code and more_info
// {resource: rooms|participants, used, limit}), with I-Twilio-Idempotency-Token.
// 53119 and 53206 raise ERROR events the same way. Compositions with a
// StatusCallback receive composition-enqueued, composition-started and
// composition-available. A failed delivery is retried only as Twilio's
// webhook connection overrides say
// (https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides):
// by default once, immediately, when no connection could be made; a
// #rc=N&rp=...&ct=...&rt=...&tt=... fragment on the callback URL changes the
// count, the failures retried (ct, rt, 4xx, 5xx, all) and the timeouts. That
// page documents the overrides for Twilio's webhooks in general; no Video
// page documents callback retries, so the emulator applies the general rule.
// The fragment is neither requested nor signed. [Server.Callbacks] lists every
// attempt; [Server.FlushCallbacks] waits for pending deliveries.
//
// # Fault injection
//
// [Faults] (at construction or with [Server.SetFaults]) force 429s (the next
// N requests, or a probability), 500 and 503 answers, added latency and
// dropped connections, and drop, duplicate, delay or reorder callbacks.
// Decisions come from a source seeded with [Options.Seed], so a test that
// sends the same requests in the same order sees the same faults.
//
// # Subaccounts
//
// The emulator serves the Accounts resource of Twilio's 2010-04-01 API
// (https://www.twilio.com/docs/iam/api/account): POST, GET and list
// /2010-04-01/Accounts.json and GET and POST /2010-04-01/Accounts/{Sid}.json
// (twilio-go's ApiV2010.CreateAccount, FetchAccount, ListAccount and
// UpdateAccount). Each subaccount, made that way, with [Server.CreateAccount]
// or with the control API's POST /_videotest/accounts, is a [Server] of its
// own reached at the main account's URL: its own auth token and API key, its
// own quotas (Twilio's defaults unless [AccountOptions] or
// [Server.SetLimits] say otherwise), its own Rooms, statistics and Monitor
// alerts, and status callbacks and Debugger events (with ParentAccountSid)
// signed with its own token. Video v1 requests act on the account whose
// credentials authenticate them, so the main account's credentials do not
// reach a subaccount's Rooms (404), and a subaccount's credentials reach
// neither the main account nor its siblings in the Accounts resource (404),
// as https://www.twilio.com/docs/iam/api/subaccounts describes. The
// statuses and codes Twilio does not document (a subaccount creating a
// subaccount, a suspended account's credentials: 20003, HTTP 401) are this
// emulator's choice.
//
// # Statistics
//
// [Server.Stats] returns a copy of the counters: requests by class and by
// status, 429s, current and peak rooms and participants, callbacks sent.
// [Server.ResetStats] zeroes them between test phases. [Server.Requests] is a
// bounded log of API requests (method, path, status, code, class,
// throttled); [Server.Reset] discards every resource and counter.
//
// # Control API and the videotest command
//
// Beside the Twilio surface, paths under /_videotest/ are a JSON control API
// over the methods above, for tests in any language: connect a Participant
// (by identity, or with an access token from any Twilio helper library),
// disconnect it, put it through reconnection, publish, pause and unpublish
// tracks, complete a Room, advance a [FakeClock], set and clear faults
// ([ParseFaults] reads their JSON form), read statistics, the request log
// and the callback deliveries, flush callbacks and reset. It takes the API's
// Basic auth, is not rate limited, faulted or logged, and is described by
// [ControlOpenAPI] (also served at /_videotest/openapi.json). GET
// /_videotest/health answers without credentials, and /_videotest/sink/...
// is a status callback receiver that checks X-Twilio-Signature, for scripts
// that have none. The videotest command (cmd/videotest, built on package
// emulator) serves all this on a loopback port, with every [Options] field
// as a flag and an environment variable and, with -dev, the fixed
// development credentials of [DevCredentials].
//
// # Inspector
//
// /_videotest/ui/ is a page for a browser, behind the same Basic auth: the
// Rooms with their Participants and tracks, the request log, the callbacks
// sent, Monitor Alerts, quota gauges, the faults and the clock, kept live
// by server-sent events, with POST forms to connect a simulated
// Participant, advance a fake clock and set faults. Its assets are
// embedded; a GET changes nothing; what it shows is bounded (a page of
// Rooms, the newest log entries), and no secret is on it.
package videotest
