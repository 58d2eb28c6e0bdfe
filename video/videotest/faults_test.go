package videotest_test

import (
	"errors"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

func TestForce429(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{Faults: videotest.Faults{Force429: 2}})
	for i := 0; i < 2; i++ {
		_, err := v.ListRoom(nil)
		restErr(t, err, 20429, 429)
	}
	must(v.ListRoom(nil))
	if st := srv.Stats(); st.Throttled != 2 || st.Faulted != 2 || srv.Faults().Force429 != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

// outcomes runs n fetches and returns the HTTP statuses (0 = transport error).
func outcomes(t *testing.T, seed int64, f videotest.Faults, n int) []int {
	srv, _, _, _ := newTest(t, videotest.Options{Seed: seed, Faults: f})
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var out []int
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("GET", srv.URL()+"/v1/Rooms", nil)
		req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
		resp, err := hc.Do(req)
		if err != nil {
			out = append(out, 0)
			continue
		}
		resp.Body.Close()
		out = append(out, resp.StatusCode)
	}
	return out
}

func TestRandomFaultsDeterministic(t *testing.T) {
	f := videotest.Faults{Rate429: 0.1, Rate500: 0.1, Rate503: 0.1, DropRate: 0.1}
	a := outcomes(t, 42, f, 200)
	b := outcomes(t, 42, f, 200)
	seen := map[int]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("request %d: %d vs %d with the same seed", i, a[i], b[i])
		}
		seen[a[i]]++
	}
	for _, code := range []int{0, 200, 429, 500, 503} {
		if seen[code] == 0 {
			t.Fatalf("no %d among %v", code, seen)
		}
	}
	c := outcomes(t, 43, f, 200)
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Fatal("a different seed gave the same fault sequence")
	}
}

func TestInjected500ThroughTwilioGo(t *testing.T) {
	_, v, _, _ := newTest(t, videotest.Options{Faults: videotest.Faults{Rate503: 1}})
	_, err := v.FetchRoom("x")
	restErr(t, err, 20503, 503)
}

func TestDroppedConnection(t *testing.T) {
	_, v, _, _ := newTest(t, videotest.Options{Faults: videotest.Faults{DropRate: 1}})
	_, err := v.ListRoom(nil)
	var te *client.TwilioRestError
	if err == nil || errors.As(err, &te) {
		t.Fatalf("err = %v, want a transport error", err)
	}
}

func TestLatencyAndMatch(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{Faults: videotest.Faults{Latency: 40 * time.Millisecond, Force429: 5,
		Match: func(method, path string) bool { return method == "POST" }}})
	start := time.Now()
	must(v.ListRoom(nil)) // GET: not matched, no latency, no 429
	if time.Since(start) > 35*time.Millisecond {
		t.Log("unmatched request was slow (machine load?)")
	}
	start = time.Now()
	_, err := v.CreateRoom(nil)
	restErr(t, err, 20429, 429)
	if time.Since(start) < 40*time.Millisecond {
		t.Fatal("matched request was not delayed")
	}
	if srv.Faults().Force429 != 4 {
		t.Fatalf("Force429 left = %d", srv.Faults().Force429)
	}
}

// TestCloseLeavesNoGoroutines checks that Close stops the listener, the
// callback workers, keep-alive connections and every timer.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	h := newHook(t)
	before := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		srv := videotest.NewServer(videotest.Options{AdHocRooms: true, AdHocStatusCallback: h.URL,
			DebuggerWebhook: h.URL, ConcurrentRooms: 1})
		c := srv.Client()
		v := openapi.NewApiServiceWithClient(c)
		must(srv.Connect("r", "a"))
		must(v.ListRoom(nil))
		_, err := v.CreateRoom(nil) // 53119 + debugger event
		restErr(t, err, 53119, 400)
		flush(t, srv)
		c.HTTPClient.CloseIdleConnections()
		srv.Close()
		srv.Close() // idempotent
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
