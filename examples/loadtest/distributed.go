package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/examples/loadtest/internal/loadtest"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// tokenEnv carries the emulator's auth token to child processes, so that it
// never shows on a command line.
const tokenEnv = "LOADTEST_AUTH_TOKEN"

// distributedSpecs are the extra clients of the distributed scenario: one
// videoquota per process with its own in-memory quota (each believes it has
// the whole account), and one sharing the quota through Redis.
var distributedSpecs = []clientSpec{
	{name: "videoquota-memory", label: "videoquota, per-process memory store", build: clientByName("videoquota").build},
	{name: "videoquota-redis", label: "videoquota, shared Redis store", build: func(cfg config, e endpoint, rt http.RoundTripper) (loadtest.API, func(), error) {
		rdb := redis.NewClient(&redis.Options{Addr: cfg.redisAddr, PoolSize: 4 * cfg.workers})
		st, err := redisstore.New(rdb, redisstore.WithPrefix(cfg.redisPrefix))
		if err != nil {
			rdb.Close()
			return nil, nil, err
		}
		vq, err := video.New(e.sid, e.token,
			video.WithBaseURL(e.url),
			video.WithLimits(limits(cfg)),
			video.WithStore(st),
			video.WithHTTPClient(&http.Client{Transport: rt, Timeout: 10 * time.Second}))
		if err != nil {
			rdb.Close()
			return nil, nil, err
		}
		return vq, func() { _ = vq.Close(); _ = rdb.Close() }, nil
	}},
}

func distributedSpec(name string) *clientSpec {
	for i := range distributedSpecs {
		if distributedSpecs[i].name == name {
			return &distributedSpecs[i]
		}
	}
	return clientByName(name)
}

// childReport is what a child process prints on its stdout.
type childReport struct {
	Rec      loadtest.Data
	Write    []int64 // accepted write requests per second
	Read     []int64 // accepted read requests per second
	Throttle []int64 // 429 responses per second
	Accepted int64
	Shed     int64
}

// runDistributed runs each client as cfg.procs OS processes (this binary,
// re-executed in child mode) sharing one emulator, hence one account quota,
// and merges what they measured.
func runDistributed(cfg config, stderr io.Writer) ([]*result, error) {
	names := strings.Split(cfg.clients, ",")
	needRedis := false
	for _, n := range names {
		needRedis = needRedis || n == "videoquota-redis"
	}
	if needRedis && cfg.redisAddr == "" {
		addr, stop, err := startRedis()
		if err != nil {
			return nil, fmt.Errorf("start redis-server (or pass -redis host:port): %w", err)
		}
		defer stop()
		cfg.redisAddr = addr
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sc := scenarios["write"]
	var results []*result
	for i, name := range names {
		spec := distributedSpec(name)
		fmt.Fprintf(stderr, "running %s as %d processes (%v)...\n", spec.label, cfg.procs, cfg.duration)
		srv, err := videotest.Start(serverOptions(cfg))
		if err != nil {
			return nil, err
		}
		start := time.Now().Add(time.Second) // time for the children to start
		prefix := fmt.Sprintf("loadtest-%d-%d", os.Getpid(), i)
		reports, err := spawn(exe, cfg, spec.name, srv, start, prefix, stderr)
		st := srv.Stats()
		srv.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.label, err)
		}
		n := int(cfg.duration / time.Second)
		res := &result{spec: spec, rec: loadtest.NewRecorder(start, sc.ops...),
			cnt: loadtest.NewCounter(nil, start), st: st, seconds: n}
		for _, r := range reports {
			res.rec.Merge(r.Rec)
			res.cnt.Timeline(quota.Write).AddBuckets(r.Write)
			res.cnt.Timeline(quota.Read).AddBuckets(r.Read)
			res.cnt.Throttled().AddBuckets(r.Throttle)
			res.accepted += r.Accepted
			res.shed += r.Shed
			res.procs = append(res.procs, r.Write)
		}
		results = append(results, res)
	}
	return results, nil
}

// spawn starts cfg.procs children and collects their reports.
func spawn(exe string, cfg config, client string, srv *videotest.Server, start time.Time, prefix string, stderr io.Writer) ([]childReport, error) {
	args := []string{
		"-child", client, "-scenario", "write",
		"-duration", cfg.duration.String(),
		"-workers", strconv.Itoa(max(1, cfg.workers/cfg.procs)),
		"-offered", strconv.FormatFloat(cfg.offered/float64(cfg.procs), 'g', -1, 64),
		"-reads", strconv.FormatFloat(cfg.reads, 'g', -1, 64),
		"-writes", strconv.FormatFloat(cfg.writes, 'g', -1, 64),
		"-twilio-writes", strconv.FormatFloat(cfg.twilioWrites, 'g', -1, 64), "-chart", "none",
		"-rooms", strconv.Itoa(cfg.rooms), "-participants", strconv.Itoa(cfg.participants),
		"-redis", cfg.redisAddr, "-redis-prefix", prefix,
		"-url", srv.URL(), "-sid", srv.AccountSID(),
		"-start", strconv.FormatInt(start.UnixNano(), 10),
	}
	reports := make([]childReport, cfg.procs)
	errs := make([]error, cfg.procs)
	var wg sync.WaitGroup
	for p := range cfg.procs {
		wg.Go(func() {
			cmd := exec.Command(exe, args...)
			cmd.Env = append(os.Environ(), tokenEnv+"="+srv.AuthToken())
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, stderr
			if err := cmd.Run(); err != nil {
				errs[p] = fmt.Errorf("child %d: %w", p, err)
				return
			}
			if err := json.Unmarshal(out.Bytes(), &reports[p]); err != nil {
				errs[p] = fmt.Errorf("child %d: bad report: %w", p, err)
			}
		})
	}
	wg.Wait()
	return reports, errors.Join(errs...)
}

// runChild is one process of the distributed scenario: it drives its share
// of the offered load from the common start time and prints a childReport.
func runChild(cfg config, stdout io.Writer) error {
	spec := distributedSpec(cfg.child)
	if spec == nil {
		return fmt.Errorf("-child %q: unknown client", cfg.child)
	}
	token := os.Getenv(tokenEnv)
	if cfg.url == "" || cfg.sid == "" || token == "" || cfg.start == 0 {
		return errors.New("child mode needs -url, -sid, -start and " + tokenEnv)
	}
	sc := scenarios[cfg.scenario]
	start := time.Unix(0, cfg.start)
	cnt := loadtest.NewCounter(transport(cfg.workers), start)
	api, closeAPI, err := spec.build(cfg, endpoint{cfg.url, cfg.sid, token}, cnt)
	if err != nil {
		return err
	}
	defer closeAPI()
	rec := loadtest.NewRecorder(start, sc.ops...)
	e := &env{cfg: cfg}
	time.Sleep(time.Until(start))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(time.Until(start.Add(cfg.duration)), cancel)
	defer stop.Stop()
	var rep childReport
	rep.Accepted, rep.Shed = drive(ctx, sc.streams(e), cfg.workers, api, rec)
	n := int(cfg.duration / time.Second)
	rep.Rec = rec.Data(n)
	rep.Write = cnt.Timeline(quota.Write).Buckets(n)
	rep.Read = cnt.Timeline(quota.Read).Buckets(n)
	rep.Throttle = cnt.Throttled().Buckets(n)
	return json.NewEncoder(stdout).Encode(rep)
}

// startRedis starts a throw-away redis-server on a free loopback port and
// returns its address and a func that stops it.
func startRedis() (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := rdb.Ping(context.Background()).Err(); err == nil {
			return addr, stop, nil
		} else if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("redis-server on %s did not answer: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
