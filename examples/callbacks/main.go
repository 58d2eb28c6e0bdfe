// Command callbacks is an HTTP server that keeps videoquota's ledger true to
// what Twilio reports: the Room status callback handler (participants joining
// and leaving, Rooms starting and ending, empty Rooms completed at once) and
// the Console Debugger webhook handler (warning 53121 at 70% of a quota,
// errors 53119/53206), both checking X-Twilio-Signature.
//
// By default it runs a short demo against an embedded emulator
// (github.com/videoquota/videoquota/video/videotest) that delivers real,
// signed callbacks to this server, then exits. With -serve it keeps serving
// (reconciling with Twilio every minute) until interrupted; point Twilio's
// StatusCallback and the Debugger webhook at -public.
//
//	go run ./examples/callbacks
//	go run ./examples/callbacks -serve -addr 127.0.0.1:8080
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	serve := flag.Bool("serve", false, "keep serving after the demo until interrupted")
	flag.Parse()
	if err := run(os.Stdout, *addr, *serve); err != nil {
		fmt.Fprintln(os.Stderr, "callbacks:", err)
		os.Exit(1)
	}
}

// printer serialises output from handler goroutines.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

func run(w io.Writer, addr string, serve bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	out := &printer{w: w}

	// Listen first: the emulator needs the handlers' URLs.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	statusURL, debuggerURL := base+"/twilio/status", base+"/twilio/debugger"

	// The emulator stands in for Twilio: a quota of 10 Rooms so that the
	// demo reaches 70%, ad-hoc Rooms reporting to our handler, and the
	// Debugger webhook pointed at us.
	srv, err := videotest.Start(videotest.Options{
		ConcurrentRooms:     10,
		AdHocRooms:          true,
		AdHocStatusCallback: statusURL,
		DebuggerWebhook:     debuggerURL,
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()

	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithLimits(quota.Limits{ConcurrentRooms: 10}),
		video.WithThresholds(func(e quota.Event) {
			dir := "fell under"
			if e.Rising {
				dir = "reached"
			}
			out.printf("threshold: %s %s %.0f%% (%d of %d, code %d, reported by %s)\n",
				e.Resource, dir, e.Level*100, e.Used, e.Limit, e.Code, e.Source)
		}))
	if err != nil {
		ln.Close()
		return err
	}
	defer vq.Close()

	mux := http.NewServeMux()
	mux.Handle("/twilio/status", vq.StatusCallbackHandler(
		video.WithCloseEmptyRooms(0), // the demo has no reconnecting clients; use video.DefaultCloseGrace
		video.OnRoomEvent(func(e video.RoomEvent) {
			if e.Event == video.EventRoomEnded || e.Event == video.EventRoomCreated {
				out.printf("callback: %s %s\n", e.Event, e.RoomName)
			}
		})))
	mux.Handle("/twilio/debugger", vq.AlertHandler(video.OnAlert(func(a video.AlertEvent) {
		out.printf("debugger: %s %d\n", a.Level, a.Code)
	})))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	out.printf("serving the status callback handler and the Debugger webhook on %s\n", base)

	if err := demo(ctx, out, srv, vq, statusURL); err != nil {
		return err
	}
	if !serve {
		return nil
	}
	out.printf("serving until interrupted; reconciling every minute\n")
	if err := vq.RunReconciler(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// demo creates 6 REST Rooms reporting to our handler, lets 20 Participants
// join (2 of them in an ad-hoc Room, the 7th Room: 70% of the quota), lets
// everyone leave one REST Room (which the handler completes at once), and
// shows that one reconcile finds nothing to correct.
func demo(ctx context.Context, out *printer, srv *videotest.Server, vq *video.Client, statusURL string) error {
	var rooms []string
	for i := range 6 {
		r, err := vq.CreateRoom(ctx, (&openapi.CreateRoomParams{}).
			SetUniqueName(fmt.Sprintf("class-%d", i)).SetStatusCallback(statusURL))
		if err != nil {
			return err
		}
		rooms = append(rooms, *r.Sid)
	}
	if err := settle(ctx, srv, vq); err != nil {
		return err
	}
	for i := range 18 {
		if _, err := srv.Connect(rooms[i%6], fmt.Sprintf("student-%02d", i)); err != nil {
			return err
		}
	}
	for _, id := range []string{"alice", "bob"} {
		if _, err := srv.Connect("hallway", id); err != nil { // an ad-hoc Room: no REST request
			return err
		}
	}
	if err := settle(ctx, srv, vq); err != nil {
		return err
	}
	show(ctx, out, vq, "after joining")

	for i := 0; i < 18; i += 6 { // everyone leaves class-0
		if err := srv.Disconnect(rooms[0], fmt.Sprintf("student-%02d", i)); err != nil {
			return err
		}
	}
	if err := settle(ctx, srv, vq); err != nil {
		return err
	}
	show(ctx, out, vq, "after class-0 emptied")

	d, err := vq.Reconcile(ctx)
	if err != nil {
		return err
	}
	out.printf("reconcile: %d rooms and %d participants at Twilio, corrected %d (%d requests)\n",
		d.Rooms.Twilio, d.Participants.Twilio,
		d.Rooms.Added+d.Rooms.Removed+d.Participants.Added+d.Participants.Removed, d.Requests)
	return nil
}

// settle waits until the emulator delivered its callbacks and the Rooms the
// handler completes have ended.
func settle(ctx context.Context, srv *videotest.Server, vq *video.Client) error {
	for range 3 {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := srv.FlushCallbacks(fctx)
		cancel()
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond): // let an empty Room's completion go out
		}
	}
	return nil
}

func show(ctx context.Context, out *printer, vq *video.Client, when string) {
	rooms, _, _ := vq.Ledger().Used(ctx, quota.Rooms)
	parts, _, _ := vq.Ledger().Used(ctx, quota.Participants)
	out.printf("ledger %s: %d rooms, %d participants\n", when, rooms, parts)
}
