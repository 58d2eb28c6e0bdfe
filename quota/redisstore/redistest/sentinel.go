package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name the sentinel of [StartSentinel] monitors.
const SentinelMaster = "videoquota"

// Sentinel is a master, one replica and a sentinel watching them, each a
// redis-server of the test's own on loopback. The sentinel declares the
// master down after 500ms without an answer and promotes the replica.
type Sentinel struct {
	// Master and Replica are the data servers as started; after
	// [Sentinel.Failover] the replica is the master.
	Master, Replica *Server
	// Sentinel is the sentinel process.
	Sentinel *Server
	// Addrs are the sentinels' host:port, to seed a failover client.
	Addrs []string
}

// StartSentinel starts a master, a replica and a sentinel, stopped at t's
// cleanup. Without redis-server it skips t (fails it under CI=true).
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "Sentinel needs redis-server installed (apt-get install redis-server redis-sentinel)")
		return nil
	}
	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			t.Fatalf("redistest: no free loopback port: %v", err)
		}
	}
	dir := t.TempDir()
	master := startOwn(t, bin, ports[0], "", "--dir", dir)
	replica := startOwn(t, bin, ports[1], "", "--dir", dir, "--replicaof", "127.0.0.1", fmt.Sprint(ports[0]))
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 1\n"+
		"sentinel down-after-milliseconds %[1]s 500\n"+
		"sentinel failover-timeout %[1]s 5000\n"+
		"sentinel parallel-syncs %[1]s 1\n", SentinelMaster, ports[0])
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	sen := startOwn(t, bin, ports[2], conf, "--sentinel", "--dir", dir)
	s := &Sentinel{Master: master, Replica: replica, Sentinel: sen, Addrs: []string{sen.Addr}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.waitReplicating(ctx); err != nil {
		t.Fatalf("redistest: sentinel: %v", err)
	}
	return s
}

// Client returns a failover client of the sentinel's master, closed at t's
// cleanup; edit (which may be nil) changes the options first.
func (s *Sentinel) Client(t testing.TB, edit func(*redis.FailoverOptions)) *redis.Client {
	t.Helper()
	o := &redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: s.Addrs}
	if edit != nil {
		edit(o)
	}
	rdb := redis.NewFailoverClient(o)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Failover kills the master (SIGKILL) and waits until the sentinel has
// promoted the replica and it accepts writes. It returns how long that took.
func (s *Sentinel) Failover(t testing.TB) time.Duration {
	t.Helper()
	start := time.Now()
	s.Master.kill()
	s.WaitPromoted(t)
	return time.Since(start)
}

// WaitPromoted waits until the sentinel has promoted the replica, after the
// test stopped the master itself (for example with the replica paused, so
// that it misses the master's last writes), and it accepts writes.
func (s *Sentinel) WaitPromoted(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sc := redis.NewSentinelClient(s.Sentinel.Options())
	defer func() { _ = sc.Close() }()
	rdb := redis.NewClient(s.Replica.Options())
	defer func() { _ = rdb.Close() }()
	for {
		addr, err := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
		if err == nil && len(addr) == 2 && "127.0.0.1:"+addr[1] == s.Replica.Addr {
			role, err := rdb.Do(ctx, "ROLE").Slice()
			if err == nil && len(role) > 0 && role[0] == "master" {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: the sentinel did not promote the replica within 20s (last: %v %v)", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitReplicating waits until the replica is in sync and the sentinel knows it.
func (s *Sentinel) waitReplicating(ctx context.Context) error {
	rdb := redis.NewClient(s.Replica.Options())
	defer func() { _ = rdb.Close() }()
	sc := redis.NewSentinelClient(s.Sentinel.Options())
	defer func() { _ = sc.Close() }()
	for {
		info, err := rdb.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			reps, err := sc.Replicas(ctx, SentinelMaster).Result()
			if err == nil && len(reps) == 1 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica not in sync, or unknown to the sentinel, within 10s")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
