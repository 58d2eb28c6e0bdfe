package video_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// rewrite sends twilio-go's requests for video.twilio.com to the emulator,
// as video.WithBaseURL does for the Client.
type rewrite struct {
	host string
	base http.RoundTripper
}

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	u := *req.URL
	u.Scheme, u.Host = "http", r.host
	req2 := *req
	req2.URL, req2.Host = &u, ""
	return r.base.RoundTrip(&req2)
}

// overheadSetup returns an emulator without rate limits holding one room, a
// raw twilio-go ApiService and a Client with limits so high that nothing
// waits (tokens are still taken), both over one shared HTTP transport.
func overheadSetup(b *testing.B) (raw *openapi.ApiService, vq *video.Client, sid string) {
	b.Helper()
	srv := videotest.NewServer(videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1})
	b.Cleanup(srv.Close)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	b.Cleanup(tr.CloseIdleConnections)
	tw := &client.Client{
		Credentials: client.NewCredentials(srv.AccountSID(), srv.AuthToken()),
		HTTPClient: &http.Client{Transport: rewrite{host: srv.URL()[len("http://"):], base: tr}, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	tw.SetAccountSid(srv.AccountSID())
	raw = openapi.NewApiService(&client.RequestHandler{Client: tw})
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithHTTPClient(&http.Client{Transport: tr, Timeout: 10 * time.Second}),
		video.WithLimits(quota.Limits{ReadsPerSecond: 1e9, WritesPerSecond: 1e9, ReadBurst: 1 << 20, WriteBurst: 1 << 20}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { vq.Close() })
	r, err := vq.CreateRoom(context.Background(), (&openapi.CreateRoomParams{}).SetUniqueName("bench"))
	if err != nil {
		b.Fatal(err)
	}
	return raw, vq, *r.Sid
}

// BenchmarkOverhead measures FetchRoom through raw twilio-go and through
// video.Client against the same loopback emulator in one run. The ratio
// sub-benchmark interleaves the two calls and reports their time ratio
// (videoquota/raw), so drift of the machine affects both alike.
func BenchmarkOverhead(b *testing.B) {
	raw, vq, sid := overheadSetup(b)
	ctx := context.Background()
	b.Run("raw-twilio-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := raw.FetchRoom(sid); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("videoquota", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := vq.FetchRoom(ctx, sid); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ratio", func(b *testing.B) {
		var tRaw, tVQ time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := raw.FetchRoom(sid); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := vq.FetchRoom(ctx, sid); err != nil {
				b.Fatal(err)
			}
			tRaw += t1.Sub(t0)
			tVQ += time.Since(t1)
		}
		b.ReportMetric(float64(tRaw.Nanoseconds())/float64(b.N), "raw-ns/op")
		b.ReportMetric(float64(tVQ.Nanoseconds())/float64(b.N), "vq-ns/op")
		b.ReportMetric(float64(tVQ)/float64(tRaw), "ratio")
	})
}

// BenchmarkCreateRoom measures a CreateRoom with its ledger reservation and
// commit, completing the room each time so the ledger stays small.
func BenchmarkCreateRoom(b *testing.B) {
	_, vq, _ := overheadSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := vq.CreateRoom(ctx, &openapi.CreateRoomParams{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := vq.UpdateRoom(ctx, *r.Sid, completed()); err != nil {
			b.Fatal(err)
		}
	}
}
