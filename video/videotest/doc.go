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
// tokens in [Server.ConnectWithToken]. All credentials are alphanumeric, as
// twilio-go requires.
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
//	20003 401  missing or wrong Basic auth (with WWW-Authenticate)
//	20004 405  known path, method not allowed (with Allow)
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
// 53123 (FACTS.md §2.1); 400 is the most plausible choice, as these are
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
// Writes. Unauthenticated requests and those refused by the concurrency limit
// or an injected fault are not charged to the buckets. Monitor /v1/Alerts requests are counted apart ([Stats.MonitorReads])
// and not charged to the Video buckets. With a [FakeClock] the buckets only
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
// Participants are disconnected after MaxParticipantDuration seconds. With a
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
// 53119 and 53206 raise ERROR events the same way. [Server.FlushCallbacks]
// waits for pending deliveries.
//
// # Fault injection
//
// [Faults] (at construction or with [Server.SetFaults]) force 429s (the next
// N requests, or a probability), 500 and 503 answers, added latency and
// dropped connections, and drop, duplicate, delay or reorder callbacks.
// Decisions come from a source seeded with [Options.Seed], so a test that
// sends the same requests in the same order sees the same faults.
//
// # Statistics
//
// [Server.Stats] returns a copy of the counters: requests by class and by
// status, 429s, current and peak rooms and participants, callbacks sent.
// [Server.ResetStats] zeroes them between test phases.
package videotest
