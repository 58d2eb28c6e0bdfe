package videotest_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

// BenchmarkServerThroughput measures simple authenticated requests per
// second (GET /v1/Rooms/{Sid}, an in-progress room) on loopback with the
// rate limits off, over keep-alive connections.
func BenchmarkServerThroughput(b *testing.B) {
	srv := videotest.NewServer(videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1})
	defer srv.Close()
	room, err := openapi.NewApiServiceWithClient(srv.Client()).CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("bench")})
	if err != nil {
		b.Fatal(err)
	}
	url := srv.URL() + "/v1/Rooms/" + *room.Sid
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	defer hc.CloseIdleConnections()
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", url, nil)
		req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
		for pb.Next() {
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	if st := srv.Stats(); st.Requests[200] < int64(b.N) {
		b.Fatalf("server saw %d OKs for %d requests", st.Requests[200], b.N)
	}
}
