package video_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// gatedProxy forwards to target; answers to requests matching match are
// held after Twilio processed them (processed receives) until gate closes.
func gatedProxy(t *testing.T, target string, match func(*http.Request) bool) (proxyURL string, processed chan struct{}, gate chan struct{}) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	processed, gate = make(chan struct{}, 16), make(chan struct{})
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if match(resp.Request) {
			processed <- struct{}{}
			<-gate
		}
		return nil
	}
	hs := httptest.NewServer(rp)
	t.Cleanup(hs.Close)
	return hs.URL, processed, gate
}

// TestSharedStoreReconcileKeepsPeerRoom: two Clients (replicas) share one
// store, as the docs recommend (each runs RunReconciler). A's Reconcile
// lists the Rooms; B creates a Room after the listing and before A's Sync.
// A's Sync keeps B's Room in the shared ledger, so B cannot create past the
// quota.
func TestSharedStoreReconcileKeepsPeerRoom(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{ConcurrentRooms: 2, ReadsPerSecond: -1, WritesPerSecond: -1})
	t.Cleanup(srv.Close)
	st := memStore(t)
	lim := video.WithLimits(quota.Limits{ConcurrentRooms: 2, ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited})
	purl, processed, gate := gatedProxy(t, srv.URL(), func(r *http.Request) bool {
		return r.Method == http.MethodGet && r.URL.Path == "/v1/Rooms"
	})
	a, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(purl), video.WithStore(st), lim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b := newClient(t, srv, video.WithStore(st), lim)
	ctx := context.Background()

	done := make(chan error, 1)
	go func() { _, err := a.Reconcile(ctx); done <- err }()
	<-processed // Twilio answered A's listing: no Rooms yet
	if _, err := b.CreateRoom(ctx, room("peer")); err != nil {
		t.Fatal(err)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	used := mustUsed(t, b, quota.Rooms)
	t.Logf("after A's Reconcile: shared ledger %d rooms, emulator %d", used, srv.Stats().RoomsNow)
	if used != srv.Stats().RoomsNow {
		t.Errorf("shared ledger %d rooms, emulator %d: A's Reconcile removed B's Room", used, srv.Stats().RoomsNow)
	}
	// The consequence: B believes a slot is free that is not.
	if _, err := b.CreateRoom(ctx, room("second")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateRoom(ctx, room("third")); err != nil {
		t.Logf("third create: %v", err)
		var ex *quota.ExceededError
		if errors.As(err, &ex) && ex.Source == quota.SourceTwilio {
			t.Errorf("Twilio refused with 53119: the ledger let a create past the quota")
		}
	}
}
