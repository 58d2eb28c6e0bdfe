package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	apiv2010 "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/videoquota/videoquota/examples/loadtest/internal/loadtest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// The accounts scenario: many subaccounts served by one video.Accounts in
// one process, as a platform that gives each customer a subaccount runs
// them. The subaccounts are created through twilio-go's
// ApiV2010.CreateAccount against the emulator; each has Twilio's default
// quotas, its own (20 writes/s), and is offered -offered times its write
// quota (CreateRoom then complete it) by -workers goroutines of its own.
// The report gives each account's accepted writes per second against its
// 20/s, the server's 429s and the 20429s returned to the application.
//
// Then the isolation run: two more subaccounts, a "neighbour" offered half
// its write quota the whole time and a "flooded" one offered -isolation-x
// times its quota during every other -phase; the neighbour's call latency
// while the other is flooded is compared with its latency while the other
// is idle, in the same run.

// accountsConfig is the accounts scenario's part of the command line.
type accountsConfig struct {
	n          int     // subaccounts driven at once
	isolationX float64 // the flooded account's offered load, as a multiple of its write quota
}

func accountsFlags(fs *flag.FlagSet, c *accountsConfig) {
	fs.IntVar(&c.n, "accounts", 10, "accounts scenario: subaccounts, each offered -offered times its write quota by -workers goroutines")
	fs.Float64Var(&c.isolationX, "isolation-x", 10, "accounts scenario: the flooded account's offered load in the isolation run, as a multiple of its write quota (0: no isolation run)")
}

func (c *accountsConfig) validate(cfg config) error {
	switch {
	case c.n < 1:
		return fmt.Errorf("-accounts %d: want at least 1", c.n)
	case c.isolationX < 0:
		return fmt.Errorf("-isolation-x %v: want 0 (no isolation run) or a positive multiple", c.isolationX)
	case c.isolationX > 0 && (cfg.status.phase < 100*time.Millisecond || cfg.duration/cfg.status.phase < 4):
		return fmt.Errorf("-phase %v: the isolation run wants at least 100ms and four phases in -duration %v", cfg.status.phase, cfg.duration)
	}
	return nil
}

func init() {
	standalone["accounts"] = standaloneScenario{
		validate: func(cfg config) error { return cfg.accounts.validate(cfg) },
		run:      runAccounts,
	}
}

// accountsWrites is each subaccount's write quota: Twilio's default, which
// the emulator gives every subaccount it creates.
const accountsWrites float64 = videotest.DefaultWritesPerSecond

func runAccounts(cfg config, stdout, stderr io.Writer) error {
	n := cfg.accounts.n
	extra := 0
	if cfg.accounts.isolationX > 0 {
		extra = 2
	}
	srv, err := videotest.Start(videotest.Options{AdHocRooms: true})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stderr, "creating %d subaccounts through ApiV2010.CreateAccount...\n", n+extra)
	api := apiv2010.NewApiServiceWithClient(srv.Client())
	tokens := make(map[string]string, n+extra)
	sids := make([]string, 0, n+extra)
	for i := range n + extra {
		a, err := api.CreateAccount(new(apiv2010.CreateAccountParams).SetFriendlyName(fmt.Sprintf("customer-%d", i)))
		if err != nil {
			return fmt.Errorf("CreateAccount: %w", err)
		}
		if a.Sid == nil || a.AuthToken == nil {
			return errors.New("CreateAccount: no SID or auth token in the answer")
		}
		tokens[*a.Sid] = *a.AuthToken
		sids = append(sids, *a.Sid)
	}
	lookup := func(_ context.Context, sid string) (video.Account, error) {
		tok, ok := tokens[sid] // read only from here on
		if !ok {
			return video.Account{}, fmt.Errorf("account %s: %w", sid, video.ErrUnknownAccount)
		}
		return video.Account{AuthToken: tok}, nil
	}
	accts, err := video.NewAccounts(lookup, video.WithBaseURL(srv.URL()))
	if err != nil {
		return err
	}
	defer func() { _ = accts.Close() }()

	fmt.Fprintf(stdout, "accounts: %d subaccounts (created through ApiV2010.CreateAccount) in one process through one video.Accounts, each offered %gx its write quota (%g/s) by %d goroutines of its own, for %v\n\n",
		n, cfg.offered, accountsWrites, cfg.workers, cfg.duration)
	fmt.Fprintf(stderr, "running %d accounts (%v)...\n", n, cfg.duration)
	if err := runAccountsFlood(cfg, srv, accts, sids[:n], stdout); err != nil {
		return err
	}
	if extra == 0 {
		return nil
	}
	fmt.Fprintf(stderr, "running the isolation run (%v)...\n", cfg.duration)
	return runIsolation(cfg, srv, accts, sids[n], sids[n+1], stdout)
}

// accountJob creates a Room in the account and completes it, through the
// account's Client from accts, recording each call in rec.
func accountJob(ctx context.Context, accts *video.Accounts, sid string, e *env, rec *loadtest.Recorder) {
	c, err := accts.Client(ctx, sid)
	if err != nil {
		_ = rec.Do(opCreate, func() error { return err })
		return
	}
	createHoldComplete(ctx, e, c, rec, 0)
}

func runAccountsFlood(cfg config, srv *videotest.Server, accts *video.Accounts, sids []string, stdout io.Writer) error {
	// The first second is a warm-up: the Clients are made and the
	// emulator's buckets spend their idle burst. The counts start after it.
	const warmup = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(warmup+cfg.duration, cancel)
	defer stop.Stop()
	t0 := time.Now()
	recs := make([]*loadtest.Recorder, len(sids))
	var wg sync.WaitGroup
	var shed atomic.Int64
	e := &env{cfg: cfg, srv: srv}
	for i, sid := range sids {
		recs[i] = loadtest.NewRecorder(t0, opCreate, opUpdate)
		wg.Go(func() {
			_, sh := loadtest.Pace(ctx, cfg.offered*accountsWrites/2, cfg.workers, func(ctx context.Context) {
				accountJob(ctx, accts, sid, e, recs[i])
			})
			shed.Add(sh)
		})
	}
	time.Sleep(time.Until(t0.Add(warmup)))
	for _, sid := range sids {
		srv.Account(sid).ResetStats()
	}
	wg.Wait()

	secs := cfg.duration.Seconds()
	rates := make([]float64, len(sids))
	var sent, throttled, app429, local, other int64
	for i, sid := range sids {
		st := srv.Account(sid).Stats()
		rates[i] = float64(st.Writes-st.Throttled) / secs
		sent += st.Writes + st.Reads
		throttled += st.Throttled
		app429 += recs[i].Total(loadtest.Rate429)
		local += recs[i].Total(loadtest.LocalRefusal)
		other += recs[i].Total(loadtest.Other) + recs[i].Total(loadtest.Quota53119)
	}
	sorted := slices.Clone(rates)
	slices.Sort(sorted)
	atLeast := 0
	for _, r := range rates {
		if r >= 0.99*accountsWrites {
			atLeast++
		}
	}
	total := 0.0
	for _, r := range rates {
		total += r
	}
	fmt.Fprintf(stdout, "Accepted writes per account per second, over the %.0f s after a 1 s warm-up (the emulator's own counts):\n\n", secs)
	fmt.Fprintln(stdout, "| accounts | min | median | max | accounts at >= 99% of 20/s | all accounts, writes/s | requests sent | server 429s | app: 20429 | app: local refusal | app: other |")
	fmt.Fprintln(stdout, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintf(stdout, "| %d | %.2f | %.2f | %.2f | %d of %d | %.1f | %d | %d | %d | %d | %d |\n",
		len(sids), sorted[0], sorted[len(sorted)/2], sorted[len(sorted)-1], atLeast, len(sids), total,
		sent, throttled, app429, local, other)
	fmt.Fprintf(stdout, "\n(arrivals shed, all of an account's %d goroutines busy: %d; local refusals include calls cut by the end of the run)\n\n", cfg.workers, shed.Load())
	return nil
}

// runIsolation drives the neighbour at half its write quota the whole time
// and floods the other account at -isolation-x times its quota during every
// other phase, and compares the neighbour's latency in both kinds of phase.
func runIsolation(cfg config, srv *videotest.Server, accts *video.Accounts, neighbour, flooded string, stdout io.Writer) error {
	phase := cfg.status.phase
	phases := int(cfg.duration / phase)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(cfg.duration, cancel)
	defer stop.Stop()
	t0 := time.Now()
	lat := make([]phaseLatencies, phases)
	var failed atomic.Int64
	e := &env{cfg: cfg, srv: srv}
	var wg sync.WaitGroup
	floodRec := loadtest.NewRecorder(t0, opCreate, opUpdate)
	wg.Go(func() {
		for p := 1; p < phases; p += 2 {
			start := t0.Add(time.Duration(p) * phase)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(start)):
			}
			pctx, pcancel := context.WithCancel(ctx)
			end := time.AfterFunc(time.Until(start.Add(phase)), pcancel)
			loadtest.Pace(pctx, cfg.accounts.isolationX*accountsWrites/2, cfg.workers, func(ctx context.Context) {
				accountJob(ctx, accts, flooded, e, floodRec)
			})
			end.Stop()
			pcancel()
		}
	})
	timed := func(f func() error) bool {
		t := time.Now()
		err := f()
		p := int(t.Sub(t0) / phase)
		switch {
		case ctx.Err() != nil || p >= phases:
			return false
		case err != nil:
			failed.Add(1)
			return false
		}
		lat[p].add(time.Since(t))
		return true
	}
	loadtest.Pace(ctx, accountsWrites/2/2, cfg.workers, func(ctx context.Context) {
		c, err := accts.Client(ctx, neighbour)
		if err != nil {
			failed.Add(1)
			return
		}
		createComplete(ctx, c, e.name(), timed)
	})
	wg.Wait()

	pooled, ratios := pairPhases(lat)
	fs := srv.Account(flooded).Stats()
	fmt.Fprintf(stdout, "Isolation: the neighbour offered %g writes/s (half its quota) the whole time; the other account offered %gx its quota (%g writes/s) during every other phase of %v; the first two phases are warm-up.\n\n",
		accountsWrites/2, cfg.accounts.isolationX, cfg.accounts.isolationX*accountsWrites, phase)
	fmt.Fprintln(stdout, "| neighbour's calls | ok | p50 | p99 | max |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|")
	for i, label := range [...]string{"other account idle", "other account flooded"} {
		s := pooled[i]
		slices.Sort(s)
		fmt.Fprintf(stdout, "| %s | %d | %s | %s | %s |\n", label, len(s), ms(loadtest.Percentile(s, 50)), ms(loadtest.Percentile(s, 99)), ms(last(s)))
	}
	if len(pooled[0]) == 0 || len(pooled[1]) == 0 || len(ratios) == 0 {
		return errors.New("accounts: the neighbour had no successful call on one side: nothing to compare")
	}
	slices.Sort(ratios)
	fmt.Fprintf(stdout, "\nneighbour's p99, other flooded over other idle: %+.1f%% pooled; median over %d phase pairs %+.1f%% (pairs: %s); neighbour's failed calls %d\n",
		100*(float64(loadtest.Percentile(pooled[1], 99))/float64(loadtest.Percentile(pooled[0], 99))-1),
		len(ratios), 100*(ratios[len(ratios)/2]-1), pctList(ratios), failed.Load())
	fmt.Fprintf(stdout, "the flooded account: %d write requests, %d server 429s; app: %d 20429, %d local refusals\n",
		fs.Writes, fs.Throttled, floodRec.Total(loadtest.Rate429), floodRec.Total(loadtest.LocalRefusal))
	return nil
}
