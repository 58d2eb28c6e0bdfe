package main

import (
	"bytes"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTenantsSmoke runs the tenants scenario for two seconds a case with two
// Clients on a redis-server of its own and checks that every case is
// reported, with no server 429s, and that the chart is made.
func TestTenantsSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the emulator for 12 s")
	}
	if _, err := exec.LookPath("redis-server"); err != nil && os.Getenv("CI") == "" {
		t.Skip("redis-server is not installed")
	}
	chart := filepath.Join(t.TempDir(), "tenants.png")
	var out bytes.Buffer
	if err := run([]string{"-scenario", "tenants", "-duration", "2s", "-procs", "2", "-workers", "10", "-chart", chart}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, c := range tenantCases(2) {
		if !strings.Contains(out.String(), c.name+" (seconds 1-2), server 429s: 0\n") {
			t.Errorf("report lacks %q with no server 429s:\n%s", c.name, out.String())
		}
	}
	f, err := os.Open(chart)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("chart is not a valid PNG: %v", err)
	}
}
