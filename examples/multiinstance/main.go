// Command multiinstance shows several processes sharing one Twilio account's
// quota through Redis: it starts the videotest emulator with a small
// concurrent Rooms quota, then several copies of itself, each a video.Client
// on one redisstore.Store, which all try to create more Rooms than the quota
// allows at the same moment.
//
//	go run ./examples/multiinstance -processes 4 -rooms 8 -attempts 5
//
// Together they create exactly -rooms Rooms; every other attempt is refused
// locally with a *quota.ExceededError before anything is sent, so the
// emulator never answers 53119; and the 70% threshold (Twilio's warning
// 53121) is reported by exactly one of the processes, whichever crossed it.
//
// Redis: -redis host:port, else $VIDEOQUOTA_REDIS_URL, else a redis-server
// of its own on a free loopback port (needs the redis-server binary).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// The parent hands each child its settings in the environment, so that the
// emulator's auth token never shows on a command line.
const envChild = "MULTIINSTANCE_CHILD"

type childConf struct {
	ID                int
	Emulator, Account string
	Token             string
	RedisURL, Prefix  string
	Rooms, Attempts   int
	Start             time.Time
}

type childReport struct {
	ID               int
	Created, Refused int
	Errors           []string
	Crossings        []string
}

func main() {
	if conf := os.Getenv(envChild); conf != "" {
		if err := child(conf); err != nil {
			fmt.Fprintln(os.Stderr, "multiinstance child:", err)
			os.Exit(1)
		}
		return
	}
	if err := parent(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "multiinstance:", err)
		os.Exit(1)
	}
}

// parent runs the demonstration with command-line args, printing to w.
func parent(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("multiinstance", flag.ContinueOnError)
	processes := fs.Int("processes", 4, "processes sharing the account")
	rooms := fs.Int("rooms", 8, "the account's concurrent Rooms quota")
	attempts := fs.Int("attempts", 5, "Rooms each process tries to create at once")
	redisAddr := fs.String("redis", "", "Redis host:port (default $VIDEOQUOTA_REDIS_URL, else a redis-server of its own)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *processes < 1 || *rooms < 1 || *attempts < 1 {
		return errors.New("-processes, -rooms and -attempts must be at least 1")
	}

	redisURL, stop, err := redisServer(*redisAddr, w)
	if err != nil {
		return err
	}
	defer stop()

	emu, err := videotest.Start(videotest.Options{ConcurrentRooms: *rooms})
	if err != nil {
		return err
	}
	defer emu.Close()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	conf := childConf{
		Emulator: emu.URL(), Account: emu.AccountSID(), Token: emu.AuthToken(),
		RedisURL: redisURL, Prefix: fmt.Sprintf("multiinstance-%d", time.Now().UnixNano()),
		Rooms: *rooms, Attempts: *attempts,
		Start: time.Now().Add(time.Second), // all children start together
	}
	fmt.Fprintf(w, "%d processes, one Redis, one emulator: %d attempts each at a quota of %d concurrent Rooms\n",
		*processes, *attempts, *rooms)

	var (
		mu      sync.Mutex
		reports []childReport
		wg      sync.WaitGroup
		errs    []error
	)
	for i := range *processes {
		conf.ID = i + 1
		b, _ := json.Marshal(conf)
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), envChild+"="+string(b))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		wg.Go(func() {
			var rep childReport
			dec := json.NewDecoder(bufio.NewReader(out))
			derr := dec.Decode(&rep)
			werr := cmd.Wait()
			mu.Lock()
			defer mu.Unlock()
			if err := errors.Join(derr, werr); err != nil {
				errs = append(errs, fmt.Errorf("process %d: %w", conf.ID, err))
				return
			}
			reports = append(reports, rep)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	sort.Slice(reports, func(i, j int) bool { return reports[i].ID < reports[j].ID })
	created, refused := 0, 0
	for _, r := range reports {
		fmt.Fprintf(w, "  process %d: created %d, refused locally %d\n", r.ID, r.Created, r.Refused)
		for _, c := range r.Crossings {
			fmt.Fprintf(w, "  process %d: threshold: %s\n", r.ID, c)
		}
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  process %d: error: %s\n", r.ID, e)
		}
		created += r.Created
		refused += r.Refused
	}
	st := emu.Stats()
	fmt.Fprintf(w, "together: %d Rooms created, %d refused locally; the emulator has %d in progress (peak %d) and answered %d requests with 53119\n",
		created, refused, st.RoomsNow, st.RoomsPeak, st.Requests[400])
	if created != *rooms || st.RoomsPeak != *rooms {
		return fmt.Errorf("want exactly %d Rooms", *rooms)
	}
	return nil
}

func child(raw string) error {
	var conf childConf
	if err := json.Unmarshal([]byte(raw), &conf); err != nil {
		return err
	}
	opts, err := redis.ParseURL(conf.RedisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	store, err := redisstore.New(rdb, redisstore.WithPrefix(conf.Prefix))
	if err != nil {
		return err
	}
	rep := childReport{ID: conf.ID}
	var mu sync.Mutex
	client, err := video.New(conf.Account, conf.Token,
		video.WithBaseURL(conf.Emulator),
		video.WithStore(store),
		video.WithLimits(quota.Limits{ConcurrentRooms: conf.Rooms}),
		video.WithThresholds(func(e quota.Event) {
			mu.Lock()
			defer mu.Unlock()
			dir := "fell below"
			if e.Rising {
				dir = "reached"
			}
			rep.Crossings = append(rep.Crossings, fmt.Sprintf("%s %s %.0f%% of the quota (%d of %d)", e.Resource, dir, e.Level*100, e.Used, e.Limit))
		}))
	if err != nil {
		return err
	}
	time.Sleep(time.Until(conf.Start))
	var wg sync.WaitGroup
	for range conf.Attempts {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := client.CreateRoom(ctx, &openapi.CreateRoomParams{})
			mu.Lock()
			defer mu.Unlock()
			var ee *quota.ExceededError
			switch {
			case err == nil:
				rep.Created++
			case errors.As(err, &ee) && ee.Source == quota.SourceLocal:
				rep.Refused++
			default:
				rep.Errors = append(rep.Errors, err.Error())
			}
		})
	}
	wg.Wait()
	client.Close() // delivers the threshold events still queued
	mu.Lock()
	defer mu.Unlock()
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// redisServer returns the URL of the Redis to use and a func that stops it
// if this program started it.
func redisServer(addr string, w io.Writer) (string, func(), error) {
	if addr != "" {
		return "redis://" + addr + "/0", func() {}, nil
	}
	if u := os.Getenv("VIDEOQUOTA_REDIS_URL"); u != "" {
		return u, func() {}, nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errors.New("no Redis: pass -redis host:port, set VIDEOQUOTA_REDIS_URL or install redis-server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill() // fails only when it already exited
		_ = cmd.Wait()         // "signal: killed", expected
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := rdb.Ping(context.Background()).Err(); err == nil {
			break
		} else if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("redis-server on %s did not answer: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(w, "started redis-server on %s\n", addr)
	return "redis://" + addr + "/0", stop, nil
}
