package video_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestNamedRoomDoesNotSettleUnnamedCreate: an unnamed create is on the
// wire; an ad-hoc Room "lobby" (a token's first connect) appears and its
// room-created arrives; Twilio processes the create but its answer is lost
// (502 from a proxy). Twilio names an unnamed Room by its SID, so a Room
// with the UniqueName "lobby" cannot be the create's: the create's
// reservation stays held, the ledger counts both Rooms, and no create goes
// past the quota.
func TestNamedRoomDoesNotSettleUnnamedCreate(t *testing.T) {
	t.Run("ad-hoc Room seen while the create is in flight (orphan)", func(t *testing.T) { orphanCase(t, true) })
	t.Run("ad-hoc Room seen after the answer was lost (claim)", func(t *testing.T) { orphanCase(t, false) })
}

func orphanCase(t *testing.T, during bool) {
	var hmu sync.RWMutex
	var status http.Handler
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.RLock()
		h := status
		hmu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	srv := videotest.NewServer(videotest.Options{ConcurrentRooms: 2, ReadsPerSecond: -1, WritesPerSecond: -1,
		AdHocRooms: true, AdHocStatusCallback: hs.URL + "/status"})
	t.Cleanup(srv.Close)

	u, _ := url.Parse(srv.URL())
	processed, gate := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		lose := false
		if resp.Request.Method == http.MethodPost && resp.Request.URL.Path == "/v1/Rooms" {
			once.Do(func() { lose = true })
		}
		if lose {
			processed <- struct{}{}
			<-gate
			return errors.New("answer lost") // 502 to the Client
		}
		return nil
	}
	ps := httptest.NewServer(rp)
	t.Cleanup(ps.Close)

	keySID, keySecret := srv.APIKey()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(ps.URL), video.WithAPIKey(keySID, keySecret),
		video.WithLimits(quota.Limits{ConcurrentRooms: 2, ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}),
		fastRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vq.Close() })
	hmu.Lock()
	status = vq.StatusCallbackHandler()
	hmu.Unlock()
	ctx := context.Background()
	flush := func() {
		if err := srv.FlushCallbacks(ctx); err != nil {
			t.Fatal(err)
		}
	}

	done := make(chan error, 1)
	go func() { _, err := vq.CreateRoom(ctx, room("")); done <- err }()
	<-processed // the unnamed Room exists at Twilio; its answer is held
	adhoc := func() {
		if _, err := srv.Connect("lobby", "bob"); err != nil { // an ad-hoc Room appears
			t.Fatal(err)
		}
		flush()
	}
	if during {
		adhoc()
	}
	close(gate)
	if err := <-done; err == nil {
		t.Fatal("CreateRoom succeeded; its answer should have been lost")
	}
	if !during {
		adhoc()
	}
	flush()
	used, pending := usedPending(t, vq, quota.Rooms)
	t.Logf("ledger %d rooms (pending %d), emulator %d", used, pending, srv.Stats().RoomsNow)
	if used < srv.Stats().RoomsNow {
		t.Errorf("ledger %d rooms, emulator %d: the unnamed create's slot was given back for the ad-hoc Room \"lobby\"", used, srv.Stats().RoomsNow)
	}
	if _, err := vq.CreateRoom(ctx, room("")); err != nil {
		var ex *quota.ExceededError
		if errors.As(err, &ex) && ex.Source == quota.SourceTwilio {
			t.Errorf("Twilio refused with 53119: the ledger let a create past the quota")
		}
	}
}
