package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	env := map[string]string{"VIDEOTEST_AUTH_TOKEN": "localtoken1"}
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-rooms", "1"}, pw, io.Discard, func(k string) string { return env[k] })
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var base, sid string
	for sc.Scan() && (base == "" || sid == "") {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "videotest emulator listening on "); ok {
			base = rest
		}
		if rest, ok := strings.CutPrefix(line, "account SID: "); ok {
			sid = rest
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	post := func(name string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", base+"/v1/Rooms", strings.NewReader(url.Values{"UniqueName": {name}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(sid, "localtoken1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, m := post("demo"); code != 201 || m["unique_name"] != "demo" {
		t.Fatalf("create: %d %v", code, m)
	}
	if code, m := post("other"); code != 400 || m["code"] != float64(53119) { // -rooms 1
		t.Fatalf("second create: %d %v", code, m)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunRejectsNonLoopback(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "0.0.0.0:0"}, io.Discard, io.Discard, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v", err)
	}
}

// TestRunHidesTokens: a token from the environment is never printed, and a
// generated one only with -show-token.
func TestRunHidesTokens(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   string
		args  []string
		shown bool
	}{
		{"from the environment", "localtoken2", nil, false},
		{"from the environment, -show-token", "localtoken2", []string{"-show-token"}, false},
		{"generated", "", nil, false},
		{"generated, -show-token", "", []string{"-show-token"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, tc.args...), pw, io.Discard,
					func(k string) string {
						if k == "VIDEOTEST_AUTH_TOKEN" {
							return tc.env
						}
						return ""
					})
				pw.Close()
			}()
			var out strings.Builder
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				out.WriteString(sc.Text() + "\n")
				if strings.HasPrefix(sc.Text(), "try: ") {
					break
				}
			}
			cancel()
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), "localtoken2") {
				t.Fatalf("the environment's token was printed:\n%s", out.String())
			}
			// A generated token is 32 alphanumerics after "auth token:  ".
			shown := false
			for _, line := range strings.Split(out.String(), "\n") {
				if rest, ok := strings.CutPrefix(line, "auth token:  "); ok && len(rest) > 32 && !strings.Contains(rest[:32], " ") {
					shown = true
				}
			}
			if shown != tc.shown {
				t.Fatalf("token shown = %v, want %v:\n%s", shown, tc.shown, out.String())
			}
		})
	}
}
