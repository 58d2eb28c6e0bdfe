// Package redistest gives tests a Redis server: one of their own, started on
// a free loopback port when the redis-server binary is installed, else the
// one named by $VIDEOQUOTA_REDIS_URL. Without either, a test fails with a
// message saying what to install, since go test shows a skip's reason only
// under -v; set $VIDEOQUOTA_REDIS=skip to skip such tests instead. Under
// CI=true a missing server is always a failure.
//
// [StartCluster] and [StartSentinel] start a Redis Cluster and a
// master/replica pair watched by a sentinel, always of the test's own.
//
// # Use
//
//	srv := redistest.Start(t)
//	rdb := srv.Client(t) // closed at cleanup
//
// Tests that stop and restart Redis ([Server.Stop], [Server.Restart]) need a
// server of their own; with $VIDEOQUOTA_REDIS_URL they are skipped.
//
// Each test should use its own key prefix ([Prefix]), since a server given by
// $VIDEOQUOTA_REDIS_URL is shared with other tests and other runs.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the environment variable with the URL of a Redis server to use
// when redis-server is not installed (for example redis://127.0.0.1:6379/0).
const EnvURL = "VIDEOQUOTA_REDIS_URL"

// EnvSkip names the environment variable that, set to "skip", makes tests
// that need a Redis they cannot have skip rather than fail (outside CI).
const EnvSkip = "VIDEOQUOTA_REDIS"

// Server is a Redis server for a test.
type Server struct {
	// Addr is the server's host:port.
	Addr string
	// URL is the server's redis:// URL, for child processes.
	URL string

	bin   string // redis-server, empty for a server given by EnvURL
	port  int
	opts  *redis.Options
	conf  string   // a config file to start with (sentinel), or ""
	extra []string // further arguments (cluster, replica, sentinel)

	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd
}

// Start returns a Redis server for t, stopped at t's cleanup if it started it.
func Start(t testing.TB) *Server {
	t.Helper()
	if bin, err := exec.LookPath("redis-server"); err == nil {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: no free loopback port: %v", err)
		}
		return startOwn(t, bin, port, "")
	}
	if u := os.Getenv(EnvURL); u != "" {
		opts, err := redis.ParseURL(u)
		if err != nil {
			t.Fatalf("redistest: $%s: %v", EnvURL, err)
		}
		s := &Server{Addr: opts.Addr, URL: u, opts: opts}
		if err := s.ping(5 * time.Second); err != nil {
			t.Fatalf("redistest: Redis at $%s does not answer: %v", EnvURL, err)
		}
		return s
	}
	missing(t, "needs Redis: install redis-server (apt-get install redis-server) or set "+EnvURL)
	return nil
}

// missing fails t for want of what msg names: go test prints a skip's
// reason only under -v, so a silent skip would hide that the Redis tests did
// not run. With $VIDEOQUOTA_REDIS=skip, outside CI, it skips t instead.
func missing(t testing.TB, msg string) {
	t.Helper()
	msg = "redistest: " + msg
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a missing server is a failure)")
	}
	if os.Getenv(EnvSkip) == "skip" {
		t.Skip(msg + " ($" + EnvSkip + "=skip)")
	}
	t.Fatal(msg + "; or set " + EnvSkip + "=skip to skip the tests that need it")
}

// startOwn starts redis-server on port with conf and extra arguments,
// killed at t's cleanup.
func startOwn(t testing.TB, bin string, port int, conf string, extra ...string) *Server {
	t.Helper()
	s := &Server{bin: bin, port: port, conf: conf, extra: extra, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	s.URL = "redis://" + s.Addr + "/0"
	s.opts = &redis.Options{Addr: s.Addr}
	t.Cleanup(func() { s.kill() })
	if err := s.start(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return s
}

// Own reports whether the test started the server itself, so it may stop it.
func (s *Server) Own() bool { return s.bin != "" }

// Options returns the client options for the server (a copy).
func (s *Server) Options() *redis.Options {
	o := *s.opts
	return &o
}

// Client returns a new client of the server, closed at t's cleanup.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	return s.ClientWith(t, func(*redis.Options) {})
}

// ClientWith is Client with options edited by edit first (timeouts, pool size).
func (s *Server) ClientWith(t testing.TB, edit func(*redis.Options)) *redis.Client {
	t.Helper()
	o := s.Options()
	edit(o)
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop kills the server (only one the test started; otherwise t is skipped).
// Its data is gone: it runs without persistence.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if !s.Own() {
		t.Skip("redistest: stopping Redis needs redis-server installed, not " + EnvURL)
	}
	s.kill()
}

// Restart starts the stopped server again on the same port.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if !s.Own() {
		t.Skip("redistest: restarting Redis needs redis-server installed, not " + EnvURL)
	}
	s.kill()
	var err error
	for range 20 { // the port may linger for a moment after the kill
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redistest: restart: %v", err)
}

// Pause freezes the server (SIGSTOP): connections stay open, commands wait
// unanswered, data is kept, like a Redis that hangs. [Server.Resume] or the
// test's cleanup ends it. Only for a server the test started.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGSTOP)
}

// Resume lets a paused server go on (SIGCONT); the commands sent meanwhile run.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGCONT)
}

func (s *Server) signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if !s.Own() {
		t.Skip("redistest: pausing Redis needs redis-server installed, not " + EnvURL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatal("redistest: the server is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("redistest: %v: %v", sig, err)
	}
}

func (s *Server) start() error {
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "yes")
	args = append(args, s.extra...)
	cmd := exec.Command(s.bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // the exit is what we wait for, not its status
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited at start: %s", lastLines(out.String()))
		default:
		}
		if s.ping(200*time.Millisecond) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	return errors.New("redis-server did not answer PING within 5s")
}

func (s *Server) kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill() // it may have exited already; the port check below is what counts
	// Wait until the port is free again.
	for range 100 {
		c, err := net.DialTimeout("tcp", s.Addr, 50*time.Millisecond)
		if err != nil {
			return
		}
		_ = c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Server) ping(timeout time.Duration) error {
	o := s.Options()
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.MaxRetries = timeout, timeout, timeout, -1
	c := redis.NewClient(o)
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Ping(ctx).Err()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }() // only to find a free port
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], " | ")
}

var prefixSeq atomic.Uint64

// Prefix returns a key prefix unique to this test and run.
func Prefix(t testing.TB) string {
	return fmt.Sprintf("vqtest-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), prefixSeq.Add(1))
}
