package redisstore

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// replication follows the replication ID of the Redis a store talks to
// (under [FailLocal] or [WithWatch]). A replica promoted by a failover starts
// a new one, and it may have missed the last writes of the old master,
// keeping the ledger's epoch but not every slot: after a change (found on
// recovery, or by the watch) the store writes back its slots from before
// too, as after a loss of data. A Redis Cluster has one ID per shard; for a
// *redis.ClusterClient it is not followed.
type replication struct {
	mu    sync.Mutex // guards id and tried
	id    string     // "" until known
	tried bool       // whether an ID was asked for since the last reply
}

// replicationID asks Redis for its master_replid ("" when it cannot say).
func replicationID(ctx context.Context, rdb redis.UniversalClient) string {
	if _, ok := rdb.(*redis.ClusterClient); ok {
		return ""
	}
	info, err := rdb.Info(ctx, "replication").Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "master_replid:"); ok {
			return v
		}
	}
	return ""
}

// learn records the replication ID once, after the first operation that
// reached Redis, so that a recovery has one to compare with. It costs one
// round trip per store (per recovery, see changed).
func (r *replication) learn(ctx context.Context, rdb redis.UniversalClient) {
	r.mu.Lock()
	if r.tried {
		r.mu.Unlock()
		return
	}
	r.tried = true
	r.mu.Unlock()
	id := replicationID(ctx, rdb)
	r.mu.Lock()
	if r.id == "" {
		r.id = id
	}
	r.mu.Unlock()
}

// changed reports whether Redis now has another replication ID than the one
// learned (false when either is unknown), and learns the new one.
func (r *replication) changed(ctx context.Context, rdb redis.UniversalClient) bool {
	id := replicationID(ctx, rdb)
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.id
	if id != "" {
		r.id, r.tried = id, true
	}
	return old != "" && id != "" && old != id
}
