// Command quickstart floods a Twilio Video account through videoquota and
// shows what the library does about it: the rate limiter pacing a burst of
// requests, the ledger refusing Rooms past the quota without asking Twilio, a
// threshold hook firing at 70% of the quota, and no 20429 reaching the
// application.
//
// By default it runs against an embedded emulator
// (github.com/videoquota/videoquota/video/videotest) that enforces Twilio's
// default quotas (80 reads/s, 20 writes/s). With TWILIO_ACCOUNT_SID and
// TWILIO_AUTH_TOKEN set it talks to real Twilio, gently: a handful of
// requests and at most three Rooms, which it completes before exiting.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// plan is how hard the quickstart pushes.
type plan struct {
	goroutines int
	reads      int // ListRoom calls in the read flood
	roomQuota  int // the concurrent-Rooms quota the ledger enforces
	creates    int // CreateRoom attempts, more than roomQuota
}

// summary is what the quickstart observed.
type summary struct {
	Created, Refused, RateErrors int64
	Usage                        quota.Usage
	Emulator                     *videotest.Stats // nil against real Twilio
}

func main() {
	if _, err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) (summary, error) {
	w := &lockedWriter{w: out} // the threshold lines come from the ledger's goroutine
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sid, token := os.Getenv("TWILIO_ACCOUNT_SID"), os.Getenv("TWILIO_AUTH_TOKEN")
	var opts []video.Option
	var srv *videotest.Server
	p := plan{goroutines: 50, reads: 3 * int(quota.DefaultLimits().ReadsPerSecond), roomQuota: 25, creates: 40}
	if sid == "" || token == "" {
		srv = videotest.NewServer(videotest.Options{}) // Twilio's default quotas
		defer srv.Close()
		sid, token = srv.AccountSID(), srv.AuthToken()
		opts = append(opts, video.WithBaseURL(srv.URL()))
		fmt.Fprintln(w, "Using the embedded emulator (set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN for real Twilio).")
	} else {
		p = plan{goroutines: 5, reads: 10, roomQuota: 3, creates: 5}
		fmt.Fprintln(w, "Using real Twilio, gently: at most 3 Rooms, completed before exit.")
	}

	events := make(chan quota.Event, 16)
	opts = append(opts,
		// The ledger enforces a small Rooms quota so that the refusals show;
		// the rates stay at Twilio's defaults (80 reads/s, 20 writes/s).
		video.WithLimits(quota.Limits{ConcurrentRooms: p.roomQuota}),
		video.WithThresholds(func(e quota.Event) { events <- e }), // default level 0.7, like warning 53121
	)
	defer close(events) // after vq.Close: no threshold func runs any more
	vq, err := video.New(sid, token, opts...)
	if err != nil {
		return summary{}, err
	}
	defer vq.Close()
	go func() {
		for e := range events {
			dir := "fell under"
			if e.Rising {
				dir = "reached"
			}
			fmt.Fprintf(w, "  threshold: %s %s %.0f%% of the quota (%d of %d, code %d)\n",
				e.Resource, dir, 100*e.Level, e.Used, e.Limit, e.Code)
		}
	}()

	var rateErrors atomic.Int64
	note := func(err error) {
		var rl *quota.RateLimitError
		var tw *client.TwilioRestError
		if errors.As(err, &rl) || (errors.As(err, &tw) && tw.Code == quota.CodeTooManyRequests) {
			rateErrors.Add(1)
		}
	}

	// 1. A read flood: three seconds' worth of reads from many goroutines at once.
	fmt.Fprintf(w, "\n1. %d goroutines send %d ListRoom calls at once (quota: %d reads/s)\n",
		p.goroutines, p.reads, int(quota.DefaultLimits().ReadsPerSecond))
	start := time.Now()
	var next atomic.Int64
	flood(p.goroutines, func() bool {
		if next.Add(1) > int64(p.reads) {
			return false
		}
		_, err := vq.ListRoom(ctx, (&openapi.ListRoomParams{}).SetPageSize(1).SetLimit(1))
		note(err)
		return true
	})
	took := time.Since(start)
	fmt.Fprintf(w, "  the limiter paced them: %d reads in %.1fs = %.0f/s\n", p.reads, took.Seconds(), float64(p.reads)/took.Seconds())

	// 2. A create flood past the Rooms quota.
	fmt.Fprintf(w, "\n2. %d goroutines try to create %d Rooms (quota: %d concurrent Rooms)\n", p.goroutines, p.creates, p.roomQuota)
	var created sync.Map
	var refused atomic.Int64
	next.Store(0)
	start = time.Now()
	flood(p.goroutines, func() bool {
		n := next.Add(1)
		if n > int64(p.creates) {
			return false
		}
		room, err := vq.CreateRoom(ctx, (&openapi.CreateRoomParams{}).
			SetUniqueName(fmt.Sprintf("videoquota-quickstart-%d-%d", start.Unix(), n)).
			SetEmptyRoomTimeout(1).SetUnusedRoomTimeout(1))
		var ex *quota.ExceededError
		switch {
		case err == nil:
			created.Store(*room.Sid, true)
		case errors.As(err, &ex) && ex.Source == quota.SourceLocal:
			refused.Add(1)
		default:
			note(err)
			fmt.Fprintln(w, "  create failed:", err)
		}
		return true
	})
	nCreated := 0
	created.Range(func(any, any) bool { nCreated++; return true })
	took = time.Since(start)
	time.Sleep(50 * time.Millisecond) // let the threshold line print first
	fmt.Fprintf(w, "  %d created (paced: %.1fs at up to %d writes/s), %d refused locally without a request\n",
		nCreated, took.Seconds(), int(quota.DefaultLimits().WritesPerSecond), refused.Load())

	// 3. Complete the Rooms: the ledger gives their slots back.
	fmt.Fprintf(w, "\n3. Completing the %d Rooms\n", nCreated)
	var sids []string
	created.Range(func(k, _ any) bool { sids = append(sids, k.(string)); return true })
	next.Store(0)
	flood(p.goroutines, func() bool {
		i := int(next.Add(1)) - 1
		if i >= len(sids) {
			return false
		}
		_, err := vq.UpdateRoom(context.WithoutCancel(ctx), sids[i], (&openapi.UpdateRoomParams{}).SetStatus("completed"))
		if err != nil {
			note(err)
			fmt.Fprintln(w, "  complete failed:", err)
		}
		return true
	})
	time.Sleep(50 * time.Millisecond)

	u := vq.Usage()
	fmt.Fprintf(w, "\nSummary\n")
	fmt.Fprintf(w, "  requests sent: %d reads, %d writes; retries %d\n", u.Reads.Requests, u.Writes.Requests, u.Retries)
	fmt.Fprintf(w, "  429s answered by Twilio: %d; 20429 errors returned to the application: %d\n", u.Throttled, rateErrors.Load())
	fmt.Fprintf(w, "  refused locally by the ledger: %d; Rooms in use now: %d of %d\n", u.LocalRefusals, u.Rooms.Used, u.Rooms.Limit)
	sum := summary{Created: int64(nCreated), Refused: refused.Load(), RateErrors: rateErrors.Load(), Usage: u}
	if srv != nil {
		st := srv.Stats()
		sum.Emulator = &st
		fmt.Fprintf(w, "  the emulator saw %d requests and sent %d 429s; %d Rooms created, peak %d at once\n",
			st.TotalRequests, st.Throttled, st.RoomsCreated, st.RoomsPeak)
	}
	return sum, nil
}

// flood runs work on n goroutines until it returns false on each.
func flood(n int, work func() bool) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for work() {
			}
		}()
	}
	wg.Wait()
}

// lockedWriter serialises the writes of the main goroutine and of the
// threshold func.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
