// Command loadtest puts videoquota beside raw twilio-go and a naive retry
// loop on identical work against the embedded Twilio Video emulator
// (video/videotest) and prints, for each client, successful operations per
// second and as a share of the quota, the 429s the server sent, the errors
// the application saw by kind, latency percentiles per operation and the wall
// time of a fixed batch against the physical minimum.
//
//	go -C examples/loadtest run . -scenario write -duration 10s -chart loadtest.png
//
// It is a module of its own (run it from its folder, or with go -C as
// above), so that the chart library stays out of the library's go.mod.
//
// Each client runs alone against its own fresh emulator with the same
// configuration, one after the other. Scenarios: write (CreateRoom then
// complete it), read (FetchRoom and a paged ListRoom), mixed (both at once),
// wall (rooms held for a while against a small concurrent-rooms quota),
// unknown (the account allows less than the Client is configured for),
// shared (another application takes part of the write quota) and
// distributed (several OS processes sharing one account, videoquota sharing
// its quota through Redis or not) and tenants (priority levels and tenants'
// weighted shares, with several Clients on one Redis store). The chart goes to -chart, by default a
// file in the temporary directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/examples/loadtest/internal/loadtest"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// config is the command line.
type config struct {
	scenario     string
	duration     time.Duration
	workers      int
	offered      float64
	reads        float64
	writes       float64
	rooms        int
	participants int
	batch        int
	hold         time.Duration
	seedRooms    int
	pageSize     int
	procs        int
	redisAddr    string
	chart        string
	quick        bool
	twilioWrites float64 // the emulator's write quota: the account's real one
	other        float64 // writes/s another application takes from the account
	from         int     // the adaptive table averages from this second on
	clients      string
	// Child mode of the distributed scenario (internal).
	child       string
	url, sid    string
	start       int64
	redisPrefix string
	// Scenarios that run on their own (see standalone).
	status   statusConfig
	accounts accountsConfig
	// Profiles of the run (profile.go).
	profiles profileConfig
}

// standalone are the scenarios that run and report on their own, each
// registered by its file: the flags of the other scenarios that they use
// are documented there.
var standalone = map[string]standaloneScenario{}

type standaloneScenario struct {
	validate func(cfg config) error
	run      func(cfg config, stdout, stderr io.Writer) error
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.scenario, "scenario", "write", "write, read, mixed, wall, unknown, shared, distributed, status, accounts or tenants")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long each client is driven (whole seconds)")
	fs.IntVar(&c.workers, "workers", 50, "goroutines issuing operations, per client and stream")
	fs.Float64Var(&c.offered, "offered", 3, "offered load as a multiple of the quota")
	fs.Float64Var(&c.reads, "reads", quota.DefaultLimits().ReadsPerSecond, "read (GET) quota per second")
	fs.Float64Var(&c.writes, "writes", quota.DefaultLimits().WritesPerSecond, "write (POST, DELETE) quota per second")
	fs.IntVar(&c.rooms, "rooms", 0, "concurrent rooms quota (0: 10,000; 20 in the wall scenario)")
	fs.IntVar(&c.participants, "participants", quota.DefaultLimits().ConcurrentParticipants, "concurrent participants quota")
	fs.IntVar(&c.batch, "batch", 200, "fixed batch timed against its physical minimum (batch / quota rate): room creations, or fetches in the read scenario; 0 skips it")
	fs.DurationVar(&c.hold, "hold", 4*time.Second, "wall scenario: how long each room is held, on average (uniform in [hold/2, 3*hold/2]), before it is completed")
	fs.IntVar(&c.seedRooms, "seed-rooms", 60, "read scenario: rooms in progress before the run (created without REST requests)")
	fs.IntVar(&c.pageSize, "page-size", 10, "read scenario: ListRoom page size (each list reads 3 pages)")
	fs.IntVar(&c.procs, "procs", 4, "distributed scenario: OS processes per client; tenants scenario: Clients sharing one Redis store")
	fs.StringVar(&c.redisAddr, "redis", "", "distributed scenario: Redis address (empty: start a redis-server on a free loopback port)")
	fs.StringVar(&c.chart, "chart", "", "write the PNG chart of successful operations/s over time to this file (default: videoquota-loadtest-<scenario>.png in the temporary directory; \"none\": no chart)")
	fs.Float64Var(&c.twilioWrites, "twilio-writes", 0, "the write quota the emulator enforces, the account's real one (default: -writes; unknown scenario: half of -writes)")
	fs.Float64Var(&c.other, "other", 0, "writes/s another application (a raw twilio-go loop) takes from the account (shared scenario default: half the real write quota)")
	fs.IntVar(&c.from, "from", 0, "the adaptive-rate table averages from this second on (default 1; unknown and shared runs longer than 10 s: 10)")
	fs.BoolVar(&c.quick, "quick", false, "CI smoke mode: 3 s per client, batch of 30")
	fs.StringVar(&c.clients, "clients", "", "comma-separated clients to run (default raw,naive,videoquota; distributed: raw,naive,videoquota-memory,videoquota-redis)")
	fs.StringVar(&c.child, "child", "", "internal: run as one process of the distributed scenario, driving this client")
	fs.StringVar(&c.url, "url", "", "internal: child mode: the emulator's URL")
	fs.StringVar(&c.sid, "sid", "", "internal: child mode: the emulator's Account SID")
	fs.Int64Var(&c.start, "start", 0, "internal: child mode: start time, Unix nanoseconds")
	fs.StringVar(&c.redisPrefix, "redis-prefix", "loadtest", "internal: child mode: Redis key prefix")
	statusFlags(fs, &c.status)
	accountsFlags(fs, &c.accounts)
	profileFlags(fs, &c.profiles)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.quick {
		c.duration, c.batch = 3*time.Second, 30
	}
	if c.chart == "" {
		c.chart = filepath.Join(os.TempDir(), "videoquota-loadtest-"+c.scenario+".png")
	}
	if c.chart == "none" {
		c.chart = ""
	}
	if c.twilioWrites == 0 {
		c.twilioWrites = c.writes
		if c.scenario == "unknown" {
			c.twilioWrites = c.writes / 2
		}
	}
	if c.other == 0 && c.scenario == "shared" {
		c.other = c.twilioWrites / 2
	}
	if c.from == 0 {
		c.from = 1
		if (c.scenario == "unknown" || c.scenario == "shared") && c.duration > 10*time.Second {
			c.from = 10
		}
	}
	if c.rooms == 0 {
		c.rooms = quota.DefaultLimits().ConcurrentRooms
		if c.scenario == "wall" {
			c.rooms = 20
		}
	}
	switch {
	case c.duration < 2*time.Second || c.duration%time.Second != 0:
		return c, fmt.Errorf("-duration %v: want whole seconds, at least 2s", c.duration)
	case c.workers < 1:
		return c, fmt.Errorf("-workers %d: want at least 1", c.workers)
	case !(c.offered > 0):
		return c, fmt.Errorf("-offered %v: want a positive multiple of the quota", c.offered)
	case !(c.reads > 0) || !(c.writes > 0):
		return c, fmt.Errorf("-reads %v / -writes %v: want positive rates", c.reads, c.writes)
	case c.rooms < 1 || c.participants < 1:
		return c, fmt.Errorf("-rooms %d / -participants %d: want at least 1", c.rooms, c.participants)
	case c.batch < 0:
		return c, fmt.Errorf("-batch %d: want 0 or more", c.batch)
	case c.pageSize < 1 || c.seedRooms < 0:
		return c, fmt.Errorf("-page-size %d / -seed-rooms %d: want a positive page size", c.pageSize, c.seedRooms)
	case c.procs < 1:
		return c, fmt.Errorf("-procs %d: want at least 1", c.procs)
	case !(c.twilioWrites > 0) || c.other < 0 || c.other >= c.twilioWrites:
		return c, fmt.Errorf("-twilio-writes %v / -other %v: want a positive real quota and another application taking less than all of it", c.twilioWrites, c.other)
	case c.from < 0 || time.Duration(c.from)*time.Second >= c.duration:
		return c, fmt.Errorf("-from %d: want a second within -duration", c.from)
	}
	if sc, ok := standalone[c.scenario]; ok {
		return c, sc.validate(c)
	}
	if _, ok := scenarios[c.scenario]; !ok && c.scenario != "distributed" && c.scenario != "tenants" {
		return c, fmt.Errorf("-scenario %q: want write, read, mixed, wall, unknown, shared, distributed, status, accounts or tenants", c.scenario)
	}
	if c.clients == "" {
		c.clients = "raw,naive,videoquota"
		if c.scenario == "distributed" {
			c.clients = "raw,naive,videoquota-memory,videoquota-redis"
		}
	}
	for _, name := range strings.Split(c.clients, ",") {
		if c.scenario == "distributed" && distributedSpec(name) == nil {
			return c, fmt.Errorf("-clients: unknown client %q (want raw, naive, videoquota-memory, videoquota-redis)", name)
		}
		if c.scenario != "distributed" && clientByName(name) == nil {
			return c, fmt.Errorf("-clients: unknown client %q (want raw, naive, videoquota)", name)
		}
	}
	return c, nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.child != "" {
		return runChild(cfg, stdout)
	}
	stopProfiles, err := cfg.profiles.start()
	if err != nil {
		return err
	}
	defer stopProfiles()
	if sc, ok := standalone[cfg.scenario]; ok {
		return sc.run(cfg, stdout, stderr)
	}
	if cfg.scenario == "tenants" {
		return runTenants(cfg, stdout, stderr)
	}
	procs := ""
	if cfg.scenario == "distributed" {
		procs = fmt.Sprintf(" (%d processes per client, %d workers each)", cfg.procs, max(1, cfg.workers/cfg.procs))
	}
	fmt.Fprintf(stdout, "loadtest: scenario %s, %v per client, %d workers%s, offered %gx quota, quotas %g reads/s, %g writes/s, %d rooms\n",
		cfg.scenario, cfg.duration, cfg.workers, procs, cfg.offered, cfg.reads, cfg.writes, cfg.rooms)
	fmt.Fprintf(stdout, "the account (emulator) allows %g writes/s; another application takes %g writes/s\n\n", cfg.twilioWrites, cfg.other)
	var results []*result
	if cfg.scenario == "distributed" {
		results, err = runDistributed(cfg, stderr)
	} else {
		results, err = runLocal(cfg, stderr)
	}
	if err != nil {
		return err
	}
	report(stdout, cfg, results)
	if cfg.chart != "" {
		if err := writeChart(cfg, results); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nchart: %s\n", cfg.chart)
	}
	return nil
}

// clientSpec builds one of the three clients over a counting transport.
type clientSpec struct {
	name  string
	label string
	build func(cfg config, srv endpoint, rt http.RoundTripper) (loadtest.API, func(), error)
}

// endpoint is the emulator a client talks to.
type endpoint struct{ url, sid, token string }

func clientByName(name string) *clientSpec {
	for i := range clientSpecs {
		if clientSpecs[i].name == name {
			return &clientSpecs[i]
		}
	}
	return nil
}

var clientSpecs = []clientSpec{
	{name: "raw", label: "raw twilio-go", build: func(_ config, e endpoint, rt http.RoundTripper) (loadtest.API, func(), error) {
		r, err := loadtest.NewRaw(e.sid, e.token, e.url, rt)
		return r, func() {}, err
	}},
	{name: "naive", label: "naive retry", build: func(_ config, e endpoint, rt http.RoundTripper) (loadtest.API, func(), error) {
		r, err := loadtest.NewRaw(e.sid, e.token, e.url, rt)
		return &loadtest.Naive{Next: r, Base: 100 * time.Millisecond, Retries: 5}, func() {}, err
	}},
	{name: "videoquota", label: "videoquota", build: func(cfg config, e endpoint, rt http.RoundTripper) (loadtest.API, func(), error) {
		vq, err := video.New(e.sid, e.token,
			video.WithBaseURL(e.url),
			video.WithLimits(limits(cfg)),
			video.WithHTTPClient(&http.Client{Transport: rt, Timeout: 10 * time.Second}))
		if err != nil {
			return nil, nil, err
		}
		return vq, func() { _ = vq.Close() }, nil
	}},
}

func limits(cfg config) quota.Limits {
	return quota.Limits{ConcurrentRooms: cfg.rooms, ConcurrentParticipants: cfg.participants,
		ReadsPerSecond: cfg.reads, WritesPerSecond: cfg.writes}
}

func serverOptions(cfg config) videotest.Options {
	return videotest.Options{ConcurrentRooms: cfg.rooms, ConcurrentParticipants: cfg.participants,
		ReadsPerSecond: cfg.reads, WritesPerSecond: cfg.twilioWrites, AdHocRooms: true}
}

// transport is a fresh connection pool per client, large enough for every worker.
func transport(workers int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * workers
	t.MaxIdleConnsPerHost = 4 * workers
	return t
}

// result is what one client did in one scenario.
type result struct {
	spec      *clientSpec
	rec       *loadtest.Recorder
	cnt       *loadtest.Counter
	st        videotest.Stats // the emulator's counters after the timed run
	seconds   int
	accepted  int64
	shed      int64
	batchN    int
	batchOK   int64
	batchWall time.Duration
	batchSt   videotest.Stats
	batchCls  quota.Class
	other     *loadtest.Counter // the other application's requests; nil when none
	procs     [][]int64         // distributed: each process's accepted writes per second
}

func runLocal(cfg config, stderr io.Writer) ([]*result, error) {
	sc := scenarios[cfg.scenario]
	var results []*result
	for _, name := range strings.Split(cfg.clients, ",") {
		spec := clientByName(name)
		fmt.Fprintf(stderr, "running %s (%v)...\n", spec.label, cfg.duration)
		res, err := runClient(cfg, sc, spec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.label, err)
		}
		if cfg.batch > 0 && sc.batch != nil {
			fmt.Fprintf(stderr, "running %s batch of %d...\n", spec.label, cfg.batch)
			if err := runBatch(cfg, sc, spec, res); err != nil {
				return nil, fmt.Errorf("%s batch: %w", spec.label, err)
			}
		}
		results = append(results, res)
	}
	return results, nil
}

// runClient drives one client for cfg.duration against a fresh emulator.
func runClient(cfg config, sc *scenario, spec *clientSpec) (*result, error) {
	srv, err := videotest.Start(serverOptions(cfg))
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	env := &env{cfg: cfg, srv: srv}
	if sc.setup != nil {
		if err := sc.setup(env); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	srv.ResetStats()

	t0 := time.Now()
	cnt := loadtest.NewCounter(transport(cfg.workers), t0)
	api, closeAPI, err := spec.build(cfg, endpoint{srv.URL(), srv.AccountSID(), srv.AuthToken()}, cnt)
	if err != nil {
		return nil, err
	}
	defer closeAPI()
	rec := loadtest.NewRecorder(t0, sc.ops...)
	// The run ends by cancellation, not by a deadline: a deadline would make
	// videoquota refuse, at once, every wait it knows would outlast it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(cfg.duration, cancel)
	defer stop.Stop()
	res := &result{spec: spec, rec: rec, cnt: cnt, seconds: int(cfg.duration / time.Second)}
	done := make(chan struct{})
	if cfg.other > 0 {
		// Another application on the account: raw twilio-go creating rooms
		// at cfg.other per second, whatever Twilio answers.
		res.other = loadtest.NewCounter(transport(10), t0)
		raw, err := loadtest.NewRaw(srv.AccountSID(), srv.AuthToken(), srv.URL(), res.other)
		if err != nil {
			return nil, err
		}
		go func() {
			defer close(done)
			loadtest.Pace(ctx, cfg.other, 10, func(ctx context.Context) {
				_, _ = raw.CreateRoom(ctx, new(openapi.CreateRoomParams).SetUniqueName(env.name()))
			})
		}()
	} else {
		close(done)
	}
	res.accepted, res.shed = drive(ctx, sc.streams(env), cfg.workers, api, rec)
	<-done
	res.st = srv.Stats()
	return res, nil
}

// runBatch times cfg.batch operations on a fresh emulator, all workers going
// as fast as the client lets them.
func runBatch(cfg config, sc *scenario, spec *clientSpec, res *result) error {
	srv, err := videotest.Start(serverOptions(cfg))
	if err != nil {
		return err
	}
	defer srv.Close()
	env := &env{cfg: cfg, srv: srv}
	if sc.setup != nil {
		if err := sc.setup(env); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	srv.ResetStats()
	t0 := time.Now()
	cnt := loadtest.NewCounter(transport(cfg.workers), t0)
	api, closeAPI, err := spec.build(cfg, endpoint{srv.URL(), srv.AccountSID(), srv.AuthToken()}, cnt)
	if err != nil {
		return err
	}
	defer closeAPI()
	rec := loadtest.NewRecorder(t0, sc.ops...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res.batchWall = loadtest.Batch(ctx, cfg.batch, cfg.workers, func(ctx context.Context, i int) {
		sc.batch(ctx, env, api, rec, i)
	})
	res.batchN = cfg.batch
	res.batchOK = rec.Total(loadtest.OK)
	res.batchSt = srv.Stats()
	res.batchCls = sc.batchClass
	return nil
}
