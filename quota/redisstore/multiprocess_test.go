package redisstore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// The multi-process tests re-execute this test binary; the environment
// variable envChild selects what the child does instead of running tests.
const envChild = "VIDEOQUOTA_MP_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(envChild); mode != "" {
		os.Exit(runChild(mode))
	}
	// go-redis's lines with no trace of their call go to stderr, not to
	// the logger of the first test's store, which may log through a test
	// that has ended.
	redisstore.RouteRedisLog(stderrLog)
	os.Exit(m.Run())
}

// childConf is what a child process is told, as JSON in envChild's sibling.
type childConf struct {
	Emulator, Account, Token string
	Redis, Prefix            string
	Rooms                    int           // the concurrent Rooms quota
	Writes                   float64       // the writes/s quota
	Attempts                 int           // rooms to try to create
	Start                    time.Time     // when to begin, so all children start together
	Duration                 time.Duration // how long to offer load
	Offered                  float64       // requests/s this child offers
	TTL                      time.Duration // lease of the holder's reservations
	FailLocal                bool          // the store's policy: FailLocal with share 1/Processes, else FailClosed
	Processes                int
	SentinelAddrs            []string // when set, Redis is the sentinels' master SentinelMaster
	SentinelMaster           string
}

const envConf = "VIDEOQUOTA_MP_CONF"

// childResult is what a child reports on its last line of output.
type childResult struct {
	OK, Local, Twilio, RateLimited, TimedOut, Unavailable, Other int
	OtherErr                                                     string
	Times                                                        []time.Time // of the successful creates
	Granted                                                      []int64     // Redis server time (µs) at which each write token granted may be used
	Returned                                                     int         // write tokens given back to Redis (each one's slot is granted again)
	SIDs                                                         []string    // of the rooms created
	Degraded                                                     bool        // the store's state after the step
	Lost                                                         int         // chaos: completions answered 53112 (an earlier attempt's answer lost)
}

// count records a failed operation by the kind of its error. A deadline
// exceeded means the token came just before the deadline and the request
// did not finish within what was left of it.
func (res *childResult) count(err error) {
	var ee *quota.ExceededError
	switch {
	case errors.Is(err, redisstore.ErrUnavailable):
		res.Unavailable++
	case errors.As(err, &ee) && ee.Source == quota.SourceLocal:
		res.Local++
	case errors.As(err, &ee):
		res.Twilio++
	case errors.Is(err, quota.ErrRateLimited):
		res.RateLimited++
	case errors.Is(err, context.DeadlineExceeded):
		res.TimedOut++
	default:
		res.Other++
		res.OtherErr = err.Error()
	}
}

const resultPrefix, readyLine, refusedLine = "VQRESULT ", "VQREADY", "VQREFUSED"

func runChild(mode string) int {
	var conf childConf
	if err := json.Unmarshal([]byte(os.Getenv(envConf)), &conf); err != nil {
		fmt.Fprintln(os.Stderr, "child: bad conf:", err)
		return 2
	}
	if conf.Redis == "" {
		conf.Redis = "redis://127.0.0.1:1/0" // unused: the sentinel names the master
	}
	opts, err := redis.ParseURL(conf.Redis)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	storeOpts := []redisstore.Option{redisstore.WithPrefix(conf.Prefix)}
	if mode == "steps" || mode == "chaos" {
		// Fail fast when Redis is gone, as a service would configure it.
		opts.MaxRetries, opts.DialTimeout = -1, 200*time.Millisecond
		opts.ReadTimeout, opts.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond
		if conf.FailLocal {
			storeOpts = append(storeOpts, redisstore.WithFailurePolicy(redisstore.FailLocal),
				// A grace (two probe intervals) that covers the other
				// processes' write-backs on a loaded machine.
				redisstore.WithLocalShare(1/float64(conf.Processes)), redisstore.WithProbeInterval(250*time.Millisecond))
		}
	}
	if mode == "chaos" {
		// A hung Redis counts as gone after 200ms; the grace after a loss of
		// data is two probe intervals.
		storeOpts = append(storeOpts, redisstore.WithTimeout(200*time.Millisecond), redisstore.WithProbeInterval(chaosProbe),
			redisstore.WithWatch(chaosProbe/3))
	}
	rdb := redis.NewClient(opts)
	if len(conf.SentinelAddrs) > 0 {
		rdb = redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: conf.SentinelMaster, SentinelAddrs: conf.SentinelAddrs,
			MaxRetries: opts.MaxRetries, DialTimeout: opts.DialTimeout,
			ReadTimeout: opts.ReadTimeout, WriteTimeout: opts.WriteTimeout,
		})
	}
	defer rdb.Close()
	store, err := redisstore.New(rdb, storeOpts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer store.Close()
	if mode == "holder" {
		// Take every Room slot with a short lease, as a process does between
		// reserving and committing, then wait to be killed.
		b := &backend.Bounds{Limit: conf.Rooms, Hysteresis: 1}
		for i := range conf.Rooms {
			if _, err := store.Reserve(context.Background(), conf.Account, backend.Rooms, fmt.Sprintf("holder-%d-%d", os.Getpid(), i), b, conf.TTL); err != nil {
				fmt.Fprintln(os.Stderr, "child: holder reserve:", err)
				return 1
			}
		}
		fmt.Println(readyLine)
		select {}
	}
	// The store's own schedule: when, in Redis server time, each write
	// token granted may be used.
	var (
		gmu      sync.Mutex
		granted  []int64
		returned int
	)
	redisstore.OnReturn(store, func(_ string, class backend.Class) {
		if class == backend.Write {
			gmu.Lock()
			returned++
			gmu.Unlock()
		}
	})
	redisstore.OnGrant(store, func(_ string, class backend.Class, us int64) {
		if class == backend.Write {
			gmu.Lock()
			granted = append(granted, us)
			gmu.Unlock()
		}
	})
	client, err := video.New(conf.Account, conf.Token,
		video.WithBaseURL(conf.Emulator),
		video.WithStore(store),
		video.WithLimits(quota.Limits{ConcurrentRooms: conf.Rooms, WritesPerSecond: conf.Writes}))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer client.Close()
	if mode == "chaos" {
		return runChaosChild(client, store, conf.Account)
	}

	var (
		mu  sync.Mutex
		res childResult
		wg  sync.WaitGroup
	)
	create := func(timeout time.Duration) bool {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		room, err := client.CreateRoom(ctx, &openapi.CreateRoomParams{})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.count(err)
			return false
		}
		res.OK++
		res.Times = append(res.Times, time.Now())
		if room.Sid != nil {
			res.SIDs = append(res.SIDs, *room.Sid)
		}
		return true
	}
	if mode == "steps" {
		// Each line "create K" creates K rooms at once and reports.
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			var k int
			if _, err := fmt.Sscanf(sc.Text(), "create %d", &k); err != nil {
				break
			}
			res = childResult{}
			for range k {
				wg.Go(func() { create(5 * time.Second) })
			}
			wg.Wait()
			res.Degraded = store.Degraded()
			out, _ := json.Marshal(res)
			fmt.Println(resultPrefix + string(out))
		}
		return 0
	}
	time.Sleep(time.Until(conf.Start))
	switch mode {
	case "rooms": // all attempts at once
		for range conf.Attempts {
			wg.Go(func() { create(10 * time.Second) })
		}
	case "rate": // open loop: Offered requests per second for Duration
		tick := time.NewTicker(time.Duration(float64(time.Second) / conf.Offered))
		end := time.After(conf.Duration)
	loop:
		for {
			select {
			case <-tick.C:
				wg.Go(func() { create(time.Second) })
			case <-end:
				break loop
			}
		}
		tick.Stop()
	case "after": // keep trying until Attempts rooms are created or Duration ends
		deadline := time.Now().Add(conf.Duration)
		announced := false
		for got := 0; got < conf.Attempts && time.Now().Before(deadline); {
			if create(2 * time.Second) {
				got++
				continue
			}
			if !announced {
				announced = true
				fmt.Println(refusedLine) // refused while the holder's leases last
			}
			time.Sleep(25 * time.Millisecond)
		}
	default:
		fmt.Fprintln(os.Stderr, "child: unknown mode", mode)
		return 2
	}
	wg.Wait()
	gmu.Lock()
	res.Granted, res.Returned = slices.Clone(granted), returned
	gmu.Unlock()
	out, _ := json.Marshal(res)
	fmt.Println(resultPrefix + string(out))
	return 0
}

type child struct {
	stdin  io.WriteCloser
	cmd    *exec.Cmd
	lines  chan string
	stderr strings.Builder
	done   chan struct{}
}

func spawn(t *testing.T, mode string, conf childConf) *child {
	t.Helper()
	b, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+mode, envConf+"="+string(b))
	c := &child{cmd: cmd, lines: make(chan string, 16), done: make(chan struct{})}
	cmd.Stderr = &c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
		close(c.lines)
		cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.done
	})
	return c
}

// step tells an interactive child to create k rooms and returns its report.
func (c *child) step(t *testing.T, k int) childResult {
	t.Helper()
	if _, err := fmt.Fprintf(c.stdin, "create %d\n", k); err != nil {
		t.Fatal(err)
	}
	return c.result(t)
}

// result waits for the child's report.
func (c *child) result(t *testing.T) childResult {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				<-c.done
				t.Fatalf("child %d ended without a result: %v\n%s", c.cmd.Process.Pid, c.cmd.ProcessState, c.stderr.String())
			}
			if s, ok := strings.CutPrefix(l, resultPrefix); ok {
				var r childResult
				if err := json.Unmarshal([]byte(s), &r); err != nil {
					t.Fatal(err)
				}
				if r.Other > 0 {
					t.Errorf("child %d: %d unexpected errors, last: %s", c.cmd.Process.Pid, r.Other, r.OtherErr)
				}
				return r
			}
		case <-timeout:
			t.Fatalf("child %d: no result within 60s", c.cmd.Process.Pid)
		}
	}
}

func (c *child) waitLine(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				<-c.done
				t.Fatalf("child ended before %q: %s", want, c.stderr.String())
			}
			if l == want {
				return
			}
		case <-timeout:
			t.Fatalf("child: no %q within 30s", want)
		}
	}
}

// multiSetup starts an emulator with opts and returns the base of a child conf.
func multiSetup(t *testing.T, opts videotest.Options) (*videotest.Server, *redistest.Server, childConf) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	srv := redistest.Start(t)
	emu, err := videotest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	return emu, srv, childConf{
		Emulator: emu.URL(), Account: emu.AccountSID(), Token: emu.AuthToken(),
		Redis: srv.URL, Prefix: redistest.Prefix(t),
		Rooms: opts.ConcurrentRooms, Writes: quota.DefaultLimits().WritesPerSecond,
	}
}

const processes = 4

func TestMultiProcessRoomsQuota(t *testing.T) {
	const rooms = 6
	emu, _, conf := multiSetup(t, videotest.Options{ConcurrentRooms: rooms})
	conf.Attempts = 4 // 16 attempts for 6 rooms
	conf.Start = time.Now().Add(1500 * time.Millisecond)
	var children []*child
	for range processes {
		children = append(children, spawn(t, "rooms", conf))
	}
	var total childResult
	for _, c := range children {
		r := c.result(t)
		t.Logf("process %d: created %d, refused locally %d, refused by Twilio %d, rate limited %d", c.cmd.Process.Pid, r.OK, r.Local, r.Twilio, r.RateLimited)
		total.OK += r.OK
		total.Local += r.Local
		total.Twilio += r.Twilio
	}
	st := emu.Stats()
	if total.OK != rooms || st.RoomsNow != rooms || st.RoomsPeak != rooms {
		t.Errorf("%d processes created %d rooms (emulator: %d in progress, peak %d), want exactly %d", processes, total.OK, st.RoomsNow, st.RoomsPeak, rooms)
	}
	if total.Local != processes*conf.Attempts-rooms || total.Twilio != 0 {
		t.Errorf("refusals: %d local, %d by Twilio; want %d local and none by Twilio", total.Local, total.Twilio, processes*conf.Attempts-rooms)
	}
	if st.Requests[400] != 0 {
		t.Errorf("the emulator answered %d requests with 400 (53119)", st.Requests[400])
	}
}

func TestMultiProcessWriteRate(t *testing.T) {
	// Four processes offer three times the write quota between them. What
	// the code controls is the shared bucket's schedule: the tokens it grants
	// in each second of it, whatever the machine's load does to when the
	// goroutines send. The emulator checks the result from outside.
	const (
		writes   = 20.0
		duration = 4 * time.Second
	)
	emu, _, conf := multiSetup(t, videotest.Options{WritesPerSecond: writes})
	conf.Rooms = quota.DefaultLimits().ConcurrentRooms
	conf.Writes = writes
	conf.Duration = duration
	conf.Offered = 3 * writes / processes // 3x the quota in total
	conf.Start = time.Now().Add(1500 * time.Millisecond)
	var children []*child
	for range processes {
		children = append(children, spawn(t, "rate", conf))
	}
	var granted []int64
	var total childResult
	for _, c := range children {
		r := c.result(t)
		total.OK += r.OK
		total.RateLimited += r.RateLimited
		total.TimedOut += r.TimedOut
		granted = append(granted, r.Granted...)
		total.Returned += r.Returned
	}
	slices.Sort(granted)
	// Whole seconds of the schedule, from the first token on, leaving out
	// the first (the bucket's burst, the children starting) and the last
	// (the load ending).
	var perSecond []int
	if len(granted) > 0 {
		const sec = int64(time.Second / time.Microsecond)
		first := granted[0]
		for w := first + sec; w+sec <= first+int64(duration/time.Microsecond)-sec/2; w += sec {
			n := 0
			for _, g := range granted {
				if g >= w && g < w+sec {
					n++
				}
			}
			perSecond = append(perSecond, n)
		}
	}
	st := emu.Stats()
	requests := st.Reads + st.Writes
	t.Logf("offered %.0f/s for %v from %d processes: tokens granted per second of the schedule %v (quota %.0f/s), %d given back; %d created, %d refused locally for the deadline, %d timed out in flight; emulator: %d requests, %d 429s",
		3*writes, duration, processes, perSecond, writes, total.Returned, total.OK, total.RateLimited, total.TimedOut, requests, st.Throttled)
	if len(perSecond) < 2 {
		t.Fatalf("schedule seconds %v: the load did not run", perSecond)
	}
	for i, n := range perSecond {
		// The bucket is saturated (3x offered), so each second of its
		// schedule holds exactly the quota: one token every 50ms. A token
		// given back (its caller's ctx ended while it waited, which a loaded
		// machine makes likelier) has its slot granted again: the schedule
		// then shows that slot twice.
		if n < int(writes) || n > int(writes)+total.Returned {
			t.Errorf("second %d of the schedule: %d tokens granted with %d given back in the run, want the quota %.0f", i+1, n, total.Returned, writes)
		}
	}
	if requests == 0 || float64(st.Throttled) > 0.01*float64(requests) {
		t.Errorf("emulator 429s: %d of %d requests, want at most 1%%", st.Throttled, requests)
	}
}

func TestMultiProcessKilledHolder(t *testing.T) {
	const (
		rooms = 4
		ttl   = 1500 * time.Millisecond
	)
	emu, srv, conf := multiSetup(t, videotest.Options{ConcurrentRooms: rooms})
	conf.TTL = ttl
	holder := spawn(t, "holder", conf)
	holder.waitLine(t, readyLine)
	reserved := time.Now()

	observer := newStore(t, srv.Client(t), redisstore.WithPrefix(conf.Prefix))
	if used, _, err := observer.Used(context.Background(), conf.Account, backend.Rooms); err != nil || used != rooms {
		t.Fatalf("Used after the holder reserved = %d, %v; want %d", used, err, rooms)
	}
	// The others start and are refused while the holder's leases last.
	conf.Attempts = 2 // 3 processes want 6 rooms; 4 fit
	conf.Duration = ttl + 4*time.Second
	conf.Start = time.Now()
	var children []*child
	for range processes - 1 {
		c := spawn(t, "after", conf)
		c.waitLine(t, refusedLine)
		children = append(children, c)
	}
	if err := holder.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-holder.done
	killed := time.Now()
	t.Logf("killed the holder %v after its reservations", killed.Sub(reserved).Round(time.Millisecond))

	var times []time.Time
	var refusedFirst int
	for _, c := range children {
		r := c.result(t)
		times = append(times, r.Times...)
		refusedFirst += r.Local
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	st := emu.Stats()
	if len(times) != rooms || st.RoomsPeak != rooms {
		t.Fatalf("after the kill: %d rooms created (emulator peak %d), want exactly %d", len(times), st.RoomsPeak, rooms)
	}
	t.Logf("first room %v after the kill", times[0].Sub(killed).Round(time.Millisecond))
	last := times[len(times)-1].Sub(killed)
	t.Logf("holder killed holding %d reservations (lease %v); the others were refused locally %d times, then created all %d rooms %v after the kill",
		rooms, ttl, refusedFirst, rooms, last.Round(time.Millisecond))
	if last > ttl+time.Second {
		t.Errorf("the killed process's capacity came back %v after the kill, want within the lease (%v) plus 1s", last, ttl)
	}
	if first := times[0].Sub(killed); first < 0 {
		t.Errorf("a room was created %v before the holder's leases could lapse", -first)
	}
	if st.Requests[400] != 0 {
		t.Errorf("the emulator refused %d creates (53119)", st.Requests[400])
	}
}

func TestMultiProcessRedisRestart(t *testing.T) {
	const rooms = 8 // a share of 2 per process while Redis is away
	for _, failLocal := range []bool{true, false} {
		name := "FailClosed"
		if failLocal {
			name = "FailLocal"
		}
		t.Run(name, func(t *testing.T) {
			emu, srv, conf := multiSetup(t, videotest.Options{ConcurrentRooms: rooms})
			if !srv.Own() {
				t.Skip("needs a redis-server of its own to restart")
			}
			conf.FailLocal, conf.Processes = failLocal, processes
			var children []*child
			for range processes {
				children = append(children, spawn(t, "steps", conf))
			}
			step := func(k int) (total childResult) {
				t.Helper()
				var mu sync.Mutex
				var wg sync.WaitGroup
				for _, c := range children {
					wg.Go(func() {
						r := c.step(t, k)
						mu.Lock()
						defer mu.Unlock()
						total.OK += r.OK
						total.Local += r.Local
						total.Twilio += r.Twilio
						total.Unavailable += r.Unavailable
						total.SIDs = append(total.SIDs, r.SIDs...)
						total.Degraded = total.Degraded || r.Degraded
					})
				}
				wg.Wait()
				return total
			}
			var sids []string
			r := step(1) // Redis up: one room each
			if r.OK != processes {
				t.Fatalf("with Redis up: %d rooms, want %d", r.OK, processes)
			}
			sids = append(sids, r.SIDs...)

			srv.Stop(t)
			before := emu.Stats().Writes
			r = step(2)
			sids = append(sids, r.SIDs...)
			if failLocal {
				// Each process counts its own room against its share of 2:
				// one more each, then a refusal of the local share (an
				// *UnavailableError with the share's *ExceededError).
				if r.OK != processes || r.Unavailable != processes || !r.Degraded {
					t.Errorf("with Redis down: created %d, refused by the local share %d, degraded %v; want %d, %d, true", r.OK, r.Unavailable, r.Degraded, processes, processes)
				}
			} else {
				if r.OK != 0 || r.Unavailable != 2*processes {
					t.Errorf("with Redis down: created %d, unavailable %d; want 0 and %d", r.OK, r.Unavailable, 2*processes)
				}
				if after := emu.Stats().Writes; after != before {
					t.Errorf("fail-closed processes sent %d writes with Redis down", after-before)
				}
			}

			srv.Restart(t)                     // empty: no persistence
			time.Sleep(300 * time.Millisecond) // past the probe interval
			r = step(1)
			sids = append(sids, r.SIDs...)
			observer := newStore(t, srv.Client(t), redisstore.WithPrefix(conf.Prefix))
			st := emu.Stats()
			// The processes write their rooms back as they meet the lost
			// ledger, in the background of the operation that met it:
			// wait (bounded) for Redis to count what the emulator has.
			var used int
			for deadline := time.Now().Add(10 * time.Second); ; {
				var err error
				used, _, err = observer.Used(context.Background(), conf.Account, backend.Rooms)
				if err != nil {
					t.Fatal(err)
				}
				if used >= st.RoomsNow || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("after the restart: created %d more, refused locally %d; Redis counts %d rooms, the emulator has %d (peak %d)",
				r.OK, r.Local, used, st.RoomsNow, st.RoomsPeak)
			if st.RoomsPeak > rooms || st.Requests[400] != 0 {
				t.Errorf("emulator peak %d rooms and %d 53119s, want at most %d and none", st.RoomsPeak, st.Requests[400], rooms)
			}
			if failLocal {
				// Every room is counted in Redis again, each once: the quota is full.
				if r.OK != 0 || r.Degraded || used != rooms || len(sids) != rooms {
					t.Errorf("after recovery: created %d, degraded %v, Redis counts %d of %d rooms created; want 0, false, %d, %d", r.OK, r.Degraded, used, len(sids), rooms, rooms)
				}
				for _, sid := range sids {
					if h, err := observer.Holds(context.Background(), conf.Account, backend.Rooms, sid); err != nil || !h {
						t.Errorf("Redis does not hold room %s after recovery (%v)", sid, err)
					}
				}
			} else if r.OK != 0 || r.Unavailable != processes || used != st.RoomsNow {
				// Redis came back empty: each process meets the lost ledger at
				// its first operation or its flusher's write-back, writes its
				// rooms back, and is refused meanwhile (ErrBacklog) or for
				// the grace (two probe intervals; ErrGrace), without a
				// reconcile.
				t.Errorf("after the restart: created %d, refused for the grace %d, Redis counts %d; want 0, %d, and the emulator's %d",
					r.OK, r.Unavailable, used, processes, st.RoomsNow)
			}
			for _, c := range children {
				c.stdin.Close()
			}
		})
	}
}
