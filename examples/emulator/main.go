// Command emulator runs the videotest Twilio Video emulator on a loopback
// port until interrupted, so curl, the twilio CLI or programs in other
// languages can use it.
//
//	go run ./examples/emulator -addr 127.0.0.1:8089
//
// It prints the URL and the credentials it accepts. The auth token it prints
// is a throwaway local test credential generated at start (or taken from
// $VIDEOTEST_AUTH_TOKEN); it is printed because curl needs it and it opens
// nothing but this process.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/videoquota/videoquota/video/videotest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "emulator:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on (host:port; non-loopback is refused)")
	rooms := flag.Int("rooms", 0, "concurrent rooms quota (0 = Twilio's 10,000; -1 = off)")
	parts := flag.Int("participants", 0, "concurrent participants quota (0 = 10,000; -1 = off)")
	reads := flag.Float64("reads", 0, "reads per second (0 = 80; -1 = off)")
	writes := flag.Float64("writes", 0, "writes per second (0 = 20; -1 = off)")
	adhoc := flag.Bool("adhoc", false, "enable client-side (ad-hoc) room creation")
	debugger := flag.String("debugger-webhook", "", "Debugger webhook URL for 53121/53119/53206 events")
	verbose := flag.Bool("v", false, "log debug messages to stderr")
	flag.Parse()

	opts := videotest.Options{
		Addr: *addr, ConcurrentRooms: *rooms, ConcurrentParticipants: *parts,
		ReadsPerSecond: *reads, WritesPerSecond: *writes, AdHocRooms: *adhoc,
		DebuggerWebhook: *debugger,
		AccountSID:      os.Getenv("VIDEOTEST_ACCOUNT_SID"),
		AuthToken:       os.Getenv("VIDEOTEST_AUTH_TOKEN"),
	}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := videotest.Start(opts)
	if err != nil {
		return err
	}
	defer srv.Close()

	keySID, _ := srv.APIKey()
	fmt.Printf("videotest emulator listening on %s\n", srv.URL())
	fmt.Printf("account SID: %s\n", srv.AccountSID())
	fmt.Printf("auth token:  %s  (local test credential, valid only for this process)\n", srv.AuthToken())
	fmt.Printf("API key SID: %s  (secret available through videotest.Server.APIKey)\n", keySID)
	fmt.Printf("try: curl -u %s:%s -d UniqueName=demo %s/v1/Rooms\n", srv.AccountSID(), srv.AuthToken(), srv.URL())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Println("shutting down")
	return nil
}
