package redisstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/quota/storetest"
)

func TestClusterConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster of three masters (seconds); run without -short")
	}
	t.Parallel() // its own servers
	cl := redistest.StartCluster(t, 3)
	rdb := cl.Client(t, nil)
	prefix := redistest.Prefix(t)
	s := newStore(t, rdb, redisstore.WithPrefix(prefix))
	storetest.Run(t, func(t *testing.T) backend.Store { return s })
	t.Run("Inspector", func(t *testing.T) {
		storetest.RunInspector(t, func(t *testing.T) backend.Store { return s })
	})
	t.Run("Shared", func(t *testing.T) {
		other := newStore(t, cl.Client(t, nil), redisstore.WithPrefix(prefix))
		storetest.RunShared(t, func(t *testing.T) (backend.Store, backend.Store) { return s, other })
	})
	t.Run("Limits", func(t *testing.T) {
		other := newStore(t, cl.Client(t, nil), redisstore.WithPrefix(prefix))
		storetest.RunLimits(t, func(t *testing.T) (backend.Store, backend.Store) { return s, other })
	})
	t.Run("FailLocal", func(t *testing.T) {
		fl := newStore(t, rdb, redisstore.WithPrefix(prefix),
			redisstore.WithFailurePolicy(redisstore.FailLocal), redisstore.WithLocalShare(0.5))
		storetest.Run(t, func(t *testing.T) backend.Store { return fl })
	})
	t.Run("AccountsSpreadOverMasters", func(t *testing.T) {
		// Every account's keys share one slot (the hash tag), and 1,000
		// accounts land on every master.
		ctx := context.Background()
		b := &backend.Bounds{Limit: 5, Hysteresis: 1}
		// A rate key lives until its bucket is full again (one token's
		// interval) and a second more: at 0.01/s, 100 s, so that every
		// account's keys are still there when they are counted, however
		// long the 2,000 calls below take on a busy machine.
		slow := backend.Rate{PerSecond: 0.01, Burst: 1}
		for i := range 1000 {
			acct := fmt.Sprintf("AC%032d", i)
			if _, _, err := s.TakeToken(ctx, acct, backend.Write, slow, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Reserve(ctx, acct, backend.Rooms, "r", b, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex // ForEachMaster calls in parallel
		perNode := map[string]int{}
		err := rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			n, err := node.Eval(ctx, "return #redis.call('KEYS', ARGV[1])", nil, prefix+":{AC0*").Int()
			mu.Lock()
			perNode[node.Options().Addr] = n
			mu.Unlock()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("keys of 1,000 accounts per master: %v", perNode)
		if len(perNode) != 3 {
			t.Fatalf("masters seen: %v, want 3", perNode)
		}
		total := 0
		for addr, n := range perNode {
			total += n
			if n < 4*1000/3/2 { // 4 keys per account (gen, rate, pending, epoch); an even spread gives 1,333 each
				t.Errorf("master %s holds %d keys, want about 1,333 of 4,000", addr, n)
			}
		}
		if total != 4000 {
			t.Errorf("%d keys in all, want 4 per account (gen, rate:write, rooms:pending, rooms:epoch)", total)
		}
		for i := range 1000 {
			acct := fmt.Sprintf("AC%032d", i)
			slot := -1
			for _, k := range []string{"gen", "rate:write", "rooms:pending", "rooms:epoch"} {
				n, err := rdb.ClusterKeySlot(ctx, prefix+":{"+acct+"}:"+k).Result()
				if err != nil {
					t.Fatal(err)
				}
				if slot >= 0 && int(n) != slot {
					t.Fatalf("account %s: keys on slots %d and %d", acct, slot, n)
				}
				slot = int(n)
			}
		}
	})
}

func TestSentinelConformance(t *testing.T) {
	skipSentinelIfShort(t)
	t.Parallel() // its own servers, and mostly waiting for the sentinel
	sen := redistest.StartSentinel(t)
	rdb := sen.Client(t, nil)
	s := newStore(t, rdb, redisstore.WithPrefix(redistest.Prefix(t)))
	storetest.Run(t, func(t *testing.T) backend.Store { return s })
	t.Run("Inspector", func(t *testing.T) {
		storetest.RunInspector(t, func(t *testing.T) backend.Store { return s })
	})
}

func TestSentinelFailover(t *testing.T) {
	skipSentinelIfShort(t)
	t.Parallel() // its own servers, and mostly waiting for the sentinel
	// The replica is promoted: the store finds the new master through the
	// sentinel; the ledger (replicated) is kept; no slot is lost or doubled.
	sen := redistest.StartSentinel(t)
	prefix := redistest.Prefix(t)
	edit := func(o *redis.FailoverOptions) {
		o.MaxRetries, o.DialTimeout = -1, 200*time.Millisecond
		o.ReadTimeout, o.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	}
	s := newStore(t, sen.Client(t, edit), redisstore.WithPrefix(prefix),
		redisstore.WithFailurePolicy(redisstore.FailLocal), redisstore.WithLocalShare(0.5),
		redisstore.WithProbeInterval(50*time.Millisecond))
	b := &backend.Bounds{Limit: 6, Hysteresis: 1}
	c := ledgerCheck{t, s, "AC1", b}
	c.hold("RM1")
	c.reserve("r1", false)
	// Wait until the replica has both, as a healthy replica would.
	if err := sen.Client(t, nil).Do(context.Background(), "WAIT", 1, 2000).Err(); err != nil {
		t.Fatal(err)
	}
	took := sen.Failover(t)
	t.Logf("the sentinel promoted the replica %v after the master was killed", took.Round(time.Millisecond))
	c.hold("RM2") // on the new master, or locally then written back
	waitRecovered(t, s, "AC1")
	observer := newStore(t, sen.Client(t, nil), redisstore.WithPrefix(prefix))
	ledgerCheck{t, observer, "AC1", b}.expect("RM1", "r1", "RM2")
}

func TestSentinelFailoverMissedWrites(t *testing.T) {
	skipSentinelIfShort(t)
	t.Parallel() // its own servers, and mostly waiting for the sentinel
	// The promoted replica missed the master's last write (it was paused):
	// it has the ledger's epoch but not the slot. The store sees a new
	// replication ID on recovery and writes its slots back.
	sen := redistest.StartSentinel(t)
	prefix := redistest.Prefix(t)
	edit := func(o *redis.FailoverOptions) {
		o.MaxRetries, o.DialTimeout = -1, 200*time.Millisecond
		o.ReadTimeout, o.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	}
	s := newStore(t, sen.Client(t, edit), redisstore.WithPrefix(prefix),
		redisstore.WithFailurePolicy(redisstore.FailLocal), redisstore.WithLocalShare(0.5),
		redisstore.WithProbeInterval(time.Second), redisstore.WithWatch(50*time.Millisecond))
	t.Cleanup(func() { s.Close() })
	b := &backend.Bounds{Limit: 6, Hysteresis: 1}
	c := ledgerCheck{t, s, "AC1", b}
	c.hold("RM1")
	if err := sen.Client(t, nil).Do(context.Background(), "WAIT", 1, 2000).Err(); err != nil {
		t.Fatal(err)
	}
	// Pause the replica and cut its link, so that the master's next write
	// never reaches it (not even into its socket's buffer).
	sen.Replica.Pause(t)
	master := redis.NewClient(sen.Master.Options())
	defer master.Close()
	if err := master.ClientKillByFilter(context.Background(), "TYPE", "replica").Err(); err != nil {
		t.Fatal(err)
	}
	c.hold("RM2") // on the master only
	sen.Master.Stop(t)
	sen.Replica.Resume(t)
	// Read the replica itself before it is promoted (the store cannot write
	// to it yet): it must have missed RM2, or the test proves nothing.
	replica := redis.NewClient(sen.Replica.Options())
	defer replica.Close()
	held := prefix + ":{AC1}:rooms:held"
	if err := replica.ZScore(context.Background(), held, "RM2").Err(); err != redis.Nil {
		t.Fatalf("the replica holds RM2 (%v): it did not miss the write, the test proves nothing", err)
	}
	if err := replica.ZScore(context.Background(), held, "RM1").Err(); err != nil {
		t.Fatalf("the replica lacks RM1 (%v): the key layout changed, the check above proves nothing", err)
	}
	sen.WaitPromoted(t)
	observer := newStore(t, sen.Client(t, nil), redisstore.WithPrefix(prefix))
	// The watch (or the recovery, if the store degraded) finds the new
	// replication ID and writes RM1 and RM2 back.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if h, _ := observer.Holds(context.Background(), "AC1", backend.Rooms, "RM2"); h && !s.Degraded() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RM2 not written back within 5s of the promotion")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ledgerCheck{t, observer, "AC1", b}.expect("RM1", "RM2")
}

// skipSentinelIfShort skips a test that starts a master, a replica and a
// sentinel (and often waits out a failover) in -short mode.
func skipSentinelIfShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a master, a replica and a sentinel (seconds); run without -short")
	}
}
