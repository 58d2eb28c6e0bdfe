// Command metrics shows the OpenTelemetry metrics of a videoquota Client as
// Prometheus serves them, so that you see the names you will graph.
//
// It starts an embedded emulator of Twilio's Video API
// (github.com/videoquota/videoquota/video/videotest) that allows 10
// concurrent Rooms and Twilio's 20 writes per second, and a Client that
// believes the account may write 40 per second, so that Twilio's 20429s, the retries and
// the adaptive rate show up. It wires the Client to an OpenTelemetry SDK
// MeterProvider with the Prometheus exporter, serves /metrics (and the status
// callback and Debugger webhook handlers) on a loopback port, runs a short
// flood of Room creations, fetches its own /metrics once, prints the
// videoquota_* series and exits. With -serve it keeps serving until
// interrupted.
//
// The example is its own Go module, so that the Prometheus exporter's
// dependencies stay out of the library's go.mod:
//
//	cd examples/metrics
//	go run .
//	go run . -serve -addr 127.0.0.1:9464   # then curl http://127.0.0.1:9464/metrics
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	openapi "github.com/twilio/twilio-go/rest/video/v1"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to serve /metrics on")
	serve := flag.Bool("serve", false, "keep serving /metrics after the flood until interrupted")
	rooms := flag.Int("rooms", 30, "Room creations in the flood")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *addr, *rooms, *serve); err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, addr string, rooms int, serve bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: want a loopback address such as 127.0.0.1:9464", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()

	// The application picks the exporter: here Prometheus, on its own registry.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo()) // shorter lines for this demo; keep scope labels in production if you like
	if err != nil {
		ln.Close()
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	// The emulator stands in for Twilio: 10 concurrent Rooms, 20 writes/s,
	// status callbacks and Debugger events sent to the handlers below.
	srv, err := videotest.Start(videotest.Options{
		ConcurrentRooms: 10,
		WriteBurst:      5,
		DebuggerWebhook: base + "/twilio/debugger",
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()

	// Warn and above: the throttle onset, Twilio's refusals.
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(),
		video.WithBaseURL(srv.URL()),
		video.WithMeterProvider(mp),
		video.WithLogger(logger),
		// Misconfigured on purpose: twice the emulator's write quota.
		video.WithLimits(quota.Limits{ConcurrentRooms: 10, WritesPerSecond: 40, WriteBurst: 5}),
		video.WithThresholds(func(quota.Event) {}, 0.7, 0.9),
	)
	if err != nil {
		ln.Close()
		return err
	}
	defer vq.Close()

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/twilio/status", vq.StatusCallbackHandler())
	mux.Handle("/twilio/debugger", vq.AlertHandler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()

	if err := flood(ctx, w, srv, vq, base+"/twilio/status", rooms); err != nil {
		return err
	}
	if err := printSeries(ctx, w, base+"/metrics"); err != nil {
		return err
	}
	if !serve {
		return nil
	}
	fmt.Fprintf(w, "serving %s/metrics until interrupted\n", base)
	<-ctx.Done()
	return nil
}

// flood creates rooms Rooms from 12 goroutines, each completing its Room
// again after a few reads. Two creations in three wait for a free Room slot;
// the third is refused locally when the 10 Rooms are in use. Then it
// reconciles once.
func flood(ctx context.Context, w io.Writer, srv *videotest.Server, vq *video.Client, statusURL string, rooms int) error {
	start := time.Now()
	var (
		mu               sync.Mutex
		created, refused int
		firstErr         error
		next             = make(chan int)
		wg               sync.WaitGroup
	)
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cctx := video.WaitForCapacity(ctx) // wait for a free Room slot...
				if i%3 == 0 {
					cctx = ctx // ...except every third creation, refused at once when full
				}
				r, err := vq.CreateRoom(cctx, (&openapi.CreateRoomParams{}).
					SetUniqueName(fmt.Sprintf("flood-%d", i)).SetStatusCallback(statusURL))
				mu.Lock()
				switch {
				case err == nil:
					created++
				case errors.Is(err, quota.ErrExceeded):
					refused++
				case firstErr == nil:
					firstErr = err
				}
				mu.Unlock()
				if err != nil {
					continue
				}
				for range 3 {
					_, _ = vq.FetchRoom(ctx, *r.Sid)
				}
				_, _ = vq.UpdateRoom(ctx, *r.Sid, (&openapi.UpdateRoomParams{}).SetStatus("completed"))
			}
		}()
	}
	for i := range rooms {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := srv.FlushCallbacks(fctx); err != nil {
		return err
	}
	d, err := vq.Reconcile(ctx)
	if err != nil {
		return err
	}
	st := srv.Stats()
	fmt.Fprintf(w, "flood: %d rooms created, %d refused locally in %s; the emulator sent %d 429s of %d requests; reconcile: %s\n",
		created, refused, time.Since(start).Round(time.Millisecond), st.Throttled, st.Reads+st.Writes, d)
	return nil
}

// printSeries fetches url once and prints its videoquota_* lines.
func printSeries(ctx context.Context, w io.Writer, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	fmt.Fprintf(w, "series served at %s:\n", url)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "videoquota_") {
			fmt.Fprintln(w, line)
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if n == 0 {
		return errors.New("no videoquota_ series served")
	}
	return nil
}
