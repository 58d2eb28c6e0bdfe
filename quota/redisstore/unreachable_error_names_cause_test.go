package redisstore_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/redisstore"
)

// TestUnreachableRedisErrorNamesCause: a store that cannot reach Redis at
// all (nothing listens on the port) says so, even when go-redis's redialling
// outlasts the store's deadline, instead of only "no answer within ...",
// which reads as a slow Redis.
func TestUnreachableRedisErrorNamesCause(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil { // the port is now free: connections are refused
		t.Fatal(err)
	}
	// go-redis redials a refused connection several times with backoff,
	// hundreds of milliseconds in all: a short deadline ends the wait first.
	st, err := redisstore.NewFromURL("redis://"+addr+"/0", redisstore.WithTimeout(50*time.Millisecond))
	if err == nil {
		_ = st.Close()
		t.Fatalf("NewFromURL(%s) with nothing listening: nil error", addr)
	}
	var ue *redisstore.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v (%T), want an *UnavailableError", err, err)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q does not say the connection was refused", err)
	}
}
