package video_test

import (
	"bufio"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeBlock is a ```go block of the README and the heading it is under.
type readmeBlock struct {
	heading string
	line    int
	src     string
}

// readmeBlocks returns the README's Go code blocks.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []readmeBlock
	var cur *readmeBlock
	heading := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		case cur == nil && line == "```go":
			cur = &readmeBlock{heading: heading, line: n}
		case cur != nil && line == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.src += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// readmePending are sections whose blocks are not yet complete programs;
// each entry is a defect to remove, not a permanent exception.
var readmePending = map[string]bool{}

// TestReadmeCompiles: every Go block of the README is a complete program
// that type-checks against this module (go vet), and the offline-testing
// one runs: the ledger refuses the Room past the emulator's quota itself,
// and JoinToken works with the emulator's API key.
func TestReadmeCompiles(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the README's programs")
	}
	blocks := readmeBlocks(t)
	if len(blocks) < 5 {
		t.Fatalf("found %d Go blocks in the README; want at least 5", len(blocks))
	}
	dir, err := os.MkdirTemp("..", ".readme-test-") // inside the module, so that its packages resolve
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var pkgs []string
	offline := ""
	for i, b := range blocks {
		if readmePending[b.heading] {
			t.Logf("README.md:%d (%s): not yet a complete program", b.line, b.heading)
			continue
		}
		if !strings.HasPrefix(b.src, "package main\n") || !strings.Contains(b.src, "\nfunc main() {\n") {
			t.Errorf("README.md:%d (%s): not a complete program (package main with func main)", b.line, b.heading)
			continue
		}
		pkg := filepath.Join(dir, fmt.Sprintf("block%d", i))
		if err := os.MkdirAll(pkg, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pkg, "main.go"), []byte(b.src), 0o644); err != nil {
			t.Fatal(err)
		}
		if src, err := format.Source([]byte(b.src)); err != nil || string(src) != b.src {
			t.Errorf("README.md:%d (%s): not gofmt-formatted (%v)", b.line, b.heading, err)
		}
		rel := "./" + filepath.Base(dir) + "/" + filepath.Base(pkg) // relative to the module root
		pkgs = append(pkgs, rel)
		if strings.Contains(b.heading, "offline") {
			offline = rel
		}
	}
	vet := exec.Command("go", append([]string{"vet"}, pkgs...)...)
	vet.Dir = ".."
	if out, err := vet.CombinedOutput(); err != nil {
		t.Fatalf("go vet of the README's blocks: %v\n%s", err, out)
	}
	if offline == "" {
		t.Fatal("no Go block under a heading about offline testing")
	}
	run := exec.Command("go", "run", offline)
	run.Dir = ".."
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the offline-testing program failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "refused locally, nothing sent") || !strings.Contains(string(out), "429s the emulator sent: 0") {
		t.Fatalf("the offline-testing program printed:\n%s\nwant a Room refused locally and no 429", out)
	}
}
