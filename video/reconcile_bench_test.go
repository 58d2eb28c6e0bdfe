package video_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// benchEmulatorEnv, set in a child process of the test binary, makes
// TestBenchEmulatorChild serve an emulator holding that many in-progress
// Rooms, so that a benchmark's allocations are the Client's alone.
const benchEmulatorEnv = "VIDEOQUOTA_BENCH_EMULATOR_ROOMS"

// TestBenchEmulatorChild is the emulator process of BenchmarkReconcile; it
// is skipped in a normal run. It prints "url account token" and serves
// until its stdin closes.
func TestBenchEmulatorChild(t *testing.T) {
	rooms, err := strconv.Atoi(os.Getenv(benchEmulatorEnv))
	if err != nil {
		t.Skip("the emulator process of BenchmarkReconcile")
	}
	srv := videotest.NewServer(videotest.Options{AdHocRooms: true, ReadsPerSecond: -1, WritesPerSecond: -1,
		ConcurrentRooms: -1, ConcurrentParticipants: -1})
	defer srv.Close()
	for i := range rooms {
		if _, err := srv.Connect(fmt.Sprintf("room-%d", i), "alice"); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Printf("%s %s %s\n", srv.URL(), srv.AccountSID(), srv.AuthToken())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// benchEmulator starts the emulator process with n Rooms of one connected
// Participant each and returns its URL, account SID and auth token.
func benchEmulator(b *testing.B, n int) (url, account, token string) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchEmulatorChild$")
	cmd.Env = append(os.Environ(), benchEmulatorEnv+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("emulator process: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		b.Fatalf("emulator process said %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return f[0], f[1], f[2]
}

// BenchmarkReconcile measures one Reconcile pass at n in-progress Rooms of
// one connected Participant each, against the emulator in another process
// (so B/op and allocs/op are the Client's alone). The Client's read quota is
// set so high that nothing waits and the read budget covers the whole
// account: every pass is a full sweep, as every pass was before passes had
// a budget. reads/pass is the requests one pass sent; s@8/s is how long
// those reads take at the default read share of Twilio's 80 reads/s.
func BenchmarkReconcile(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("rooms=%d", n), func(b *testing.B) {
			base, account, token := benchEmulator(b, n)
			vq, err := video.New(account, token, video.WithBaseURL(base),
				video.WithLimits(quota.Limits{ReadsPerSecond: 1e9, WritesPerSecond: 1e9, ReadBurst: 1 << 20,
					ConcurrentRooms: quota.Unlimited, ConcurrentParticipants: quota.Unlimited}))
			if err != nil {
				b.Fatal(err)
			}
			defer vq.Close()
			ctx := context.Background()
			d, err := vq.Reconcile(ctx) // learns the account
			if err != nil {
				b.Fatal(err)
			}
			if d.Rooms.Twilio != n || d.Participants.Twilio != n {
				b.Fatalf("first pass: %v, want %d rooms and participants", d, n)
			}
			b.ReportAllocs()
			for b.Loop() {
				if d, err = vq.Reconcile(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if !d.Zero() || d.Rooms.Twilio != n {
				b.Fatalf("steady pass: %v, want no drift at %d rooms", d, n)
			}
			b.ReportMetric(float64(d.Requests), "reads/pass")
			b.ReportMetric(float64(d.Requests)/(quota.DefaultLimits().ReadsPerSecond*video.DefaultReconcileShare), "s@8/s")
		})
	}
}
