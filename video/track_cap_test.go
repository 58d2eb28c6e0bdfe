package video_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// countLines counts the log lines whose message contains sub; safe for
// simultaneous use.
type countLines struct {
	sub string
	n   atomic.Int64
}

func (c *countLines) Enabled(context.Context, slog.Level) bool { return true }
func (c *countLines) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *countLines) WithGroup(string) slog.Handler            { return c }
func (c *countLines) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, c.sub) {
		c.n.Add(1)
	}
	return nil
}

// connectedElsewhere returns a signed participant-connected callback for
// the i-th Room of a sender that never ends them.
func connectedElsewhere(srv *videotest.Server, target string, i int, at time.Time) *http.Request {
	v := roomForm(srv.AccountSID(), video.EventParticipantConnected,
		fmt.Sprintf("RM%032x", i), fmt.Sprintf("PA%032x", i), at.UTC().Format(time.RFC3339))
	v.Set("RoomName", fmt.Sprintf("flood-%d", i))
	return signedPost(srv.AuthToken(), target, v)
}

// TestCallbacksTrackedUpToTwiceTheLimit: signed participant-connected
// callbacks for 1,000 distinct Rooms never ended, sent to a Client whose
// limits are 50 Rooms and 50 Participants: the Client records the first 100
// (twice the limit, quota.TrackCapFactor) and answers the rest 503, keeping
// nothing of them; the ledger never counts more than 100 of either; the
// refusals are logged once. A Reconcile (Twilio has none of those Rooms)
// brings the ledger and the Rooms and Participants tracked in progress back
// to 0, and once the callbacks' retention has passed the tables shrink as
// callbacks arrive.
func TestCallbacksTrackedUpToTwiceTheLimit(t *testing.T) {
	const limit, sent = 50, 1000
	srv := videotest.NewServer(videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1})
	t.Cleanup(srv.Close)
	logs := &countLines{sub: "tracking cap reached"}
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := clockFunc(func() time.Time { return time.Unix(0, now.Load()) })
	vq := newClient(t, srv, video.WithLogger(slog.New(logs)), video.WithClock(clock),
		video.WithLimits(quota.Limits{ConcurrentRooms: limit, ConcurrentParticipants: limit,
			ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}))
	h := vq.StatusCallbackHandler()
	const target = "http://example.test/status"
	codes := map[int]int{}
	for i := range sent {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, connectedElsewhere(srv, target, i, clock.Now()))
		codes[w.Code]++
		if i%100 == 99 {
			if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r > 2*limit || p > 2*limit {
				t.Fatalf("after %d callbacks the ledger counts %d Rooms and %d Participants, more than twice the limit (%d)", i+1, r, p, 2*limit)
			}
		}
	}
	if codes[http.StatusOK] != 2*limit || codes[http.StatusServiceUnavailable] != sent-2*limit {
		t.Errorf("answers %v, want %d of 200 and %d of 503", codes, 2*limit, sent-2*limit)
	}
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 2*limit || p != 2*limit {
		t.Errorf("the ledger counts %d Rooms and %d Participants, want %d of each", r, p, 2*limit)
	}
	if r, p, entries := video.Tracked(vq); r != 2*limit || p != 2*limit || entries > 2*limit {
		t.Errorf("the model tracks %d Rooms and %d Participants in progress in %d entries, want %d, %d in at most %d",
			r, p, entries, 2*limit, 2*limit, 2*limit)
	}
	if n := logs.n.Load(); n != 1 {
		t.Errorf("%d log lines for the refusals, want 1", n)
	}
	if _, err := vq.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 0 || p != 0 {
		t.Errorf("after Reconcile the ledger counts %d Rooms and %d Participants, want 0", r, p)
	}
	r, p, entries := video.Tracked(vq)
	if r != 0 || p != 0 {
		t.Errorf("after Reconcile the model tracks %d Rooms and %d Participants in progress, want 0", r, p)
	}
	if entries != 4*limit {
		t.Errorf("after Reconcile: %d table entries, want the %d Rooms and Participants, ended (kept for late events)", entries, 4*limit)
	}
	// Past the retention, each callback forgets a few ended SIDs: 20
	// callbacks of one Room (a Participant connecting and leaving ten
	// times) leave its own few entries.
	now.Add(int64(video.DefaultCallbackRetention + time.Minute))
	room := fmt.Sprintf("RM%032x", sent+1)
	for i := range 10 {
		for _, ev := range []string{video.EventParticipantConnected, video.EventParticipantDisconnected} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, signedPost(srv.AuthToken(), target, roomForm(srv.AccountSID(), ev, room,
				fmt.Sprintf("PA%032x", sent+1+i), clock.Now().UTC().Format(time.RFC3339))))
			if w.Code != http.StatusOK {
				t.Fatalf("%s past the retention: %d", ev, w.Code)
			}
		}
	}
	if _, _, after := video.Tracked(vq); after > 11 {
		t.Errorf("past the retention, after 20 callbacks: %d table entries, want at most 11 (the new Room and its ten Participants)", after)
	}
}
