package video_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// hangTopo is a Redis deployment a Client's store runs on, and how the
// server holding an account's keys is paused and resumed.
type hangTopo struct {
	client func(t *testing.T) redis.UniversalClient // a new client of the deployment
	// pause SIGSTOPs the server holding account's keys; resume SIGCONTs it.
	pause, resume func(t *testing.T, rdb redis.UniversalClient, account string)
	// failsOver: another server takes the paused one's place during the
	// hang (Sentinel), so calls may succeed there before SIGCONT.
	failsOver bool
}

// TestRedisHangEndToEnd: a Client on the Redis store (default client
// options, a 200 ms store deadline) meets a SIGSTOPped redis-server. Every
// CreateRoom and JoinToken returns within the deadline plus slack with an
// error that says Redis is unavailable; the status callbacks Twilio sends
// meanwhile (Participants joining and leaving, a Room completed) are
// accepted, not refused; a CreateRoom waiting on Redis (a store with a
// minute's deadline) returns quota.ErrClosed within 100 ms (plus slack) of
// its Client's Close; within 1 s of SIGCONT a create is admitted, and within
// 2 s the ledger equals the emulator without a Reconcile; after Close every
// call's error matches quota.ErrClosed. The figures are logged.
func TestRedisHangEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	rs := redistest.Start(t)
	if !rs.Own() {
		t.Skip("needs a redis-server of its own to pause")
	}
	redisHang(t, hangTopo{
		client: func(t *testing.T) redis.UniversalClient { return rs.Client(t) },
		pause:  func(t *testing.T, _ redis.UniversalClient, _ string) { rs.Pause(t) },
		resume: func(t *testing.T, _ redis.UniversalClient, _ string) { rs.Resume(t) },
	})
}

// TestRedisHangEndToEndSentinel is TestRedisHangEndToEnd through Sentinel
// (a failover client): the master is SIGSTOPped, and the sentinel (which
// declares a master down after 500 ms) promotes the replica during the
// hang. Calls stay bounded by the store's deadline, the callbacks are
// accepted, and the writes queued meanwhile reach the new master.
func TestRedisHangEndToEndSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and a sentinel")
	}
	sen := redistest.StartSentinel(t)
	redisHang(t, hangTopo{
		client:    func(t *testing.T) redis.UniversalClient { return sen.Client(t, nil) },
		pause:     func(t *testing.T, _ redis.UniversalClient, _ string) { sen.Master.Pause(t) },
		resume:    func(t *testing.T, _ redis.UniversalClient, _ string) { sen.Master.Resume(t) },
		failsOver: true,
	})
}

// TestRedisHangEndToEndCluster is TestRedisHangEndToEnd on a Redis Cluster
// of three masters (node timeout at Redis's default, 15 s, longer than the
// hang): the master that holds the account's slot is SIGSTOPped.
func TestRedisHangEndToEndCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cl := redistest.StartClusterTimeout(t, 3, max(15*time.Second, hangFor(t)+10*time.Second))
	node := func(t *testing.T, rdb redis.UniversalClient, account string) *redistest.Server {
		t.Helper()
		m, err := rdb.(*redis.ClusterClient).MasterForKey(context.Background(), "{"+account+"}")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range cl.Nodes {
			if n.Addr == m.Options().Addr {
				return n
			}
		}
		t.Fatalf("no node of the cluster at %s", m.Options().Addr)
		return nil
	}
	redisHang(t, hangTopo{
		client: func(t *testing.T) redis.UniversalClient { return cl.Client(t, nil) },
		pause: func(t *testing.T, rdb redis.UniversalClient, account string) {
			node(t, rdb, account).Pause(t)
		},
		resume: func(t *testing.T, rdb redis.UniversalClient, account string) {
			node(t, rdb, account).Resume(t)
		},
	})
}

// hangFor is how long Redis stays SIGSTOPped: 3 s, or
// $VIDEOQUOTA_HANG (a Go duration, e.g. 30s) for the long run.
func hangFor(t *testing.T) time.Duration {
	v := os.Getenv("VIDEOQUOTA_HANG")
	if v == "" {
		return 3 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("VIDEOQUOTA_HANG=%q: want a positive Go duration", v)
	}
	return d
}

func redisHang(t *testing.T, topo hangTopo) {
	const deadline = 200 * time.Millisecond
	const slack = time.Second // a loaded machine; the figures are logged
	hangFor := hangFor(t)
	rdb := topo.client(t)
	var sent atomic.Int64 // commands sent to Redis
	rdb.AddHook(countHook{&sent})
	st, err := redisstore.New(rdb, redisstore.WithPrefix(redistest.Prefix(t)), redisstore.WithTimeout(deadline),
		redisstore.WithProbeInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := newCBEnv(t, churnOptions(videotest.Faults{}), nil, video.WithStore(st))
	ctx := context.Background()
	var sids []string
	for i := range 4 {
		r, err := e.vq.CreateRoom(ctx, room(fmt.Sprintf("h%d", i)).SetStatusCallback(e.statusURL()))
		if err != nil {
			t.Fatalf("CreateRoom before the hang: %v", err)
		}
		sids = append(sids, *r.Sid)
	}
	for i := range 6 {
		if _, err := e.srv.Connect(sids[i%4], fmt.Sprintf("u%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	e.flush(t)
	if m := e.ledgerMismatch(t); m != "" {
		t.Fatalf("before the hang: %s", m)
	}
	// Another Client of the account whose store waits on Redis a minute:
	// its Close must end a call waiting there at once.
	rdb2 := topo.client(t)
	var sent2 atomic.Int64
	rdb2.AddHook(countHook{&sent2})
	st2, err := redisstore.New(rdb2, redisstore.WithPrefix(redistest.Prefix(t)), redisstore.WithTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st2.Close() })
	keySID, keySecret := e.srv.APIKey()
	vq2, err := video.New(e.srv.AccountSID(), e.srv.AuthToken(), video.WithBaseURL(e.srv.URL()), video.WithAPIKey(keySID, keySecret),
		video.WithLimits(quota.Limits{ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}), video.WithStore(st2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vq2.Close() })
	if _, _, err := vq2.Ledger().Used(ctx, quota.Rooms); err != nil { // its pool has a connection
		t.Fatal(err)
	}

	account := e.srv.AccountSID()
	topo.pause(t, rdb, account)
	paused := time.Now()
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			topo.resume(t, rdb, account)
		}
	})
	{
		n := sent2.Load()
		errs := make(chan error, 1)
		go func() { _, err := vq2.CreateRoom(ctx, room("waiting")); errs <- err }()
		for wait := time.Now(); sent2.Load() == n; time.Sleep(time.Millisecond) { // on its way to Redis
			if time.Since(wait) > 5*time.Second {
				t.Fatal("the waiting CreateRoom sent nothing to Redis in 5s")
			}
		}
		start := time.Now()
		if err := vq2.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errs:
			d := time.Since(start)
			t.Logf("a CreateRoom waiting on Redis returned %v after its Client's Close: %v", d, err)
			if !errors.Is(err, quota.ErrClosed) {
				t.Errorf("a CreateRoom waiting on Redis at Close: %v, want quota.ErrClosed", err)
			}
			if d > 100*time.Millisecond+slack {
				t.Errorf("a CreateRoom waiting on Redis returned %v after Close, want within 100ms", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a CreateRoom waiting on Redis has not returned 5s after Close")
		}
	}
	var longest time.Duration
	timed := func(what string, f func() error) error {
		start := time.Now()
		err := f()
		d := time.Since(start)
		longest = max(longest, d)
		t.Logf("%s with Redis hung: %v, %v", what, d, err)
		if d > deadline+slack {
			t.Errorf("%s with Redis hung took %v, want about the store's deadline %v", what, d, deadline)
		}
		return err
	}
	for i := range 3 {
		n := sent.Load()
		err := timed("CreateRoom", func() error {
			_, err := e.vq.CreateRoom(ctx, room(fmt.Sprintf("during%d", i)).SetStatusCallback(e.statusURL()))
			return err
		})
		if !errors.Is(err, redisstore.ErrUnavailable) && !(topo.failsOver && err == nil) {
			t.Errorf("CreateRoom with Redis hung: %v, want an error matching redisstore.ErrUnavailable", err)
		}
		// Its reservation timed out: giving it back must not wait on Redis
		// again (a second deadline), but go to the queue of writes.
		if d := sent.Load() - n; d > 1 && err != nil {
			t.Errorf("CreateRoom %d with Redis hung sent %d commands to Redis, want at most 1 (the reservation)", i, d)
		}
		err = timed("JoinToken", func() error {
			_, err := e.vq.JoinToken(ctx, fmt.Sprintf("h%d", i), fmt.Sprintf("late%d", i))
			return err
		})
		if !errors.Is(err, redisstore.ErrUnavailable) && !(topo.failsOver && err == nil) {
			t.Errorf("JoinToken with Redis hung: %v, want an error matching redisstore.ErrUnavailable", err)
		}
	}
	// What Twilio reports meanwhile: two leave, two join, a Room ends.
	before := e.srv.Stats().CallbacksFailed
	for _, step := range []func() error{
		func() error { return e.srv.Disconnect(sids[0], "u0") },
		func() error { return e.srv.Disconnect(sids[1], "u1") },
		func() error { _, err := e.srv.Connect(sids[2], "n1"); return err },
		func() error { _, err := e.srv.Connect(sids[3], "n2"); return err },
		func() error {
			_, err := e.vq.UpdateRoom(ctx, sids[0], (&openapi.UpdateRoomParams{}).SetStatus("completed"))
			if err != nil && !errors.Is(err, redisstore.ErrUnavailable) {
				return err
			}
			return nil
		},
	} {
		if err := timed("a step of Twilio's", step); err != nil {
			t.Fatal(err)
		}
	}
	// The hang lasts hangFor, calls going on meanwhile (long enough for
	// Sentinel, which declares a master down after 500 ms, to fail over).
	calls, failed := 0, 0
	for i := 0; time.Since(paused) < hangFor; i++ {
		err := timed("CreateRoom", func() error {
			_, err := e.vq.CreateRoom(ctx, room(fmt.Sprintf("held%d", i)).SetStatusCallback(e.statusURL()))
			return err
		})
		calls++
		if err != nil {
			failed++
			if !errors.Is(err, redisstore.ErrUnavailable) {
				t.Errorf("CreateRoom with Redis hung: %v, want an error matching redisstore.ErrUnavailable", err)
			}
		} else if !topo.failsOver {
			t.Errorf("CreateRoom with Redis hung succeeded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.flush(t)
	if n := e.srv.Stats().CallbacksFailed - before; n != 0 {
		t.Errorf("%d status callbacks refused while Redis hung (Twilio does not resend them)", n)
	}
	t.Logf("longest call with Redis hung: %v (store deadline %v); %d creates during the %v hang, %d refused as unavailable",
		longest, deadline, calls, time.Since(paused), failed)

	topo.resume(t, rdb, account)
	resumed = true
	resume := time.Now()
	// Creates are admitted again at the store's usage (the writes queued
	// during the hang written back first).
	var lastErr error
	for i := 0; ; i++ {
		_, lastErr = e.vq.CreateRoom(ctx, room(fmt.Sprintf("after%d", i)).SetStatusCallback(e.statusURL()))
		if lastErr == nil || time.Since(resume) > 5*time.Second {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(resume); lastErr != nil {
		t.Errorf("5s after SIGCONT creates are still refused: %v", lastErr)
	} else {
		t.Logf("first create admitted %v after SIGCONT", d)
		if d > time.Second+slack {
			t.Errorf("first create admitted %v after SIGCONT, want within 1s", d)
		}
	}
	e.flush(t)
	var m string
	for {
		// Until the queued writes are written back, the store says so.
		_, _, err := e.vq.Ledger().Used(ctx, quota.Rooms)
		if err == nil {
			if m = e.ledgerMismatch(t); m == "" {
				break
			}
		} else {
			m = err.Error()
		}
		if time.Since(resume) > 2*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m != "" {
		t.Errorf("2s after SIGCONT, without a Reconcile: %s", m)
	} else {
		t.Logf("ledger equal to the emulator %v after SIGCONT", time.Since(resume))
	}

	if err := e.vq.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := e.vq.CreateRoom(ctx, room("after")); !errors.Is(err, quota.ErrClosed) {
		t.Errorf("CreateRoom after Close: %v, want quota.ErrClosed", err)
	}
	if _, err := e.vq.JoinToken(ctx, "h1", "after"); !errors.Is(err, quota.ErrClosed) {
		t.Errorf("JoinToken after Close: %v, want quota.ErrClosed", err)
	}
	if _, _, err := e.vq.Ledger().Used(ctx, quota.Rooms); !errors.Is(err, quota.ErrClosed) {
		t.Errorf("Ledger().Used after Close: %v, want quota.ErrClosed", err)
	}
	if _, err := e.vq.Reconcile(ctx); !errors.Is(err, quota.ErrClosed) {
		t.Errorf("Reconcile after Close: %v, want quota.ErrClosed", err)
	}
	if _, err := e.vq.FetchRoom(ctx, sids[1]); !errors.Is(err, quota.ErrClosed) {
		t.Errorf("FetchRoom after Close: %v, want quota.ErrClosed", err)
	}
}

// countHook counts the commands a Redis client sends (a pipeline's one by one).
type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
