// Command emulator runs the videotest Twilio Video emulator on a loopback
// port until interrupted, so curl, the twilio CLI or programs in other
// languages can use it. It is the installable videotest command
// (video/videotest/cmd/videotest) under another name, kept as the example
// the README has always shown:
//
//	go run ./examples/emulator -dev
//
// -dev accepts the fixed, public development credentials and the banner
// prints them with curl lines that work as printed. Without -dev the auth
// token is yours to choose through $VIDEOTEST_AUTH_TOKEN and is never
// printed (the curl lines then refer to the variable); a generated one is
// shown only with -show-token. Every flag -name can also be set as
// $VIDEOTEST_NAME; run with -h for the list.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/videoquota/videoquota/video/videotest/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := emulator.Run(ctx)
	stop()
	os.Exit(code)
}
