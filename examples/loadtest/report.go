package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/videoquota/videoquota/examples/loadtest/internal/loadtest"
	"github.com/videoquota/videoquota/quota"
)

// steady is the window the rates are averaged over: every whole second but
// the first, when the server's bucket still holds its idle burst.
func steady(r *result) (from, to int) { return 1, r.seconds }

func (r *result) okOpsPerSecond() float64 {
	from, to := steady(r)
	return loadtest.SteadyRate(r.rec.Successes().Buckets(to), from, to)
}

func (r *result) utilization(class quota.Class, perSecond float64) float64 {
	from, to := steady(r)
	return loadtest.SteadyRate(r.cnt.Timeline(class).Buckets(to), from, to) / perSecond
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// report prints the results as markdown tables.
func report(w io.Writer, cfg config, results []*result) {
	sc := scenarios[cfg.scenario]
	ceiling := 0.0
	if sc != nil {
		ceiling = sc.ceiling(cfg)
	} else {
		ceiling = cfg.writes
	}
	fmt.Fprintf(w, "Rates are averaged over seconds 1-%d of the %d-second run (second 0 holds the server's idle burst).\n",
		int(cfg.duration/time.Second)-1, int(cfg.duration/time.Second))
	fmt.Fprintf(w, "Utilization is accepted requests/s over the quota (%g writes/s, %g reads/s); \"of max\" is successful operations/s over the most the quotas allow (%.1f ops/s).\n\n",
		cfg.writes, cfg.reads, ceiling)
	fmt.Fprintln(w, "| client | ok ops/s | of max | write util | read util | requests sent | server 429s | 429s / sent | app: 20429 | app: 53119 | app: local refusal | app: other |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		sent := r.st.Reads + r.st.Writes
		share := 0.0
		if sent > 0 {
			share = float64(r.st.Throttled) / float64(sent)
		}
		ops := r.okOpsPerSecond()
		fmt.Fprintf(w, "| %s | %.1f | %s | %s | %s | %d | %d | %s | %d | %d | %d | %d |\n",
			r.spec.label, ops, pct(ops/ceiling),
			pct(r.utilization(quota.Write, cfg.writes)), pct(r.utilization(quota.Read, cfg.reads)),
			sent, r.st.Throttled, pct(share),
			r.rec.Total(loadtest.Rate429), r.rec.Total(loadtest.Quota53119),
			r.rec.Total(loadtest.LocalRefusal), r.rec.Total(loadtest.Other))
	}

	fmt.Fprintln(w, "\nLatency of successful operations (from the call to its return, retries and rate waits included):")
	fmt.Fprintln(w, "\n| client | operation | ok | p50 | p99 | max |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
	for _, r := range results {
		for _, op := range r.rec.Ops() {
			s := r.rec.Latency(op)
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s |\n", r.spec.label, op, s.N, ms(s.P50), ms(s.P99), ms(s.Max))
		}
	}

	if len(results) > 0 && results[0].batchN > 0 {
		b := results[0]
		rate, what := cfg.writes, "room creations"
		if b.batchCls == quota.Read {
			rate, what = cfg.reads, "room fetches"
		}
		minimum := time.Duration(float64(b.batchN) / rate * float64(time.Second))
		burstMin := time.Duration(float64(max(b.batchN-int(rate), 0)) / rate * float64(time.Second))
		fmt.Fprintf(w, "\nBatch: %d %s from %d workers on a fresh emulator; physical minimum %d / %g per s = %s "+
			"(the emulator's bucket starts full with one second of quota, so a client that spends that burst first could finish in %s).\n\n",
			b.batchN, what, cfg.workers, b.batchN, rate, minimum.Round(time.Millisecond), burstMin.Round(time.Millisecond))
		fmt.Fprintln(w, "| client | succeeded | wall time | vs minimum | requests sent | server 429s |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
		for _, r := range results {
			sent := r.batchSt.Reads + r.batchSt.Writes
			fmt.Fprintf(w, "| %s | %d / %d | %s | %+.1f%% | %d | %d |\n", r.spec.label, r.batchOK, r.batchN,
				r.batchWall.Round(time.Millisecond), 100*(r.batchWall.Seconds()/minimum.Seconds()-1), sent, r.batchSt.Throttled)
		}
	}
	adaptiveReport(w, cfg, results)
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintf(w, "%s: %d jobs accepted, %d arrivals shed (all workers busy); server peak rooms %d.\n",
			r.spec.label, r.accepted, r.shed, r.st.RoomsPeak)
	}
}

func writeChart(cfg config, results []*result) error {
	n := int(cfg.duration / time.Second)
	values := func(tl *loadtest.Timeline) []float64 {
		b := tl.Buckets(n)[:n]
		v := make([]float64, n)
		for j := range b {
			v[j] = float64(b[j])
		}
		return v
	}
	var ok, throttled []loadtest.Series
	for i, r := range results {
		c := loadtest.Palette[i%len(loadtest.Palette)]
		ok = append(ok, loadtest.Series{Name: r.spec.label, Color: c, Values: values(r.rec.Successes())})
		throttled = append(throttled, loadtest.Series{Name: r.spec.label, Color: c, Values: values(r.cnt.Throttled())})
	}
	ceiling := cfg.writes
	if sc := scenarios[cfg.scenario]; sc != nil {
		ceiling = sc.ceiling(cfg)
	}
	title := fmt.Sprintf("%s scenario at %gx offered load", cfg.scenario, cfg.offered)
	if cfg.scenario == "distributed" {
		title += fmt.Sprintf(", %d processes per client", cfg.procs)
	}
	c := loadtest.Chart{
		Title:  title,
		XLabel: "seconds",
		Panels: []loadtest.Panel{
			{YLabel: "successful operations / s", RefValue: ceiling,
				RefLabel: fmt.Sprintf("most the quotas allow (%.0f/s)", ceiling), Series: ok},
			{YLabel: "429s sent by the server / s", Series: throttled},
		},
	}
	f, err := os.Create(cfg.chart)
	if err != nil {
		return err
	}
	if err := loadtest.WriteChart(f, c); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

// available is the write rate the account leaves the client: the quota the
// emulator enforces, less the other application's share, and for one
// process no more than it is configured for.
func available(cfg config) float64 {
	if cfg.scenario == "distributed" {
		return cfg.twilioWrites - cfg.other
	}
	return min(cfg.writes, cfg.twilioWrites) - cfg.other
}

// adaptiveReport prints the write rate each client got on the wire from
// second cfg.from on, against what the account leaves it, with its 429s, by
// 5 s window and, for the distributed scenario, by process.
func adaptiveReport(w io.Writer, cfg config, results []*result) {
	n := int(cfg.duration / time.Second)
	from := cfg.from
	avail := available(cfg)
	sum := func(b []int64, from, to int) (s int64) {
		for _, v := range b[from:min(to, len(b))] {
			s += v
		}
		return s
	}
	fmt.Fprintf(w, "\nWrite rate on the wire from second %d to %d, against the %g writes/s the account leaves the client "+
		"(%g allowed, %g taken by another application); 429s are the client's own, over its requests in the same seconds:\n\n",
		from, n, avail, cfg.twilioWrites, cfg.other)
	fmt.Fprintln(w, "| client | accepted writes/s | of available | 429s / sent | accepted writes/s by 5 s window (from second 0) | other application: accepted writes/s | per process: accepted writes/s (fair share) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---:|---|")
	for _, r := range results {
		ok := r.cnt.Timeline(quota.Write).Buckets(n)
		reads := r.cnt.Timeline(quota.Read).Buckets(n)
		thr := r.cnt.Throttled().Buckets(n)
		okN, thrN := sum(ok, from, n), sum(thr, from, n)
		sent := okN + thrN + sum(reads, from, n)
		share := 0.0
		if sent > 0 {
			share = float64(thrN) / float64(sent)
		}
		rate := float64(okN) / float64(n-from)
		var windows []string
		for s := 0; s+5 <= n; s += 5 {
			windows = append(windows, fmt.Sprintf("%.1f", float64(sum(ok, s, s+5))/5))
		}
		other := "-"
		if r.other != nil {
			other = fmt.Sprintf("%.1f", float64(sum(r.other.Timeline(quota.Write).Buckets(n), from, n))/float64(n-from))
		}
		procs := "-"
		if len(r.procs) > 0 {
			fair := avail / float64(len(r.procs))
			procs = ""
			for i, p := range r.procs {
				if i > 0 {
					procs += ", "
				}
				v := float64(sum(p, from, n)) / float64(n-from)
				procs += fmt.Sprintf("%.2f (%+.0f%%)", v, 100*(v/fair-1))
			}
		}
		fmt.Fprintf(w, "| %s | %.2f | %s | %s | %s | %s | %s |\n", r.spec.label, rate, pct(rate/avail), pct(share),
			strings.Join(windows, ", "), other, procs)
	}
}
