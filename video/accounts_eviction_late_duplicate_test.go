package video_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
)

// TestAccountsEvictionKeepsLateDuplicatesStale: with the default idle
// time, an account's Client is evicted only once every callback it applied
// is older than the callback retention, so that a late duplicate of a
// Room's created event, delivered to the rebuilt Client, is stale and does
// not hold a Room slot for a Room that has ended.
func TestAccountsEvictionKeepsLateDuplicatesStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			sid    = "AC0000000000000000000000000000000c"
			token  = "0123456789abcdef0123456789abcdef"
			target = "https://hooks.example.com/status"
		)
		a, err := video.NewAccounts(func(context.Context, string) (video.Account, error) {
			return video.Account{AuthToken: token}, nil
		}, video.WithBaseURL("http://127.0.0.1:1"))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		h := a.StatusCallbackHandler()
		post := func(event string, at time.Time) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, signedPost(token, target, roomForm(sid, event, testRoom, "", at.UTC().Format(time.RFC3339))))
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: status %d", event, rec.Code)
			}
		}
		created := time.Now()
		post(video.EventRoomCreated, created)
		post(video.EventRoomEnded, time.Now().Add(time.Second))
		// Wait until the idle account has been evicted.
		for a.Len() != 0 {
			time.Sleep(time.Minute)
			synctest.Wait()
		}
		post(video.EventRoomCreated, created) // Twilio delivers it again
		c, err := a.Client(context.Background(), sid)
		if err != nil {
			t.Fatal(err)
		}
		if n := mustUsed(t, c, quota.Rooms); n != 0 {
			t.Fatalf("evicted after %s; a late duplicate of an ended Room's created event holds %d Room slots in the rebuilt Client", time.Since(created).Round(time.Second), n)
		}
	})
}
