package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster for a test: masters without replicas, each a
// redis-server of the test's own on loopback, with the 16384 slots split
// evenly between them.
type Cluster struct {
	// Addrs are the masters' host:port, to seed a cluster client.
	Addrs []string
	// Nodes are the masters, in slot order.
	Nodes []*Server
}

// StartCluster starts a cluster of n masters (n >= 1), stopped at t's
// cleanup, with a node timeout of 2 s. Without redis-server it skips t
// (fails it under CI=true): a cluster cannot be borrowed through
// $VIDEOQUOTA_REDIS_URL.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	return StartClusterTimeout(t, n, 2*time.Second)
}

// StartClusterTimeout is [StartCluster] with the cluster-node-timeout
// given: how long a master may not answer before the others fail it (and
// the cluster refuses every command with CLUSTERDOWN, having no replica to
// promote). Redis's default is 15 s.
func StartClusterTimeout(t testing.TB, n int, nodeTimeout time.Duration) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("redistest: StartCluster(%d): want at least one master", n)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "a Redis Cluster needs redis-server installed (apt-get install redis-server)")
		return nil
	}
	dir := t.TempDir()
	c := &Cluster{}
	for i := range n {
		port, err := freeClusterPort()
		if err != nil {
			t.Fatalf("redistest: no free loopback port pair for a cluster node: %v", err)
		}
		srv := startOwn(t, bin, port, "",
			"--cluster-enabled", "yes",
			"--cluster-config-file", fmt.Sprintf("%s/nodes-%d-%d.conf", dir, i, port),
			"--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10),
			"--dir", dir)
		c.Nodes = append(c.Nodes, srv)
		c.Addrs = append(c.Addrs, srv.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const slots = 16384
	for i, srv := range c.Nodes {
		rdb := redis.NewClient(srv.Options())
		lo, hi := i*slots/n, (i+1)*slots/n-1
		err := rdb.ClusterAddSlotsRange(ctx, lo, hi).Err()
		if err == nil && i > 0 {
			err = rdb.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(c.Nodes[0].port)).Err()
		}
		_ = rdb.Close() // a client of our own: nothing to lose
		if err != nil {
			t.Fatalf("redistest: cluster node %s: %v", srv.Addr, err)
		}
	}
	for _, srv := range c.Nodes {
		if err := waitClusterOK(ctx, srv, n); err != nil {
			t.Fatalf("redistest: cluster node %s: %v", srv.Addr, err)
		}
	}
	return c
}

// Client returns a cluster client of c, closed at t's cleanup; edit (which
// may be nil) changes the options first.
func (c *Cluster) Client(t testing.TB, edit func(*redis.ClusterOptions)) *redis.ClusterClient {
	t.Helper()
	o := &redis.ClusterOptions{Addrs: c.Addrs}
	if edit != nil {
		edit(o)
	}
	rdb := redis.NewClusterClient(o)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// waitClusterOK waits until srv sees the cluster as ok with n known masters.
func waitClusterOK(ctx context.Context, srv *Server, n int) error {
	rdb := redis.NewClient(srv.Options())
	defer func() { _ = rdb.Close() }()
	var last string
	for {
		info, err := rdb.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", n)) {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = strings.ReplaceAll(strings.TrimSpace(info), "\r\n", " ")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ok: %s", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freeClusterPort returns a free loopback port p whose cluster bus port
// p+10000 is free too.
func freeClusterPort() (int, error) {
	for range 100 {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+10000)))
		if err != nil {
			continue
		}
		_ = l.Close() // only to test the port
		return p, nil
	}
	return 0, fmt.Errorf("no free pair after 100 tries")
}
