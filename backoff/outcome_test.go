package backoff

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDefaultCheckRetry(t *testing.T) {
	netErr := fmt.Errorf("dial tcp 127.0.0.1:1: %w", syscall.ECONNREFUSED)
	tests := []struct {
		name string
		o    Outcome
		want Reason
	}{
		{"429 POST", Outcome{Method: "POST", StatusCode: 429}, ReasonThrottled},
		{"429 GET", Outcome{Method: "GET", StatusCode: 429}, ReasonThrottled},
		{"429 DELETE", Outcome{Method: "DELETE", StatusCode: 429}, ReasonThrottled},
		{"20429 body with 400 status", Outcome{Method: "POST", StatusCode: 400, Code: 20429}, ReasonThrottled},
		{"20429 body with 503 status", Outcome{Method: "POST", StatusCode: 503, Code: 20429}, ReasonThrottled},
		{"429 with 53119 body is a quota, not a rate", Outcome{Method: "POST", StatusCode: 429, Code: 53119}, ReasonNone},
		{"53206 body", Outcome{Method: "POST", StatusCode: 400, Code: 53206}, ReasonNone},
		{"500 GET", Outcome{Method: "GET", StatusCode: 500}, ReasonServer},
		{"502 GET", Outcome{Method: "GET", StatusCode: 502}, ReasonServer},
		{"503 GET", Outcome{Method: "GET", StatusCode: 503}, ReasonServer},
		{"504 HEAD", Outcome{Method: "HEAD", StatusCode: 504}, ReasonServer},
		{"500 POST", Outcome{Method: "POST", StatusCode: 500}, ReasonNone},
		{"502 POST", Outcome{Method: "POST", StatusCode: 502}, ReasonNone},
		{"503 POST", Outcome{Method: "POST", StatusCode: 503}, ReasonNone},
		{"503 DELETE not declared", Outcome{Method: "DELETE", StatusCode: 503}, ReasonNone},
		{"503 POST declared idempotent", Outcome{Method: "POST", StatusCode: 503, Idempotent: true}, ReasonServer},
		{"501 GET", Outcome{Method: "GET", StatusCode: 501}, ReasonNone},
		{"400", Outcome{Method: "GET", StatusCode: 400}, ReasonNone},
		{"401", Outcome{Method: "GET", StatusCode: 401}, ReasonNone},
		{"404", Outcome{Method: "GET", StatusCode: 404, Code: 20404}, ReasonNone},
		{"200", Outcome{Method: "GET", StatusCode: 200}, ReasonNone},
		{"network GET", Outcome{Method: "GET", Err: netErr}, ReasonNetwork},
		{"network EOF GET", Outcome{Method: "GET", Err: io.ErrUnexpectedEOF}, ReasonNetwork},
		{"network POST", Outcome{Method: "POST", Err: netErr}, ReasonNone},
		{"network POST declared idempotent", Outcome{Method: "POST", Err: netErr, Idempotent: true}, ReasonNetwork},
		{"context.Canceled GET", Outcome{Method: "GET", Err: context.Canceled}, ReasonNone},
		{"context.DeadlineExceeded GET idempotent", Outcome{Method: "GET", Err: fmt.Errorf("read: %w", context.DeadlineExceeded), Idempotent: true}, ReasonNone},
		{"context.Canceled even with 429", Outcome{Method: "GET", StatusCode: 429, Err: context.Canceled}, ReasonNone},
		{"TLS certificate failure GET", Outcome{Method: "GET", Err: &tls.CertificateVerificationError{Err: errors.New("bad cert")}}, ReasonNone},
		{"no response and no error", Outcome{Method: "GET"}, ReasonNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultCheckRetry(tt.o); got != tt.want {
				t.Errorf("DefaultCheckRetry(%+v) = %v, want %v", tt.o, got, tt.want)
			}
		})
	}
}

func TestReasonString(t *testing.T) {
	for r, want := range map[Reason]string{
		ReasonNone: "none", ReasonThrottled: "throttled", ReasonServer: "server",
		ReasonNetwork: "network", Reason(9): "Reason(9)",
	} {
		if got := r.String(); got != want {
			t.Errorf("Reason(%d).String() = %q, want %q", uint8(r), got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"-5", 0, true},
		{"Thu, 26 Nov 2026 12:00:30 GMT", 30 * time.Second, true}, // future IMF-fixdate
		{"Thursday, 26-Nov-26 12:01:00 GMT", time.Minute, true},   // RFC 850
		{"Thu Nov 26 12:00:05 2026", 5 * time.Second, true},       // ANSI C
		{"Thu, 26 Nov 2026 11:59:00 GMT", 0, true},                // past
		{"Mon, 01 Jan 1900 00:00:00 GMT", 0, true},                // far past
		{"99999999999999999999999", maxDuration, true},            // overflows int64
		{"9223372037", maxDuration, true},                         // overflows Duration
		{"9223372036", 9223372036 * time.Second, true},            // just fits
		{"", 0, false},
		{"   ", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
		{"-", 0, false},
		{"--1", 0, false},
		{"12s", 0, false},
		{"Thu, 26 Nov 2026 12:00:30", 0, false}, // no zone
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "99999999999999999999", "Thu, 26 Nov 2026 12:00:30 GMT",
		"Thursday, 26-Nov-26 12:01:00 GMT", "Thu Nov 26 12:00:05 2026", "", "soon", "1e3", "+5", "\t7\n"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v < 0", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false: want 0 when not ok", s, d)
		}
		if trimmed := strings.TrimSpace(s); trimmed != "" && allDigits(trimmed) && !ok {
			t.Fatalf("ParseRetryAfter(%q) rejected plain seconds", s)
		}
		// Whatever the server sent, a policy never waits past MaxRetryAfter.
		r := Policy{Rand: func() float64 { return 0 }, MaxRetryAfter: 3 * time.Second}.Start()
		wait, retry, err := r.Next(Outcome{Method: "POST", StatusCode: 429, RetryAfter: d})
		if err != nil || !retry || wait > 3*time.Second || wait < 0 {
			t.Fatalf("Next after Retry-After %q (%v) = %v, %v, %v", s, d, wait, retry, err)
		}
	})
}

func TestFromResponse(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/v1/Rooms", nil)
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"2"}}}
	o := FromResponse(req, resp, nil, now)
	want := Outcome{Method: "POST", StatusCode: 429, RetryAfter: 2 * time.Second}
	if o != want {
		t.Errorf("FromResponse = %+v, want %+v", o, want)
	}
	o = FromResponse(req, nil, io.EOF, now)
	if o.StatusCode != 0 || o.Err != io.EOF || o.Method != "POST" {
		t.Errorf("FromResponse(no response) = %+v", o)
	}
	// A garbage Retry-After is ignored rather than trusted.
	resp.Header.Set("Retry-After", "later")
	if o := FromResponse(req, resp, nil, now); o.RetryAfter != 0 {
		t.Errorf("garbage Retry-After gave %v", o.RetryAfter)
	}
}

func TestStatusErrorMessage(t *testing.T) {
	err := Outcome{Method: "POST", StatusCode: 429, Code: 20429, RetryAfter: time.Second}.cause()
	const want = "backoff: POST answered HTTP 429 (Twilio code 20429), Retry-After 1s"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
}
