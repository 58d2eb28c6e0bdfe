package video

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"
)

// closer completes empty Rooms on a few goroutines that exit when idle, or
// when the Client is closed (shutdown ends their waits at once and waits
// for them).
type closer struct {
	mu      sync.Mutex
	queue   []closeItem
	queued  map[string]struct{}
	running int
	wg      sync.WaitGroup
	stop    chan struct{} // closed by shutdown
	stopped bool
}

type closeItem struct {
	sid string
	at  time.Time // local time not to complete before
}

func (q *closer) init() {
	q.queued = make(map[string]struct{})
	q.stop = make(chan struct{})
}

func (q *closer) enqueue(c *Client, sid string, at time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.queued[sid]; ok || q.stopped {
		return
	}
	if len(q.queue) >= maxCloseQueue {
		c.logger.LogAttrs(context.Background(), slog.LevelWarn,
			"videoquota: too many empty rooms waiting to be completed; leaving one to Twilio's timeout",
			slog.String("room", sid))
		return
	}
	q.queued[sid] = struct{}{}
	q.queue = append(q.queue, closeItem{sid: sid, at: at})
	if q.running < closeWorkers {
		q.running++
		q.wg.Add(1)
		go q.work(c)
	}
}

func (q *closer) work(c *Client) {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		if len(q.queue) == 0 || q.stopped {
			q.running--
			clear(q.queued)
			q.queue = q.queue[:0]
			q.mu.Unlock()
			return
		}
		it := q.queue[0]
		q.queue = q.queue[1:]
		q.mu.Unlock()
		if d := it.at.Sub(c.now()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-q.stop:
				t.Stop()
				continue
			}
		}
		c.closeIfEmpty(it.sid)
		q.mu.Lock()
		delete(q.queued, it.sid)
		q.mu.Unlock()
	}
}

// shutdown stops the workers: waits end at once, a Room being completed is
// abandoned (its requests fail with ErrClosed), and shutdown returns when
// every worker has exited.
func (q *closer) shutdown() {
	q.mu.Lock()
	if !q.stopped {
		q.stopped = true
		close(q.stop)
	}
	q.mu.Unlock()
	q.wg.Wait()
}

// wait blocks until no close is queued or running (tests, examples).
func (q *closer) wait() { q.wg.Wait() }

// closeIfEmpty completes Room sid if the model and one read show it empty:
// nobody connected and no JoinToken reservation outstanding for it, checked
// before the read and again before the update (a Participant connecting
// between the two is seen if its callback arrived; Twilio gives no way to
// close the remaining window of one request).
func (c *Client) closeIfEmpty(sid string) {
	m := c.model()
	empty := func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.emptyLocked(sid)
	}
	if !empty() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	go func() {
		select {
		case <-m.closer.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	one, status := 1, "connected"
	ps, err := c.ListRoomParticipant(ctx, sid, &openapi.ListRoomParticipantParams{Status: &status, PageSize: &one, Limit: &one})
	if err != nil {
		c.logWarn(ctx, "checking an empty room failed", err, "room", sid)
		return
	}
	if len(ps) > 0 || !empty() {
		return // someone is there whose participant-connected we did not see, or came since
	}
	completed := statusCompleted
	if _, err := c.UpdateRoom(ctx, sid, &openapi.UpdateRoomParams{Status: &completed}); err != nil {
		var tw *client.TwilioRestError
		if errors.As(err, &tw) && (tw.Code == 53112 || tw.Status == http.StatusNotFound) {
			return // it ended meanwhile
		}
		c.logWarn(ctx, "completing an empty room failed", err, "room", sid)
		return
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "videoquota: completed an empty room", slog.String("room", sid))
}
