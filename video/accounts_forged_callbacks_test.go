package video_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/videoquota/videoquota/video"
)

// TestAccountsForgedCallbacksBounded: forged callbacks for random
// AccountSids each cost one lookup, answer within the lookup timeout even
// when the lookup is slow, leave no Client, lookup or goroutine behind, and
// log no signature, token or form value; Close with such lookups and
// callbacks in flight ends them (503) and returns.
func TestAccountsForgedCallbacksBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 2 * time.Second
		var calls atomic.Int64
		var logs syncBuffer
		a, err := video.NewAccounts(func(ctx context.Context, sid string) (video.Account, error) {
			calls.Add(1)
			<-ctx.Done() // a directory that does not answer
			return video.Account{}, ctx.Err()
		}, video.WithBaseURL("http://127.0.0.1:1"), video.WithLookupTimeout(timeout),
			video.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		if err != nil {
			t.Fatal(err)
		}
		h := a.StatusCallbackHandler()
		const (
			n      = 500
			target = "https://hooks.example.com/status"
			forger = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"
		)
		serve := func(i int) (int, time.Duration) {
			sid := fmt.Sprintf("AC%032x", 0xabc000+i)
			form := roomForm(sid, video.EventRoomCreated, testRoom, "", time.Now().UTC().Format(time.RFC3339))
			form.Set("RoomName", "secret-room-name")
			start := time.Now()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, signedPost(forger, target, form))
			return rec.Code, time.Since(start)
		}
		var wg sync.WaitGroup
		codes := make([]int, n)
		took := make([]time.Duration, n)
		for i := range n {
			wg.Go(func() { codes[i], took[i] = serve(i) })
		}
		wg.Wait()
		for i := range n {
			if codes[i] != http.StatusServiceUnavailable || took[i] > timeout {
				t.Fatalf("forged callback %d: status %d after %s, want 503 within %s", i, codes[i], took[i], timeout)
			}
		}
		if got := calls.Load(); got != n {
			t.Errorf("%d lookups for %d forged callbacks of distinct accounts, want one each", got, n)
		}
		synctest.Wait() // the lookups ended with their timeout
		if a.Len() != 0 {
			t.Errorf("%d Clients made by forged callbacks", a.Len())
		}
		// Close with lookups and callbacks in flight.
		results := make(chan int, 50)
		for i := range 50 {
			go func() { c, _ := serve(n + i); results <- c }()
		}
		synctest.Wait()
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		for range 50 {
			if c := <-results; c != http.StatusServiceUnavailable {
				t.Fatalf("callback in flight at Close: %d, want 503", c)
			}
		}
		if logs.count("rejected webhook") == 0 {
			t.Error("no refusal logged")
		}
		for _, secret := range []string{forger, "X-Twilio-Signature", "secret-room-name", "RoomName"} {
			if logs.count(secret) != 0 {
				t.Errorf("log carries %q", secret)
			}
		}
		// Leftover goroutines of the bubble would fail synctest.Test.
	})
}
