package main

import (
	"bytes"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{}, ""},
		{[]string{"-scenario", "nope"}, "-scenario"},
		{[]string{"-duration", "1500ms"}, "-duration"},
		{[]string{"-duration", "1s"}, "-duration"},
		{[]string{"-workers", "0"}, "-workers"},
		{[]string{"-offered", "0"}, "-offered"},
		{[]string{"-writes", "-1"}, "-writes"},
		{[]string{"-batch", "-1"}, "-batch"},
		{[]string{"-clients", "raw,bogus"}, "bogus"},
		{[]string{"-clients", "videoquota-redis"}, "videoquota-redis"},
		{[]string{"-scenario", "distributed", "-clients", "videoquota-redis"}, ""},
		{[]string{"-procs", "0"}, "-procs"},
		{[]string{"-scenario", "unknown"}, ""},
		{[]string{"-scenario", "shared"}, ""},
		{[]string{"-scenario", "tenants"}, ""},
		{[]string{"-other", "20"}, "-other"},
		{[]string{"-twilio-writes", "-1"}, "-twilio-writes"},
		{[]string{"-from", "10"}, "-from"},
		{[]string{"-scenario", "status"}, ""},
		{[]string{"-scenario", "accounts"}, ""},
		{[]string{"-scenario", "accounts", "-accounts", "0"}, "-accounts"},
		{[]string{"-scenario", "accounts", "-isolation-x", "-1"}, "-isolation-x"},
		{[]string{"-scenario", "accounts", "-isolation-x", "0", "-duration", "2s"}, ""},
		{[]string{"-scenario", "status", "-status-reads", "0"}, "-status-reads"},
		{[]string{"-scenario", "status", "-status-format", "xml"}, "-status-format"},
		{[]string{"-scenario", "status", "-duration", "6s", "-phase", "2s"}, "-phase"},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("parseFlags(%q) = %v, want no error", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("parseFlags(%q) = %v, want an error naming %s", tc.args, err, tc.wantErr)
		}
	}
	// The chart goes outside the working tree unless named.
	if cfg, err := parseFlags([]string{"-scenario", "unknown", "-duration", "60s"}, io.Discard); err != nil ||
		filepath.Dir(cfg.chart) != filepath.Clean(os.TempDir()) || cfg.twilioWrites != 10 || cfg.from != 10 {
		t.Errorf("unknown scenario defaults: chart %q, real quota %v, from %d, err %v; want a file in %s, 10, 10",
			cfg.chart, cfg.twilioWrites, cfg.from, err, os.TempDir())
	}
	if cfg, err := parseFlags([]string{"-scenario", "shared", "-chart", "none"}, io.Discard); err != nil || cfg.chart != "" || cfg.other != 10 {
		t.Errorf("shared scenario: chart %q, other %v, err %v; want no chart and another application at 10/s", cfg.chart, cfg.other, err)
	}
	cfg, err := parseFlags([]string{"-scenario", "wall", "-quick"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.rooms != 20 || cfg.duration.Seconds() != 3 || cfg.batch != 30 {
		t.Errorf("wall -quick: rooms %d, duration %v, batch %d; want 20, 3s, 30", cfg.rooms, cfg.duration, cfg.batch)
	}
}

// TestRunSmoke runs the write scenario for two seconds with videoquota alone
// against the emulator and checks that the report and the chart are made.
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the emulator for 2 s")
	}
	chart := filepath.Join(t.TempDir(), "chart.png")
	var out bytes.Buffer
	err := run([]string{"-scenario", "write", "-duration", "2s", "-clients", "videoquota", "-batch", "5",
		"-workers", "10", "-chart", chart}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| videoquota |", "| videoquota | CreateRoom |", "Batch: 5 room creations", "chart: " + chart} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
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

// TestStatusScenarioSmoke runs the status scenario for two seconds (four
// phases) and checks that both sides of the comparison and the reader's
// achieved rate are reported.
func TestStatusScenarioSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the emulator for 2 s")
	}
	var out bytes.Buffer
	err := run([]string{"-scenario", "status", "-duration", "2s", "-phase", "500ms", "-status-reads", "100",
		"-workers", "10", "-offered", "1"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| without status reads |", "| with status reads |", "p99 with the reader over p99 without", "status reads: offered 100/s, achieved"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestAccountsScenarioSmoke runs the accounts scenario with three
// subaccounts for three seconds, and its isolation run, and checks that the
// per-account table and the isolation comparison are reported.
func TestAccountsScenarioSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the emulator for 7 s")
	}
	var out bytes.Buffer
	err := run([]string{"-scenario", "accounts", "-accounts", "3", "-duration", "3s", "-phase", "500ms",
		"-workers", "5", "-isolation-x", "3"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 subaccounts (created through ApiV2010.CreateAccount)", "| accounts | min | median |", "| 3 |",
		"| other account idle |", "| other account flooded |", "neighbour's p99"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
