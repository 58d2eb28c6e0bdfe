// Package emulator runs a [videotest.Server] as a program that scripts and
// CI in any language can use: every [videotest.Options] field as a flag and
// an environment variable, fixed development credentials on request, a
// banner with ready-to-paste curl lines, a health endpoint and a graceful
// shutdown. The videotest command (video/videotest/cmd/videotest) and
// examples/emulator are thin mains over [Main].
//
// # Flags and environment
//
// Each flag -name can also be set through $VIDEOTEST_NAME (upper case,
// dashes as underscores: -adhoc-room-type is $VIDEOTEST_ADHOC_ROOM_TYPE); a
// flag on the command line wins over the environment. An invalid value,
// from either source, is an error naming it.
//
// # Credentials
//
// With -dev ($VIDEOTEST_DEV=true) the emulator accepts the fixed, public
// development credentials [videotest.DevAccountSID], [videotest.DevAuthToken],
// [videotest.DevAPIKeySID] and [videotest.DevAPIKeySecret], and the banner
// prints them with curl lines that work as printed. Without -dev the account
// SID, auth token and API key come from -account-sid, -auth-token,
// -api-key-sid and -api-key-secret (or their variables), or are generated.
// A secret given through a flag or the environment is never printed; a
// generated one is printed only with -show-token.
//
// # Endpoints
//
// Beside the Twilio surface (/v1/...), the control API lives under
// /_videotest/ (described by /_videotest/openapi.json), and
// GET /_videotest/health answers 200 {"status":"ok"} without credentials
// once the emulator serves. A browser page, the inspector, is at
// /_videotest/ui/ behind the same Basic auth.
//
// # Shutdown
//
// When ctx ends (SIGINT or SIGTERM in the commands), Main stops accepting
// connections, waits up to [ShutdownGrace] for in-flight requests and then
// for queued callbacks ([videotest.Server.Shutdown]), and returns nil.
package emulator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/videoquota/videoquota/internal/sidmap"
	"github.com/videoquota/videoquota/video/videotest"
)

// DefaultAddr is the address the emulator listens on unless -addr says
// otherwise.
const DefaultAddr = "127.0.0.1:8089"

// ShutdownGrace bounds how long Main waits, once ctx ends, for in-flight
// requests and queued callbacks ([videotest.Server.Shutdown]).
const ShutdownGrace = 3 * time.Second

// EnvPrefix starts the environment variable of every flag.
const EnvPrefix = "VIDEOTEST_"

// config is what the flags fill in.
type config struct {
	opts                    videotest.Options
	dev, showToken, verbose bool
	fakeClock, faults       string
	tokenSource, keySource  string // where a given secret came from: "", "-auth-token", "$VIDEOTEST_AUTH_TOKEN"…
}

// Main parses args (without the program name; name is used in usage
// messages) and the environment through getenv, starts the emulator, prints
// the banner on stdout and serves until ctx ends. Usage and errors go to stderr; logs (-v) go to stderr too. It
// returns an error for bad flags or variables and when it cannot listen;
// flag.ErrHelp for -h.
func Main(ctx context.Context, name string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parse(name, args, stderr, getenv)
	if err != nil {
		return err
	}
	if cfg.verbose {
		cfg.opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := videotest.Start(cfg.opts)
	if err != nil {
		return err
	}
	banner(stdout, srv, cfg)
	fmt.Fprintln(stdout, "videotest: ready (interrupt to stop)")
	<-ctx.Done()
	fmt.Fprintln(stdout, "videotest: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "videotest: shutdown: %v (pending callbacks discarded)\n", err)
	}
	return nil
}

func parse(name string, args []string, stderr io.Writer, getenv func(string) string) (*config, error) {
	c := &config{}
	o := &c.opts
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Addr, "addr", DefaultAddr, "loopback `host:port` to listen on (port 0 = a free one; non-loopback is refused)")
	fs.IntVar(&o.ConcurrentRooms, "rooms", 0, "concurrent in-progress Rooms quota (0 = Twilio's 10,000; -1 = no limit)")
	fs.IntVar(&o.ConcurrentParticipants, "participants", 0, "concurrent connected Participants quota (0 = Twilio's 10,000; -1 = no limit)")
	fs.Float64Var(&o.ReadsPerSecond, "reads", 0, "REST reads (GET) per second (0 = Twilio's 80; -1 = no limit)")
	fs.Float64Var(&o.WritesPerSecond, "writes", 0, "REST writes (POST, DELETE) per second (0 = Twilio's 20; -1 = no limit)")
	fs.IntVar(&o.ReadBurst, "read-burst", 0, "read bucket size (0 = one second's worth)")
	fs.IntVar(&o.WriteBurst, "write-burst", 0, "write bucket size (0 = one second's worth)")
	fs.IntVar(&o.MaxConcurrentRequests, "max-concurrent-requests", 0, "requests in flight at once before 20429 (0 = no limit)")
	fs.DurationVar(&o.RetryAfter, "retry-after", 0, "Retry-After sent on every 429, e.g. 1s (0 = none, as Twilio's Video API)")
	fs.StringVar(&c.fakeClock, "fake-clock", "", "start a fake clock at this RFC 3339 `time`, or \"now\"; it moves only through POST /_videotest/clock/advance (\"\" = real time)")
	fs.BoolVar(&o.AdHocRooms, "adhoc", false, "client-side (ad-hoc) Room creation: a join to an unknown Room name creates it")
	fs.StringVar(&o.AdHocRoomType, "adhoc-room-type", "", "Type of ad-hoc Rooms (\"\" = group)")
	fs.StringVar(&o.AdHocStatusCallback, "adhoc-status-callback", "", "status callback `URL` of ad-hoc Rooms")
	fs.StringVar(&o.AdHocStatusCallbackMethod, "adhoc-status-callback-method", "", "GET or POST (\"\" = POST)")
	fs.StringVar(&o.DebuggerWebhook, "debugger-webhook", "", "Console Debugger webhook `URL` for 53121, 53119 and 53206 events")
	fs.BoolVar(&c.dev, "dev", false, "accept the fixed, public development credentials and print them (see the README)")
	fs.StringVar(&o.AccountSID, "account-sid", "", "account SID to accept (AC + 32 hex digits; \"\" = generated)")
	fs.StringVar(&o.AuthToken, "auth-token", "", "auth token to accept, never printed (alphanumeric; \"\" = generated); prefer $VIDEOTEST_AUTH_TOKEN")
	fs.StringVar(&o.APIKeySID, "api-key-sid", "", "API key SID to accept (SK + 32 hex digits; \"\" = generated)")
	fs.StringVar(&o.APIKeySecret, "api-key-secret", "", "API key secret, never printed (alphanumeric); prefer $VIDEOTEST_API_KEY_SECRET")
	fs.BoolVar(&c.showToken, "show-token", false, "print a generated auth token and API key secret (never ones given by flag or environment)")
	fs.Int64Var(&o.Seed, "seed", 0, "seed of generated SIDs and fault decisions (0 = 1)")
	fs.StringVar(&c.faults, "faults", "", "injected faults as the control API's JSON object, e.g. '{\"rate_429\":0.1}'")
	fs.IntVar(&o.CallbackWorkers, "callback-workers", 0, "goroutines delivering callbacks (0 = 4)")
	fs.DurationVar(&o.CallbackTimeout, "callback-timeout", 0, "bound on each callback delivery attempt (0 = 5s)")
	fs.IntVar(&o.RequestLogSize, "request-log-size", 0, "requests kept for GET /_videotest/requests (0 = 1000; -1 = none)")
	fs.IntVar(&o.CallbackLogSize, "callback-log-size", 0, "delivery attempts kept for GET /_videotest/callbacks (0 = 1000; -1 = none)")
	fs.BoolVar(&c.verbose, "v", false, "log debug messages to stderr (never credentials)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\nRuns the videotest Twilio Video emulator on loopback. Every flag -name can also be set as $%sNAME.\n\n", name, EnvPrefix)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &UsageError{err}
	}
	if fs.NArg() > 0 {
		return nil, &UsageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := EnvName(f.Name)
		v := getenv(env)
		if err != nil || set[f.Name] || v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = &UsageError{fmt.Errorf("$%s: %w", env, e)}
		}
		set[f.Name+"@env"] = true
	})
	if err != nil {
		return nil, err
	}
	switch {
	case set["auth-token"]:
		c.tokenSource = "-auth-token"
	case set["auth-token@env"]:
		c.tokenSource = "$" + EnvName("auth-token")
	}
	switch {
	case set["api-key-secret"]:
		c.keySource = "-api-key-secret"
	case set["api-key-secret@env"]:
		c.keySource = "$" + EnvName("api-key-secret")
	}
	if c.dev {
		if c.tokenSource != "" || c.keySource != "" || o.AccountSID != "" || o.APIKeySID != "" {
			return nil, &UsageError{errors.New("-dev sets the fixed development credentials: give no -account-sid, -auth-token, -api-key-sid or -api-key-secret (nor their $VIDEOTEST_ variables) with it")}
		}
		*o = videotest.DevCredentials(*o)
	}
	for _, f := range [...]struct{ name, prefix, what, v string }{
		{"account-sid", "AC", "Account SID", o.AccountSID},
		{"api-key-sid", "SK", "API Key SID", o.APIKeySID},
	} {
		if _, ok := sidmap.Parse(f.prefix, f.v); f.v != "" && !ok {
			src := "-" + f.name
			if !set[f.name] {
				src = "$" + EnvName(f.name)
			}
			return nil, &UsageError{fmt.Errorf("%s %q: want a Twilio %s, %s followed by 32 hex digits (e.g. %s%032d), or none to have one generated",
				src, f.v, f.what, f.prefix, f.prefix, 0)}
		}
	}
	switch c.fakeClock {
	case "":
	case "now":
		o.Clock = videotest.NewFakeClock(time.Now().UTC().Truncate(time.Second))
	default:
		t, err := time.Parse(time.RFC3339, c.fakeClock)
		if err != nil {
			return nil, &UsageError{fmt.Errorf("-fake-clock %q: want an RFC 3339 time or \"now\"", c.fakeClock)}
		}
		o.Clock = videotest.NewFakeClock(t)
	}
	if c.faults != "" {
		if o.Faults, err = videotest.ParseFaults([]byte(c.faults)); err != nil {
			return nil, &UsageError{fmt.Errorf("-faults: %w", err)}
		}
	}
	return c, nil
}

// EnvName returns the environment variable of flag name: "adhoc-room-type"
// gives "VIDEOTEST_ADHOC_ROOM_TYPE".
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// banner prints where the emulator listens and what a curl user needs. It
// prints a secret only if it is the public development one or a generated
// one shown on request (-show-token).
func banner(w io.Writer, srv *videotest.Server, c *config) {
	u := srv.URL()
	keySID, keySecret := srv.APIKey()
	token, secret := "", ""
	fmt.Fprintf(w, "videotest emulator listening on %s\n", u)
	fmt.Fprintf(w, "account SID:  %s\n", srv.AccountSID())
	switch {
	case c.dev:
		token, secret = srv.AuthToken(), keySecret
		fmt.Fprintf(w, "auth token:   %s  (fixed development credential: public, -dev)\n", token)
		fmt.Fprintf(w, "API key:      %s  secret %s  (fixed development credential)\n", keySID, secret)
	default:
		switch {
		case c.tokenSource != "":
			fmt.Fprintf(w, "auth token:   from %s (not shown)\n", c.tokenSource)
			if strings.HasPrefix(c.tokenSource, "$") {
				token = c.tokenSource
			}
		case c.showToken:
			token = srv.AuthToken()
			fmt.Fprintf(w, "auth token:   %s  (generated, valid for this process only)\n", token)
		default:
			fmt.Fprintln(w, "auth token:   generated, not shown: restart with -dev for the fixed development credentials, or -show-token")
		}
		switch {
		case c.keySource != "":
			fmt.Fprintf(w, "API key:      %s  secret from %s (not shown)\n", keySID, c.keySource)
		case c.showToken:
			fmt.Fprintf(w, "API key:      %s  secret %s  (generated)\n", keySID, keySecret)
		default:
			fmt.Fprintf(w, "API key:      %s  (secret not shown)\n", keySID)
		}
	}
	clock := "real time"
	if _, ok := c.opts.Clock.(*videotest.FakeClock); ok {
		clock = "fake, starting " + srv.Now().UTC().Format(time.RFC3339) + " (POST /_videotest/clock/advance)"
	}
	fmt.Fprintf(w, "clock:        %s\n", clock)
	fmt.Fprintf(w, "control API:  %s/_videotest/  (health: %s/_videotest/health, spec: %s/_videotest/openapi.json)\n", u, u, u)
	fmt.Fprintf(w, "inspector:    %s/_videotest/ui/  (in a browser; sign in with the account SID and auth token)\n", u)
	if token == "" {
		return
	}
	cred := srv.AccountSID() + ":" + token
	if strings.HasPrefix(token, "$") {
		cred = `"` + cred + `"`
	}
	fmt.Fprintln(w, "try:")
	fmt.Fprintf(w, "  curl -u %s -d UniqueName=demo %s/v1/Rooms\n", cred, u)
	fmt.Fprintf(w, "  curl -u %s -d '{\"identity\":\"alice\"}' %s/_videotest/rooms/demo/participants\n", cred, u)
	fmt.Fprintf(w, "  curl -u %s %s/v1/Rooms/demo/Participants\n", cred, u)
}

// Run is [Main] for a command's main function: os.Args, os.Stdout,
// os.Stderr and os.Getenv, serving until ctx ends. It returns the exit code
// (0, 1 on error, 2 on bad usage).
func Run(ctx context.Context) int {
	name := "videotest"
	if len(os.Args) > 0 {
		name = os.Args[0]
	}
	err := Main(ctx, name, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintln(os.Stderr, err) // every error names its package: "emulator: …", "videotest: …"
	var ue *UsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// UsageError is a bad flag, argument or environment variable; Main returns
// it before starting anything.
type UsageError struct{ Err error }

// Error reads "emulator: <what is wrong>".
func (e *UsageError) Error() string { return "emulator: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *UsageError) Unwrap() error { return e.Err }
