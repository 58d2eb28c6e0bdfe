package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFlood runs the flood against the emulator and checks that /metrics
// served every series the documentation lists, and no identifier.
func TestFlood(t *testing.T) {
	var out syncBuffer
	if err := run(context.Background(), &out, "127.0.0.1:0", 30, false); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		`videoquota_concurrency_usage{videoquota_resource="rooms"}`,
		`videoquota_concurrency_limit{videoquota_resource="rooms"} 10`,
		`videoquota_concurrency_utilization_ratio{videoquota_resource="rooms"}`,
		`videoquota_concurrency_full_ratio{videoquota_resource="rooms"}`,
		`videoquota_concurrency_refusals_total{videoquota_resource="rooms",videoquota_source="local"}`,
		`videoquota_requests_total{videoquota_outcome="success",videoquota_request_class="write"}`,
		`videoquota_requests_total{videoquota_outcome="throttled",videoquota_request_class="write"}`,
		`videoquota_limiter_wait_seconds_count{videoquota_request_class="write"}`,
		`videoquota_rate_limit_per_second{videoquota_request_class="write"} 40`,
		`videoquota_rate_factor_ratio{videoquota_request_class="write"}`,
		`videoquota_threshold_events_total{videoquota_direction="rising",videoquota_resource="rooms",videoquota_source="local",videoquota_threshold_level="0.7",videoquota_twilio_code="53121"}`,
		`videoquota_callbacks_total{videoquota_delivery="status_callback",videoquota_outcome="accepted"}`,
		`videoquota_reconcile_runs_total 1`,
		`videoquota_reservations_pending{videoquota_resource="participants"} 0`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
	if sid := regexp.MustCompile(`\b(AC|RM|PA|SK)[0-9a-f]{32}\b`).FindString(got); sid != "" {
		t.Errorf("output shows an identifier %s", sid)
	}
}

// TestLoopbackOnly: a non-loopback address is refused before anything starts.
func TestLoopbackOnly(t *testing.T) {
	err := run(context.Background(), &syncBuffer{}, "0.0.0.0:0", 1, false)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("got %v; want a loopback error", err)
	}
}
