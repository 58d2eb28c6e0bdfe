package video_test

import (
	"context"
	"errors"
	"fmt"
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

// TestRedisHangEndToEnd: a Client on the Redis store (default client
// options, a 200 ms store deadline) meets a SIGSTOPped redis-server. Every
// CreateRoom and JoinToken returns within the deadline plus slack with an
// error that says Redis is unavailable; the status callbacks Twilio sends
// meanwhile (Participants joining and leaving, a Room completed) are
// accepted, not refused; within 2 s of SIGCONT the ledger equals the
// emulator without a Reconcile; after Close every call's error matches
// quota.ErrClosed.
func TestRedisHangEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	rs := redistest.Start(t)
	if !rs.Own() {
		t.Skip("needs a redis-server of its own to pause")
	}
	const deadline = 200 * time.Millisecond
	const slack = time.Second // a loaded machine; the figures are logged
	rdb := rs.Client(t)
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

	rs.Pause(t)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			rs.Resume(t)
		}
	})
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
		if !errors.Is(err, redisstore.ErrUnavailable) {
			t.Errorf("CreateRoom with Redis hung: %v, want an error matching redisstore.ErrUnavailable", err)
		}
		// Its reservation timed out: giving it back must not wait on Redis
		// again (a second deadline), but go to the queue of writes.
		if d := sent.Load() - n; d > 1 {
			t.Errorf("CreateRoom %d with Redis hung sent %d commands to Redis, want at most 1 (the reservation)", i, d)
		}
		err = timed("JoinToken", func() error {
			_, err := e.vq.JoinToken(ctx, fmt.Sprintf("h%d", i), fmt.Sprintf("late%d", i))
			return err
		})
		if !errors.Is(err, redisstore.ErrUnavailable) {
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
	e.flush(t)
	if n := e.srv.Stats().CallbacksFailed - before; n != 0 {
		t.Errorf("%d status callbacks refused while Redis hung (Twilio does not resend them)", n)
	}
	t.Logf("longest call with Redis hung: %v (store deadline %v)", longest, deadline)

	rs.Resume(t)
	resumed = true
	resume := time.Now()
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
