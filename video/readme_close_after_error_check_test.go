package video_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeChecksErrorBeforeClose: every README program that builds a
// Client (or Accounts, or a store) checks New's error before it defers
// Close, as a reader will copy it: a Close deferred on the nil value of a
// failed New would hide the error behind a nil-pointer panic.
func TestReadmeChecksErrorBeforeClose(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, b := range readmeBlocks(t) {
		lines := strings.Split(b.src, "\n")
		for i, l := range lines {
			if !strings.Contains(l, "err := ") || !strings.Contains(l, "New") {
				continue
			}
			for j := i + 1; j < len(lines); j++ {
				if strings.Contains(lines[j], "err != nil") {
					checked++
					break
				}
				if strings.HasPrefix(strings.TrimSpace(lines[j]), "defer ") && strings.Contains(lines[j], ".Close()") {
					t.Errorf("README.md:%d (%s): %q comes before New's error is checked", b.line+1+j, b.heading, strings.TrimSpace(lines[j]))
					break
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("found %d checked constructor calls in the README's programs; want at least 5", checked)
	}
}

// TestReadmeFirstProgramRuns runs the README's first program, as it is,
// against the emulator it starts, and checks the line it prints.
func TestReadmeFirstProgramRuns(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs a README program")
	}
	var src string
	for _, b := range readmeBlocks(t) {
		if b.heading == "A first program" {
			src = b.src
			break
		}
	}
	if src == "" {
		t.Fatal(`no Go block under the README's heading "A first program"`)
	}
	dir, err := os.MkdirTemp("..", ".readme-first-") // inside the module, so that its packages resolve
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.Command("go", "run", "./"+filepath.Base(dir))
	run.Dir = ".."
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the first program failed: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "created RM") || !strings.Contains(string(out), "; 1 of 10000 Rooms in use") {
		t.Fatalf("the first program printed %q; want \"created RM…; 1 of 10000 Rooms in use\"", out)
	}
}
