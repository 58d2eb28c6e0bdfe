package videotest

import (
	"log/slog"
	"time"
)

// Twilio's documented default account quotas and per-room limits
// (https://www.twilio.com/docs/video/programmable-video-limits).
const (
	// DefaultConcurrentRooms is Twilio's default limit of in-progress Rooms per account.
	DefaultConcurrentRooms = 10000
	// DefaultConcurrentParticipants is Twilio's default limit of connected Participants per account.
	DefaultConcurrentParticipants = 10000
	// DefaultReadsPerSecond is Twilio's default Video REST read (GET) quota.
	DefaultReadsPerSecond = 80
	// DefaultWritesPerSecond is Twilio's default Video REST write (POST, DELETE) quota.
	DefaultWritesPerSecond = 20
	// DefaultRoomTimeout is the default EmptyRoomTimeout and UnusedRoomTimeout, in minutes.
	DefaultRoomTimeout = 5
	// DefaultMaxParticipantDuration is the default MaxParticipantDuration in seconds (4 h).
	DefaultMaxParticipantDuration = 14400
	// MaxBodyBytes is the largest request body the emulator accepts (1 MiB).
	MaxBodyBytes = 1 << 20
	// LargeRoomMaxParticipants is the participant cap of a group Room created
	// with LargeRoom=true. Twilio's docs show a Large Room with MaxParticipants
	// 90, and twilio-video.js 2.12.0 describes Large Rooms of 50 to 100
	// Participants (https://github.com/twilio/twilio-video.js/releases/tag/2.12.0).
	LargeRoomMaxParticipants = 100
	// DefaultRequestLogSize is how many requests [Server.Requests] keeps.
	DefaultRequestLogSize = 1000
	// DefaultCallbackLogSize is how many delivery attempts [Server.Callbacks] keeps.
	DefaultCallbackLogSize = 1000
)

// Fixed development credentials, for scripts and CI in any language that
// need no out-of-band secret (as stripe-mock accepts a known test key). They
// are public: set them with [DevCredentials] only on an emulator.
const (
	// DevAccountSID is the fixed development account SID.
	DevAccountSID = "AC00000000000000000000000000000000"
	// DevAuthToken is the fixed development auth token.
	DevAuthToken = "videotestdevelopmentauthtoken000"
	// DevAPIKeySID is the fixed development API key SID.
	DevAPIKeySID = "SK00000000000000000000000000000000"
	// DevAPIKeySecret is the fixed development API key secret.
	DevAPIKeySecret = "videotestdevelopmentapikeysecret"
)

// DevCredentials returns opts with the fixed development credentials
// ([DevAccountSID], [DevAuthToken], [DevAPIKeySID], [DevAPIKeySecret]) in
// place of any others.
func DevCredentials(opts Options) Options {
	opts.AccountSID, opts.AuthToken = DevAccountSID, DevAuthToken
	opts.APIKeySID, opts.APIKeySecret = DevAPIKeySID, DevAPIKeySecret
	return opts
}

// maxParticipantsByType is the per-room participant cap of each room type.
var maxParticipantsByType = map[string]int{
	"group":        50,
	"group-small":  4,
	"peer-to-peer": 10,
	"go":           2,
}

// Options configures a [Server]. The zero value reproduces Twilio's defaults:
// 10,000 concurrent rooms and participants, 80 reads/s and 20 writes/s with a
// one-second burst, no platform concurrency limit, real time, and client-side
// (ad-hoc) room creation off.
//
// Options is a plain struct, not functional options as package video's: it
// is the emulator's whole configuration as a value, filled field for field
// by the videotest command's flags and $VIDEOTEST_ variables (package
// emulator), as http.Server's fields are. What changes while the emulator
// runs (faults, the clock) goes through [Server]'s methods and the control
// API instead. An invalid field makes [Start] fail with an error naming it
// ("videotest: Options.<Field> …"); [NewServer] panics with that error, as
// httptest.NewServer does.
type Options struct {
	// Addr is the loopback address to listen on; "" means 127.0.0.1:0 (a free
	// port). Non-loopback addresses are refused.
	Addr string

	// ConcurrentRooms is the in-progress room quota: 0 means 10,000, negative means no limit.
	ConcurrentRooms int
	// ConcurrentParticipants is the connected participant quota: 0 means 10,000, negative means no limit.
	ConcurrentParticipants int
	// ReadsPerSecond is the GET quota: 0 means 80, negative means no limit.
	ReadsPerSecond float64
	// WritesPerSecond is the POST/DELETE quota: 0 means 20, negative means no limit.
	WritesPerSecond float64
	// ReadBurst is the read bucket size: 0 means one second's worth (the rate, at least 1).
	ReadBurst int
	// WriteBurst is the write bucket size: 0 means one second's worth (the rate, at least 1).
	WriteBurst int
	// MaxConcurrentRequests is the platform API concurrency limit: more requests in
	// flight at once get 20429. 0 or negative means no limit.
	MaxConcurrentRequests int
	// RetryAfter, when positive, is sent as a Retry-After header (whole seconds,
	// rounded up) on every 429. Twilio's Video 429s do not document one, so the
	// default is none.
	RetryAfter time.Duration

	// Clock drives timeouts, timestamps, token expiry and rate buckets; nil means real time.
	Clock Clock

	// AdHocRooms turns client-side room creation on: Connect to an unknown room
	// name creates it. Off, such a Connect fails with 53103.
	AdHocRooms bool
	// AdHocRoomType is the Type of ad-hoc rooms ("" means "group").
	AdHocRoomType string
	// AdHocStatusCallback is the status callback URL of ad-hoc rooms ("" means none).
	AdHocStatusCallback string
	// AdHocStatusCallbackMethod is "POST" (default) or "GET".
	AdHocStatusCallbackMethod string

	// DebuggerWebhook is the Console Debugger webhook URL: 53121 warnings and
	// 53119/53206 errors are POSTed there, signed. "" means none (alerts are still
	// recorded and served by GET /v1/Alerts).
	DebuggerWebhook string

	// AccountSID and AuthToken are the accepted credentials; generated when
	// empty (the SID from Seed, the token from crypto/rand). The SID is AC
	// and 32 hex digits, as Twilio's are and as video.New requires; the
	// token must be alphanumeric (twilio-go rejects anything else).
	AccountSID string
	AuthToken  string
	// APIKeySID (SK and 32 hex digits) and APIKeySecret (alphanumeric) are the
	// API key accepted for Basic auth and used to verify access tokens;
	// generated when both are empty (the secret from crypto/rand). Set both
	// or neither.
	APIKeySID    string
	APIKeySecret string

	// Seed makes generated SIDs and fault decisions repeatable. 0 means 1.
	Seed int64
	// Faults are injected failures; they can be changed later with [Server.SetFaults].
	Faults Faults

	// CallbackWorkers is the number of goroutines delivering callbacks and
	// webhooks (0 means 4).
	CallbackWorkers int
	// CallbackTimeout bounds each callback delivery attempt (0 means 5 s).
	// A #rt connection override on the callback URL shortens it.
	CallbackTimeout time.Duration

	// RequestLogSize is how many requests [Server.Requests] keeps, newest
	// last: 0 means [DefaultRequestLogSize], negative means none.
	RequestLogSize int
	// CallbackLogSize is how many delivery attempts [Server.Callbacks] keeps:
	// 0 means [DefaultCallbackLogSize], negative means none.
	CallbackLogSize int

	// Logger receives debug logs (never credentials); nil means silent.
	Logger *slog.Logger
}

// Faults are failures the emulator injects, deterministically for a given
// [Options.Seed] and request order. Probabilities are in [0, 1]. Injected HTTP
// faults apply to authenticated API requests only, before rate limiting, and
// an injected failure does not consume a rate-limit token.
type Faults struct {
	// Force429 makes the next Force429 requests fail with 20429 regardless of the buckets.
	Force429 int
	// Rate429 is the probability that a request fails with 20429.
	Rate429 float64
	// Rate500 is the probability that a request fails with HTTP 500 (code 20500).
	Rate500 float64
	// Rate503 is the probability that a request fails with HTTP 503 (code 20503).
	Rate503 float64
	// DropRate is the probability that the connection is closed without a response.
	DropRate float64
	// Latency is added (in real time) before every response.
	Latency time.Duration
	// Match, if set, limits HTTP faults to requests for which it returns true.
	Match func(method, path string) bool

	// CallbackDropRate is the probability that a status callback is never sent.
	CallbackDropRate float64
	// CallbackDuplicateRate is the probability that a status callback is sent twice.
	CallbackDuplicateRate float64
	// CallbackDelayRate is the probability that a status callback waits CallbackDelay (real time).
	CallbackDelayRate float64
	// CallbackDelay is the delay applied when CallbackDelayRate fires.
	CallbackDelay time.Duration
	// CallbackReorderRate is the probability that a callback is held back and
	// sent after the next one for the same destination.
	CallbackReorderRate float64
}

func (f Faults) httpActive() bool {
	return f.Force429 > 0 || f.Rate429 > 0 || f.Rate500 > 0 || f.Rate503 > 0 || f.DropRate > 0 || f.Latency > 0
}
