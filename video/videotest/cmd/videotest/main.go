// Command videotest runs the videotest Twilio Video emulator on a loopback
// port until interrupted, so programs in any language, curl and CI can use
// it: the Twilio Video v1 and Monitor v1 Alerts REST APIs with Twilio's
// quotas enforced, and a control API under /_videotest/ that joins
// Participants, publishes tracks, advances a fake clock, injects faults and
// reads statistics and logs.
//
//	go install github.com/videoquota/videoquota/video/videotest/cmd/videotest@latest
//	videotest -dev -participants 2
//
// -dev accepts fixed, public development credentials and prints curl lines
// that work as printed. Every flag -name can also be set as
// $VIDEOTEST_NAME; run videotest -h for the list. See the package
// documentation of video/videotest/emulator for credentials, endpoints and
// shutdown.
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
