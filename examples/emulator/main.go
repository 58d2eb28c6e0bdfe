// Command emulator runs the videotest Twilio Video emulator on a loopback
// port until interrupted, so curl, the twilio CLI or programs in other
// languages can use it.
//
//	go run ./examples/emulator -addr 127.0.0.1:8089
//
// It prints the URL and the account SID it accepts. The auth token is yours
// to choose through $VIDEOTEST_AUTH_TOKEN (alphanumeric, as twilio-go
// requires) and is never printed; without it a random one is generated, and
// shown only with -show-token.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/videoquota/videoquota/video/videotest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "emulator:", err)
		stop()
		os.Exit(1)
	}
}

// run parses args, serves until ctx ends, and reports on stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on (host:port; non-loopback is refused)")
	rooms := fs.Int("rooms", 0, "concurrent rooms quota (0 = Twilio's 10,000; -1 = off)")
	parts := fs.Int("participants", 0, "concurrent participants quota (0 = 10,000; -1 = off)")
	reads := fs.Float64("reads", 0, "reads per second (0 = 80; -1 = off)")
	writes := fs.Float64("writes", 0, "writes per second (0 = 20; -1 = off)")
	adhoc := fs.Bool("adhoc", false, "enable client-side (ad-hoc) room creation")
	debugger := fs.String("debugger-webhook", "", "Debugger webhook URL for 53121/53119/53206 events")
	verbose := fs.Bool("v", false, "log debug messages to stderr")
	showToken := fs.Bool("show-token", false, "print a generated auth token (never one taken from $VIDEOTEST_AUTH_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := videotest.Options{
		Addr: *addr, ConcurrentRooms: *rooms, ConcurrentParticipants: *parts,
		ReadsPerSecond: *reads, WritesPerSecond: *writes, AdHocRooms: *adhoc,
		DebuggerWebhook: *debugger,
		AccountSID:      getenv("VIDEOTEST_ACCOUNT_SID"),
		AuthToken:       getenv("VIDEOTEST_AUTH_TOKEN"),
	}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := videotest.Start(opts)
	if err != nil {
		return err
	}
	defer srv.Close()

	keySID, _ := srv.APIKey()
	fmt.Fprintf(stdout, "videotest emulator listening on %s\n", srv.URL())
	fmt.Fprintf(stdout, "account SID: %s\n", srv.AccountSID())
	token := "$VIDEOTEST_AUTH_TOKEN"
	switch {
	case opts.AuthToken != "":
		fmt.Fprintln(stdout, "auth token:  the value of $VIDEOTEST_AUTH_TOKEN")
	case *showToken:
		token = srv.AuthToken()
		fmt.Fprintf(stdout, "auth token:  %s  (generated, valid only for this process)\n", token)
	default:
		token = "TOKEN"
		fmt.Fprintln(stdout, "auth token:  generated and not shown; set $VIDEOTEST_AUTH_TOKEN to choose it, or pass -show-token")
	}
	fmt.Fprintf(stdout, "API key SID: %s  (its secret: videotest.Server.APIKey, in process)\n", keySID)
	fmt.Fprintf(stdout, "try: curl -u %s:%s -d UniqueName=demo %s/v1/Rooms\n", srv.AccountSID(), token, srv.URL())

	<-ctx.Done()
	fmt.Fprintln(stdout, "shutting down")
	return nil
}
