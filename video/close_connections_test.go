package video_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/video/videotest"
)

// clientConnGoroutines counts the goroutines of client-side HTTP
// connections (net/http persistConn loops) in this process.
func clientConnGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "net/http.(*persistConn).readLoop")
}

// TestCloseLeavesNoConnectionGoroutines: Close while a request is on the
// wire. Once Close has returned and the call has ended, no goroutine of the
// Client's HTTP connections (net/http's persistConn loops) is left
// running: the connection of the call in flight does not wait in an idle
// pool for IdleConnTimeout (90 s) with nothing left to close it.
func TestCloseLeavesNoConnectionGoroutines(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1,
		Faults: videotest.Faults{Latency: 300 * time.Millisecond}})
	t.Cleanup(srv.Close)
	// Connections of earlier tests may still be closing: let them go
	// first, so that the count moves only with this Client.
	for deadline := time.Now().Add(5 * time.Second); clientConnGoroutines() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	before := clientConnGoroutines()
	vq := newClient(t, srv)
	done := make(chan error, 1)
	go func() { _, err := vq.CreateRoom(context.Background(), room("")); done <- err }()
	// On the wire: the emulator has it (and holds it for its 300 ms latency).
	for deadline := time.Now().Add(10 * time.Second); srv.Stats().TotalRequests == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request never went on the wire")
		}
	}
	vq.Close()
	err := <-done
	t.Logf("CreateRoom in flight across Close returned %v; emulator rooms %d", err, srv.Stats().RoomsNow)
	deadline := time.Now().Add(3 * time.Second)
	for clientConnGoroutines() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := clientConnGoroutines(); n > before {
		t.Errorf("3 s after Close returned and the last call ended, %d client connection goroutine(s) still run (before the Client: %d)", n, before)
	}
}
