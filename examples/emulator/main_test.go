package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinaryBannerAndSignal builds this command, starts it with -dev, runs
// the banner's first curl line as printed, and stops it with SIGTERM, as a
// user at a terminal would.
func TestBinaryBannerAndSignal(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	bin := filepath.Join(t.TempDir(), "emulator")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-dev", "-addr", "127.0.0.1:0")
	cmd.Env = os.Environ()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var curl string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if curl == "" && strings.HasPrefix(line, "curl ") {
			curl = line
		}
		if strings.HasPrefix(line, "videotest: ready") {
			break
		}
	}
	if curl == "" {
		t.Fatal("no curl line in the banner")
	}
	got, err := exec.Command("sh", "-c", curl+" -sS").CombinedOutput()
	if err != nil || !strings.Contains(string(got), `"unique_name":"demo"`) {
		t.Fatalf("%s: %v\n%s", curl, err, got)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}
