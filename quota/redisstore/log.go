package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// logKey marks the ctx of a store's calls to Redis with the store's logger,
// so that the lines go-redis logs while serving them reach it.
type logKey struct{}

// tag returns ctx marked with the store's logger (nil: silent), once
// go-redis logs through [redisLog]; before, go-redis does not read the mark.
func (s *Store) tag(ctx context.Context) context.Context {
	if !installed.Load() {
		return ctx
	}
	return context.WithValue(ctx, logKey{}, s.logger())
}

var (
	routeOnce sync.Once
	// untagged gets the go-redis lines that carry no store's ctx.
	untagged atomic.Pointer[slog.Logger]
	routed   atomic.Bool // RouteRedisLog was called
	// installed: go-redis logs through redisLog, which reads the store's
	// logger from the ctx (see tag).
	installed atomic.Bool
)

// RouteRedisLog makes go-redis's own log lines go to l (nil: nowhere),
// at level Warn with the message prefixed "redisstore: go-redis: ".
// go-redis has one logger per process (redis.SetLogger), so this is
// process-wide; it replaces any logger set with redis.SetLogger before, and
// one set after replaces it.
//
// Without a call to RouteRedisLog, the first [Store] built with a non-nil
// [WithLogger] routes them: the lines that arise from a store's own calls go
// to that store's logger, and the lines go-redis logs with no trace of the
// call that caused them (a dial that failed in go-redis's dialing goroutine,
// most often) go to the logger of the first such Store. RouteRedisLog
// chooses the logger of those instead.
func RouteRedisLog(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	untagged.Store(l)
	routed.Store(true)
	installRedisLog()
}

// routeRedisLog is RouteRedisLog for the first Store with a logger, unless
// RouteRedisLog was called.
func routeRedisLog(l *slog.Logger) {
	if !routed.Load() {
		untagged.CompareAndSwap(nil, l)
	}
	installRedisLog()
}

func installRedisLog() {
	routeOnce.Do(func() {
		installed.Store(true)
		redis.SetLogger(redisLog{})
	})
}

// redisLog is go-redis's logger once a store routes it.
type redisLog struct{}

// Printf implements go-redis's logging interface.
func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	msg := "redisstore: go-redis: " + strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	if ctx != nil {
		if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok {
			l.LogAttrs(ctx, slog.LevelWarn, msg)
			return
		}
	} else {
		ctx = context.Background()
	}
	if l := untagged.Load(); l != nil {
		l.LogAttrs(ctx, slog.LevelWarn, msg)
	}
}
