package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/examples/loadtest/internal/loadtest"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// tenantFlow is one kind of caller of the tenants scenario: CreateRoom calls
// of one tenant at one priority level, offered at a multiple of the write
// quota, spread evenly over the Clients listed (all of them when nil).
type tenantFlow struct {
	label   string
	tenant  string
	prio    video.Priority
	weight  float64
	offered float64 // multiple of the write quota
	clients []int
	// want is the share of the successes the flow should get (0: all it
	// asks), for the report.
	want float64
}

// tenantCase is one run of the tenants scenario.
type tenantCase struct {
	name  string
	flows []tenantFlow
}

// tenantCases are the cases of the tenants scenario: the figures of the
// priorities and tenants issue, with the callers spread over every Client
// (as a load balancer spreads them), then with each kind of caller on Clients
// of its own.
func tenantCases(procs int) []tenantCase {
	half := func(second bool) []int {
		var c []int
		for i := range procs {
			if (i >= procs/2) == second {
				c = append(c, i)
			}
		}
		return c
	}
	last := []int{procs - 1}
	var rest []int
	for i := range procs - 1 {
		rest = append(rest, i)
	}
	return []tenantCase{
		{"1:1, 3x vs 0.4x", []tenantFlow{
			{label: "big", tenant: "big", weight: 1, offered: 3, want: 0.6},
			{label: "small", tenant: "small", weight: 1, offered: 0.4},
		}},
		{"1:1, both 3x", []tenantFlow{
			{label: "a", tenant: "a", weight: 1, offered: 3, want: 0.5},
			{label: "b", tenant: "b", weight: 1, offered: 3, want: 0.5},
		}},
		{"3:1, both 3x", []tenantFlow{
			{label: "heavy (w3)", tenant: "heavy", weight: 3, offered: 3, want: 0.75},
			{label: "light (w1)", tenant: "light", weight: 1, offered: 3, want: 0.25},
		}},
		{"background 3x + normal 0.2x", []tenantFlow{
			{label: "background", prio: video.PriorityBackground, weight: 1, offered: 3, want: 0.8},
			{label: "normal", prio: video.PriorityNormal, weight: 1, offered: 0.2},
		}},
		{"3:1, both 3x, each on its own Clients", []tenantFlow{
			{label: "heavy (w3)", tenant: "heavy", weight: 3, offered: 3, want: 0.75, clients: half(false)},
			{label: "light (w1)", tenant: "light", weight: 1, offered: 3, want: 0.25, clients: half(true)},
		}},
		{"background 3x + normal 0.2x, each on its own Clients", []tenantFlow{
			{label: "background", prio: video.PriorityBackground, weight: 1, offered: 3, want: 0.8, clients: rest},
			{label: "normal", prio: video.PriorityNormal, weight: 1, offered: 0.2, clients: last},
		}},
	}
}

// sentKey is the ctx key of a call's *sentAt.
type sentKey struct{}

// sentAt is when a call's first request went out.
type sentAt struct {
	once sync.Once
	t    time.Time
}

// sendTimes records in the ctx of each request when the call's first
// request went out, so that a call's wait for its token is told apart from
// its round trip.
type sendTimes struct{ base http.RoundTripper }

func (s sendTimes) RoundTrip(req *http.Request) (*http.Response, error) {
	if at, ok := req.Context().Value(sentKey{}).(*sentAt); ok {
		at.once.Do(func() { at.t = time.Now() })
	}
	return s.base.RoundTrip(req)
}

// flowResult is what one flow of a case got.
type flowResult struct {
	flow     tenantFlow
	wait     loadtest.Latencies // from the call to its request on the wire
	lat      loadtest.Latencies
	ok       *loadtest.Timeline
	errs     int64
	firstErr error
}

// tenantResult is one case's outcome.
type tenantResult struct {
	c       tenantCase
	flows   []*flowResult
	st      videotest.Stats
	seconds int
}

// runTenants runs every case of the tenants scenario: cfg.procs Clients, each
// with its own Redis store (its own connections and scheduler, as separate
// processes would have), share one account on one redis-server and one
// emulator at the account's quotas, and each flow calls CreateRoom at its
// offered rate from cfg.workers workers per Client.
func runTenants(cfg config, stdout, stderr io.Writer) error {
	if cfg.redisAddr == "" {
		addr, stop, err := startRedis()
		if err != nil {
			return fmt.Errorf("start redis-server (or pass -redis host:port): %w", err)
		}
		defer stop()
		cfg.redisAddr = addr
	}
	fmt.Fprintf(stdout, "loadtest: scenario tenants, %v per case, %d Clients on one Redis store, %d workers per Client and flow, quota %g writes/s\n\n",
		cfg.duration, cfg.procs, cfg.workers, cfg.writes)
	var results []*tenantResult
	for i, c := range tenantCases(cfg.procs) {
		fmt.Fprintf(stderr, "running %q (%v)...\n", c.name, cfg.duration)
		r, err := runTenantCase(cfg, c, fmt.Sprintf("loadtest-%d-tenants-%d", os.Getpid(), i))
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		results = append(results, r)
	}
	reportTenants(stdout, cfg, results)
	if cfg.chart != "" {
		if err := chartTenants(cfg, results); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nchart: %s\n", cfg.chart)
	}
	return nil
}

func runTenantCase(cfg config, c tenantCase, prefix string) (*tenantResult, error) {
	srv, err := videotest.Start(serverOptions(cfg))
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	weights := map[string]float64{}
	for _, f := range c.flows {
		weights[f.tenant] = f.weight
	}
	policy := func(tenant string) video.TenantPolicy { return video.TenantPolicy{Weight: weights[tenant]} }
	clients := make([]*video.Client, cfg.procs)
	for i := range clients {
		rdb := redis.NewClient(&redis.Options{Addr: cfg.redisAddr, PoolSize: 4 * cfg.workers})
		defer rdb.Close()
		st, err := redisstore.New(rdb, redisstore.WithPrefix(prefix))
		if err != nil {
			return nil, err
		}
		vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
			video.WithLimits(limits(cfg)), video.WithStore(st), video.WithTenantPolicy(policy),
			video.WithHTTPClient(&http.Client{Transport: sendTimes{transport(cfg.workers)}, Timeout: 10 * time.Second}))
		if err != nil {
			return nil, err
		}
		defer vq.Close()
		clients[i] = vq
	}
	t0 := time.Now()
	res := &tenantResult{c: c, seconds: int(cfg.duration / time.Second)}
	ctx, cancel := context.WithCancel(context.Background())
	stop := time.AfterFunc(cfg.duration, cancel)
	defer stop.Stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var seq int64
	for _, f := range c.flows {
		fr := &flowResult{flow: f, ok: loadtest.NewTimeline(t0)}
		res.flows = append(res.flows, fr)
		on := f.clients
		if on == nil {
			for i := range clients {
				on = append(on, i)
			}
		}
		fctx := video.WithPriority(ctx, f.prio)
		if f.tenant != "" {
			fctx = video.WithTenant(fctx, f.tenant)
		}
		for j, ci := range on {
			vq := clients[ci]
			rate := f.offered * cfg.writes / float64(len(on))
			// The Clients' arrivals are staggered, so that together they
			// come as evenly as one flow's, not len(on) at once.
			phase := time.Duration(float64(j) * float64(time.Second) / (f.offered * cfg.writes))
			wg.Go(func() {
				select {
				case <-ctx.Done():
					return
				case <-time.After(phase):
				}
				loadtest.Pace(ctx, rate, cfg.workers, func(context.Context) {
					mu.Lock()
					seq++
					name := fmt.Sprintf("t-%d", seq)
					mu.Unlock()
					at := &sentAt{}
					t1 := time.Now()
					_, err := vq.CreateRoom(context.WithValue(fctx, sentKey{}, at), new(openapi.CreateRoomParams).SetUniqueName(name))
					t2 := time.Now()
					if err != nil {
						if ctx.Err() == nil {
							mu.Lock()
							fr.errs++
							if fr.firstErr == nil {
								fr.firstErr = err
							}
							mu.Unlock()
						}
						return
					}
					if t2.Sub(t0) < cfg.duration {
						fr.lat.Add(t2.Sub(t1))
						fr.wait.Add(at.t.Sub(t1))
						fr.ok.Add(t2, 1)
					}
				})
			})
		}
	}
	wg.Wait()
	res.st = srv.Stats()
	return res, nil
}

// reportTenants prints, per case and flow, successes per second over the
// steady part of the run, the flow's share of them, and its latency.
func reportTenants(w io.Writer, cfg config, results []*tenantResult) {
	for _, r := range results {
		fmt.Fprintf(w, "%s (seconds %d-%d), server 429s: %d\n", r.c.name, cfg.from, r.seconds, r.st.Throttled)
		fmt.Fprintf(w, "| flow | offered/s | ok/s | share | target | wait p50 | wait p99 | call p99 | errors |\n|---|---:|---:|---:|---|---:|---:|---:|---:|\n")
		var total float64
		rates := make([]float64, len(r.flows))
		for i, f := range r.flows {
			rates[i] = loadtest.SteadyRate(f.ok.Buckets(r.seconds), cfg.from, r.seconds)
			total += rates[i]
		}
		for i, f := range r.flows {
			target := "all it asks"
			if f.flow.want > 0 {
				target = fmt.Sprintf("%.0f%%", 100*f.flow.want)
			}
			s, ws := f.lat.Summary(), f.wait.Summary()
			errs := fmt.Sprint(f.errs)
			if f.firstErr != nil {
				errs += " (" + strings.SplitN(f.firstErr.Error(), "\n", 2)[0] + ")"
			}
			fmt.Fprintf(w, "| %s | %.1f | %.2f | %.1f%% | %s | %v | %v | %v | %s |\n", f.flow.label, f.flow.offered*cfg.writes,
				rates[i], 100*rates[i]/total, target, ws.P50.Round(time.Millisecond), ws.P99.Round(time.Millisecond),
				s.P99.Round(time.Millisecond), errs)
		}
		fmt.Fprintf(w, "| total | | %.2f | %.1f%% of the quota | | | | | |\n\n", total, 100*total/cfg.writes)
	}
}

// chartTenants draws one panel per case: each flow's successes per second.
func chartTenants(cfg config, results []*tenantResult) error {
	ch := loadtest.Chart{Title: fmt.Sprintf("tenants: %d Clients on one Redis store, CreateRoom/s per flow", cfg.procs),
		XLabel: "seconds"}
	for _, r := range results {
		p := loadtest.Panel{YLabel: r.c.name, RefValue: cfg.writes, RefLabel: "quota"}
		for i, f := range r.flows {
			b := f.ok.Buckets(r.seconds)
			v := make([]float64, len(b))
			for j, n := range b {
				v[j] = float64(n)
			}
			p.Series = append(p.Series, loadtest.Series{Name: f.flow.label, Color: loadtest.Palette[(2*i)%len(loadtest.Palette)], Values: v})
		}
		ch.Panels = append(ch.Panels, p)
	}
	f, err := os.Create(cfg.chart)
	if err != nil {
		return err
	}
	if err := loadtest.WriteChart(f, ch); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}
