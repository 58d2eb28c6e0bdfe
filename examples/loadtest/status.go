package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/examples/loadtest/internal/loadtest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// The status scenario: what reading a Client's status handler costs a
// flood. One Client, one emulator, one run: the write flood goes on the
// whole time, and a reader GETs the Client's StatusHandler over loopback
// HTTP at -status-reads per second during every other phase of -phase, so
// that both halves share the machine's state (its other load, the
// emulator's Rooms, the Client's history). It reports the flood's latency
// percentiles with and without the reader, the p99 ratio (pooled, and the
// median over phase pairs), and the reads per second the reader achieved.

// statusConfig is the status scenario's part of the command line.
type statusConfig struct {
	reads  float64       // status reads offered per second during the reading phases
	phase  time.Duration // length of one phase
	format string        // "json" or "html"
}

func statusFlags(fs *flag.FlagSet, c *statusConfig) {
	fs.Float64Var(&c.reads, "status-reads", 1000, "status scenario: status handler reads offered per second during the reading phases")
	fs.DurationVar(&c.phase, "phase", 2*time.Second, "status and accounts scenarios: length of each phase (without, then with, the reader; the other account idle, then flooded)")
	fs.StringVar(&c.format, "status-format", "json", "status scenario: what the reader asks for, json or html")
}

func (c *statusConfig) validate(duration time.Duration) error {
	switch {
	case !(c.reads > 0):
		return fmt.Errorf("-status-reads %v: want a positive rate", c.reads)
	case c.format != "json" && c.format != "html":
		return fmt.Errorf("-status-format %q: want json or html", c.format)
	case c.phase < 100*time.Millisecond || duration/c.phase < 4:
		return fmt.Errorf("-phase %v: want at least 100ms and four phases in -duration %v", c.phase, duration)
	}
	return nil
}

// statusReaders is the reader's pool: an arrival finding them all busy is shed.
const statusReaders = 64

func init() {
	standalone["status"] = standaloneScenario{
		validate: func(cfg config) error { return cfg.status.validate(cfg.duration) },
		run:      runStatus,
	}
}

func runStatus(cfg config, stdout, stderr io.Writer) error {
	srv, err := videotest.Start(serverOptions(cfg))
	if err != nil {
		return err
	}
	defer srv.Close()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()), video.WithLimits(limits(cfg)),
		video.WithHTTPClient(&http.Client{Transport: transport(cfg.workers), Timeout: 10 * time.Second}))
	if err != nil {
		return err
	}
	defer func() { _ = vq.Close() }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: vq.StatusHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer func() { _ = hs.Close() }()
	statusURL := "http://" + ln.Addr().String() + "/"

	phases := int(cfg.duration / cfg.status.phase)
	fmt.Fprintf(stdout, "status: the write flood (offered %gx the write quota of %g/s, %d workers) for %v, in %d phases of %v alternately without and with %g status reads/s (%s) over loopback HTTP; the first two phases are warm-up\n\n",
		cfg.offered, cfg.writes, cfg.workers, cfg.duration, phases, cfg.status.phase, cfg.status.reads, cfg.status.format)
	fmt.Fprintf(stderr, "running the status scenario (%v)...\n", cfg.duration)

	t0 := time.Now()
	phaseOf := func(t time.Time) int { return int(t.Sub(t0) / cfg.status.phase) }
	lat := make([]phaseLatencies, phases) // every successful call, by the phase it started in
	var failed [2]atomic.Int64            // failed calls, without and with the reader
	e := &env{cfg: cfg, srv: srv}
	// The run ends by cancellation, not by a deadline: a deadline would make
	// the Client refuse, at once, every wait it knows would outlast it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(cfg.duration, cancel)
	defer stop.Stop()

	var wg sync.WaitGroup
	var reads, readFails, shed atomic.Int64
	var readLat loadtest.Latencies
	wg.Go(func() {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: statusReaders}, Timeout: 10 * time.Second}
		defer hc.CloseIdleConnections()
		for p := 1; p < phases; p += 2 {
			start := t0.Add(time.Duration(p) * cfg.status.phase)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(start)):
			}
			pctx, pcancel := context.WithDeadline(ctx, start.Add(cfg.status.phase))
			_, sh := loadtest.Pace(pctx, cfg.status.reads, statusReaders, func(ctx context.Context) {
				t := time.Now()
				if err := readStatus(ctx, hc, statusURL, cfg.status.format); err != nil {
					if ctx.Err() == nil {
						readFails.Add(1)
					}
					return
				}
				readLat.Add(time.Since(t))
				reads.Add(1)
			})
			pcancel()
			shed.Add(sh)
		}
	})
	// The flood: CreateRoom then complete it, each call timed on its own.
	timed := func(f func() error) bool {
		t := time.Now()
		err := f()
		p := phaseOf(t)
		switch {
		case ctx.Err() != nil || p >= phases:
			return false
		case err != nil:
			failed[p%2].Add(1)
			return false
		}
		lat[p].add(time.Since(t))
		return true
	}
	loadtest.Pace(ctx, cfg.offered*cfg.writes/2, cfg.workers, func(ctx context.Context) {
		createComplete(ctx, vq, e.name(), timed)
	})
	wg.Wait()

	pooled, ratios := pairPhases(lat)
	onSeconds := float64(phases/2) * cfg.status.phase.Seconds() // every reading phase, the warm-up one included
	fmt.Fprintln(stdout, "| flood | ok calls | calls/s | p50 | p99 | max | failed |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|")
	sideSeconds := float64((phases-2)/2) * cfg.status.phase.Seconds()
	for i, label := range [...]string{"without status reads", "with status reads"} {
		s := pooled[i]
		slices.Sort(s)
		fmt.Fprintf(stdout, "| %s | %d | %.1f | %s | %s | %s | %d |\n", label, len(s), float64(len(s))/sideSeconds,
			ms(loadtest.Percentile(s, 50)), ms(loadtest.Percentile(s, 99)), ms(last(s)), failed[i].Load())
	}
	if len(pooled[0]) == 0 || len(pooled[1]) == 0 || len(ratios) == 0 {
		return errors.New("status: no successful call on one side: nothing to compare")
	}
	slices.Sort(ratios)
	fmt.Fprintf(stdout, "\np99 with the reader over p99 without: %+.1f%% pooled; median over %d phase pairs %+.1f%% (pairs: %s)\n",
		100*(float64(loadtest.Percentile(pooled[1], 99))/float64(loadtest.Percentile(pooled[0], 99))-1),
		len(ratios), 100*(ratios[len(ratios)/2]-1), pctList(ratios))
	rl := readLat.Summary()
	fmt.Fprintf(stdout, "status reads: offered %g/s, achieved %.1f/s (%d in %.0f s of reading phases; %d failed; %d arrivals shed, all %d readers busy); read latency p50 %s, p99 %s, max %s\n",
		cfg.status.reads, float64(reads.Load())/onSeconds, reads.Load(), onSeconds, readFails.Load(), shed.Load(), statusReaders,
		ms(rl.P50), ms(rl.P99), ms(rl.Max))
	return nil
}

// readStatus GETs the status handler once and reads the whole answer.
func readStatus(ctx context.Context, hc *http.Client, url, format string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if format == "html" {
		req.Header.Set("Accept", "text/html")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status handler answered %s", resp.Status)
	}
	return nil
}

// phaseLatencies are the latencies of one phase's calls.
type phaseLatencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *phaseLatencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *phaseLatencies) values() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.d)
}

// createComplete creates a Room named name through vq and completes it,
// each call timed by timed (which reports whether the call succeeded).
func createComplete(ctx context.Context, vq *video.Client, name string, timed func(func() error) bool) {
	var sid string
	if !timed(func() error {
		r, err := vq.CreateRoom(ctx, new(openapi.CreateRoomParams).SetUniqueName(name))
		if err == nil && r.Sid != nil {
			sid = *r.Sid
		}
		return err
	}) || sid == "" {
		return
	}
	timed(func() error {
		_, err := vq.UpdateRoom(ctx, sid, new(openapi.UpdateRoomParams).SetStatus("completed"))
		return err
	})
}

// pairPhases pools the latencies of the phases after the warm-up pair,
// off phases (even) in pooled[0] and on phases (odd) in pooled[1], and
// returns each pair's p99 ratio, on over off.
func pairPhases(lat []phaseLatencies) (pooled [2][]time.Duration, ratios []float64) {
	for p := 2; p+1 < len(lat); p += 2 {
		off, on := lat[p].values(), lat[p+1].values()
		pooled[0] = append(pooled[0], off...)
		pooled[1] = append(pooled[1], on...)
		if len(off) > 0 && len(on) > 0 {
			ratios = append(ratios, float64(p99(on))/float64(p99(off)))
		}
	}
	return pooled, ratios
}

func p99(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return loadtest.Percentile(s, 99)
}

func last(s []time.Duration) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

func pctList(ratios []float64) string {
	out := ""
	for i, r := range ratios {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%+.0f%%", 100*(r-1))
	}
	return out
}
