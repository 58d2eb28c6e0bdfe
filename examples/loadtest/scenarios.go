package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/examples/loadtest/internal/loadtest"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video/videotest"
)

// Operation names, as the report shows them.
const (
	opCreate = "CreateRoom"
	opUpdate = "UpdateRoom"
	opFetch  = "FetchRoom"
	opList   = "ListRoom"
)

// env is what a scenario's jobs share during one client's run.
type env struct {
	cfg      config
	srv      *videotest.Server // nil in a distributed child
	seq      atomic.Int64
	roomSIDs []string // rooms seeded for the read jobs
}

func (e *env) name() string { return fmt.Sprintf("lt-%d-%d", os.Getpid(), e.seq.Add(1)) }

// stream is a paced flow of jobs.
type stream struct {
	rate float64 // arrivals per second
	job  func(ctx context.Context, api loadtest.API, rec *loadtest.Recorder)
}

// drive paces each of streams until ctx ends, with cfg.workers workers per
// stream, and returns the jobs accepted and the arrivals shed (all busy).
func drive(ctx context.Context, streams []stream, workers int, api loadtest.API, rec *loadtest.Recorder) (accepted, shed int64) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, s := range streams {
		wg.Go(func() {
			acc, sh := loadtest.Pace(ctx, s.rate, workers, func(ctx context.Context) { s.job(ctx, api, rec) })
			mu.Lock()
			accepted += acc
			shed += sh
			mu.Unlock()
		})
	}
	wg.Wait()
	return accepted, shed
}

// scenario is one kind of work.
type scenario struct {
	ops     []string
	setup   func(e *env) error // before the clock starts; sends no counted request
	streams func(e *env) []stream
	// batch runs the i-th operation of the fixed batch; nil: no batch.
	batch      func(ctx context.Context, e *env, api loadtest.API, rec *loadtest.Recorder, i int)
	batchClass quota.Class
	// ceiling is the most successful operations per second the quotas allow.
	ceiling func(cfg config) float64
}

var scenarios = map[string]*scenario{
	// write: CreateRoom then complete it (2 writes per job).
	"write": {
		ops: []string{opCreate, opUpdate},
		streams: func(e *env) []stream {
			return []stream{writeStream(e)}
		},
		batch:      batchCreate,
		batchClass: quota.Write,
		ceiling:    func(cfg config) float64 { return min(cfg.writes, cfg.twilioWrites) - cfg.other },
	},
	// read: alternately FetchRoom (1 read) and a 3-page ListRoom (3 reads).
	"read": {
		ops:   []string{opFetch, opList},
		setup: seedRooms,
		streams: func(e *env) []stream {
			return []stream{readStream(e)}
		},
		batch:      batchFetch,
		batchClass: quota.Read,
		ceiling:    func(cfg config) float64 { return cfg.reads / 2 },
	},
	// mixed: the write and the read streams at once.
	"mixed": {
		ops:   []string{opCreate, opUpdate, opFetch, opList},
		setup: seedRooms,
		streams: func(e *env) []stream {
			return []stream{writeStream(e), readStream(e)}
		},
		batch:      batchCreate,
		batchClass: quota.Write,
		ceiling:    func(cfg config) float64 { return cfg.writes + cfg.reads/2 },
	},
	// unknown: the write flood against an account that allows less than
	// the Client is configured for (-twilio-writes).
	"unknown": {
		ops: []string{opCreate, opUpdate},
		streams: func(e *env) []stream {
			return []stream{writeStream(e)}
		},
		ceiling: func(cfg config) float64 { return cfg.twilioWrites },
	},
	// shared: the write flood while another application (raw twilio-go)
	// takes -other writes/s of the account.
	"shared": {
		ops: []string{opCreate, opUpdate},
		streams: func(e *env) []stream {
			return []stream{writeStream(e)}
		},
		ceiling: func(cfg config) float64 { return cfg.twilioWrites - cfg.other },
	},
	// wall: rooms are held for cfg.hold before being completed, against a
	// small concurrent-rooms quota, so most creations meet the wall.
	"wall": {
		ops: []string{opCreate, opUpdate},
		streams: func(e *env) []stream {
			return []stream{{rate: e.cfg.offered * e.cfg.writes / 2, job: func(ctx context.Context, api loadtest.API, rec *loadtest.Recorder) {
				createHoldComplete(ctx, e, api, rec, e.cfg.hold)
			}}}
		},
		ceiling: func(cfg config) float64 {
			return min(cfg.writes, 2*float64(cfg.rooms)/cfg.hold.Seconds())
		},
	},
}

func writeStream(e *env) stream {
	return stream{rate: e.cfg.offered * e.cfg.writes / 2, job: func(ctx context.Context, api loadtest.API, rec *loadtest.Recorder) {
		createHoldComplete(ctx, e, api, rec, 0)
	}}
}

func readStream(e *env) stream {
	return stream{rate: e.cfg.offered * e.cfg.reads / 2, job: func(ctx context.Context, api loadtest.API, rec *loadtest.Recorder) {
		if e.seq.Add(1)%2 == 0 {
			fetch(ctx, e, api, rec, rand.IntN(len(e.roomSIDs)))
			return
		}
		_ = rec.Do(opList, func() error {
			p := new(openapi.ListRoomParams).SetPageSize(e.cfg.pageSize).SetLimit(3 * e.cfg.pageSize)
			_, err := api.ListRoom(ctx, p)
			return err
		})
	}}
}

func fetch(ctx context.Context, e *env, api loadtest.API, rec *loadtest.Recorder, i int) {
	_ = rec.Do(opFetch, func() error {
		_, err := api.FetchRoom(ctx, e.roomSIDs[i%len(e.roomSIDs)])
		return err
	})
}

// createHoldComplete creates a room, keeps it for hold and completes it.
func createHoldComplete(ctx context.Context, e *env, api loadtest.API, rec *loadtest.Recorder, hold time.Duration) {
	var room *openapi.VideoV1Room
	err := rec.Do(opCreate, func() error {
		r, err := api.CreateRoom(ctx, new(openapi.CreateRoomParams).SetUniqueName(e.name()))
		room = r
		return err
	})
	if err != nil || room == nil || room.Sid == nil {
		return
	}
	if hold > 0 {
		// Rooms last between half and one and a half times hold, so that
		// they do not all end in the same second.
		t := time.NewTimer(hold/2 + rand.N(hold))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	_ = rec.Do(opUpdate, func() error {
		_, err := api.UpdateRoom(ctx, *room.Sid, new(openapi.UpdateRoomParams).SetStatus("completed"))
		return err
	})
}

func batchCreate(ctx context.Context, e *env, api loadtest.API, rec *loadtest.Recorder, _ int) {
	_ = rec.Do(opCreate, func() error {
		_, err := api.CreateRoom(ctx, new(openapi.CreateRoomParams).SetUniqueName(e.name()))
		return err
	})
}

func batchFetch(ctx context.Context, e *env, api loadtest.API, rec *loadtest.Recorder, i int) {
	fetch(ctx, e, api, rec, i)
}

// seedRooms puts cfg.seedRooms rooms in progress the way a client SDK would
// (ad-hoc, no REST request) and learns their SIDs with one uncounted listing.
func seedRooms(e *env) error {
	if e.cfg.seedRooms < 1 {
		return fmt.Errorf("-seed-rooms %d: the read jobs need at least one room", e.cfg.seedRooms)
	}
	for i := range e.cfg.seedRooms {
		if _, err := e.srv.Connect(fmt.Sprintf("seed-%d", i), "loadtest"); err != nil {
			return err
		}
	}
	raw, err := loadtest.NewRaw(e.srv.AccountSID(), e.srv.AuthToken(), e.srv.URL(), nil)
	if err != nil {
		return err
	}
	rooms, err := raw.ListRoom(context.Background(), new(openapi.ListRoomParams).SetPageSize(1000))
	if err != nil {
		return err
	}
	for _, r := range rooms {
		if r.Sid != nil {
			e.roomSIDs = append(e.roomSIDs, *r.Sid)
		}
	}
	if len(e.roomSIDs) != e.cfg.seedRooms {
		return fmt.Errorf("seeded %d rooms, listed %d", e.cfg.seedRooms, len(e.roomSIDs))
	}
	return nil
}
