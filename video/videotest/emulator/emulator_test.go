package emulator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/video/videotest"
	"github.com/videoquota/videoquota/video/videotest/emulator"
)

// running is an emulator started by start.
type running struct {
	lines  []string // the banner, up to and including the ready line
	url    string
	cancel context.CancelFunc
	done   chan error
}

// start runs emulator.Main with args and env on a free port and waits for
// its ready line. The emulator is stopped at the end of the test.
func start(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := emulator.Main(ctx, "videotest", append([]string{"-addr", "127.0.0.1:0"}, args...), pw, io.Discard,
			func(k string) string { return env[k] })
		pw.Close()
		r.done <- err
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		r.lines = append(r.lines, line)
		if rest, ok := strings.CutPrefix(line, "videotest emulator listening on "); ok {
			r.url = rest
		}
		if strings.HasPrefix(line, "videotest: ready") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if r.url == "" {
		cancel()
		t.Fatalf("no banner; Main returned %v", <-r.done)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Main and checks that it returns nil and stops listening.
func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Main after cancel = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return after cancel")
	}
	if resp, err := http.Get(r.url + "/_videotest/health"); err == nil {
		resp.Body.Close()
		t.Errorf("still serving after shutdown")
	}
}

func (r *running) banner() string { return strings.Join(r.lines, "\n") }

// curlLines returns the banner's curl lines.
func (r *running) curlLines() []string {
	var out []string
	for _, l := range r.lines {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, "curl ") {
			out = append(out, s)
		}
	}
	return out
}

// sh runs a banner line in a shell, as a user pasting it would, with env
// added, and returns its output.
func sh(t *testing.T, line string, env ...string) string {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	cmd := exec.Command("sh", "-c", line+" -sS")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	return string(out)
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %q", s)
	}
	return m
}

// TestDevBannerCurlLinesWork pastes the banner's curl lines into a shell:
// they create a Room, join a Participant and list it.
func TestDevBannerCurlLinesWork(t *testing.T) {
	r := start(t, nil, "-dev")
	b := r.banner()
	for _, want := range []string{videotest.DevAccountSID, videotest.DevAuthToken, videotest.DevAPIKeySID, videotest.DevAPIKeySecret} {
		if !strings.Contains(b, want) {
			t.Fatalf("banner lacks %s:\n%s", want, b)
		}
	}
	lines := r.curlLines()
	if len(lines) != 3 {
		t.Fatalf("curl lines = %q", lines)
	}
	if m := decode(t, sh(t, lines[0])); m["unique_name"] != "demo" || m["status"] != "in-progress" {
		t.Fatalf("create = %v", m)
	}
	if m := decode(t, sh(t, lines[1])); m["identity"] != "alice" || m["status"] != "connected" {
		t.Fatalf("join = %v", m)
	}
	m := decode(t, sh(t, lines[2]))
	ps, _ := m["participants"].([]any)
	if len(ps) != 1 || ps[0].(map[string]any)["identity"] != "alice" {
		t.Fatalf("participants = %v", m)
	}
}

// TestEnvironmentTokenNeverPrinted: a token from the environment is not in
// the banner, whose curl lines refer to the variable and work with it set.
func TestEnvironmentTokenNeverPrinted(t *testing.T) {
	const tok, secret = "envtoken4242", "envsecret4242"
	r := start(t, map[string]string{"VIDEOTEST_ACCOUNT_SID": "AC00000000000000000000000000000042", "VIDEOTEST_AUTH_TOKEN": tok,
		"VIDEOTEST_API_KEY_SID": "SK00000000000000000000000000000042", "VIDEOTEST_API_KEY_SECRET": secret})
	b := r.banner()
	if strings.Contains(b, tok) || strings.Contains(b, secret) {
		t.Fatalf("banner shows a secret from the environment:\n%s", b)
	}
	lines := r.curlLines()
	if len(lines) != 3 || !strings.Contains(lines[0], `"AC00000000000000000000000000000042:$VIDEOTEST_AUTH_TOKEN"`) {
		t.Fatalf("curl lines = %q", lines)
	}
	if m := decode(t, sh(t, lines[0], "VIDEOTEST_AUTH_TOKEN="+tok)); m["account_sid"] != "AC00000000000000000000000000000042" {
		t.Fatalf("create = %v", m)
	}
}

// TestGeneratedTokenHidden: without -dev or -show-token the banner shows no
// token and no curl line that could not work; -show-token shows both.
func TestGeneratedTokenHidden(t *testing.T) {
	r := start(t, nil)
	if len(r.curlLines()) != 0 || !strings.Contains(r.banner(), "-dev") {
		t.Fatalf("banner:\n%s", r.banner())
	}
	r = start(t, nil, "-show-token")
	lines := r.curlLines()
	if len(lines) != 3 {
		t.Fatalf("banner:\n%s", r.banner())
	}
	if m := decode(t, sh(t, lines[0])); m["unique_name"] != "demo" {
		t.Fatalf("create = %v", m)
	}
}

// TestFlagsAndEnvironment: every quota flag also reads its variable; the
// flag wins; bad values name their source.
func TestFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{"VIDEOTEST_ROOMS": "1", "VIDEOTEST_PARTICIPANTS": "7"}
	r := start(t, env, "-dev", "-participants", "1")
	post := func(path, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", r.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(videotest.DevAccountSID, videotest.DevAuthToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, m := post("/v1/Rooms", "UniqueName=a"); code != 201 {
		t.Fatalf("create = %d %v", code, m)
	}
	if code, m := post("/v1/Rooms", "UniqueName=b"); code != 400 || m["code"] != 53119.0 {
		t.Fatalf("second create = %d %v, want 53119 ($VIDEOTEST_ROOMS=1)", code, m)
	}
	if code, _ := post("/_videotest/rooms/a/participants", `{"identity":"x"}`); code != 201 {
		t.Fatalf("join = %d", code)
	}
	if code, m := post("/_videotest/rooms/a/participants", `{"identity":"y"}`); code != 400 || m["code"] != 53206.0 {
		t.Fatalf("second join = %d %v, want 53206 (-participants 1 beats $VIDEOTEST_PARTICIPANTS=7)", code, m)
	}

	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"VIDEOTEST_ROOMS": "many"}, nil, "$VIDEOTEST_ROOMS"},
		{map[string]string{"VIDEOTEST_FAKE_CLOCK": "yesterday"}, nil, "-fake-clock"},
		{nil, []string{"-faults", `{"rate_429":3}`}, "rate_429"},
		{nil, []string{"-faults", `{"rate":1}`}, "rate"},
		{nil, []string{"-dev", "-auth-token", "x1"}, "-dev"},
		{nil, []string{"-rooms"}, "-rooms"},
		{nil, []string{"stray"}, "stray"},
		{nil, []string{"-account-sid", "XX1"}, `-account-sid "XX1": want a Twilio Account SID`},
		{map[string]string{"VIDEOTEST_ACCOUNT_SID": "AC42"}, nil, `$VIDEOTEST_ACCOUNT_SID "AC42"`},
		{nil, []string{"-api-key-sid", "SK42"}, `-api-key-sid "SK42": want a Twilio API Key SID`},
	} {
		err := emulator.Main(context.Background(), "videotest", c.args, io.Discard, io.Discard, func(k string) string { return c.env[k] })
		var ue *emulator.UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: err = %v, want a UsageError naming %s", c.env, c.args, err, c.want)
		}
	}
}

// TestHealthFakeClockAndShutdown: health answers without credentials, the
// fake clock starts where -fake-clock says, and Main returns after cancel.
func TestHealthFakeClockAndShutdown(t *testing.T) {
	r := start(t, map[string]string{"VIDEOTEST_FAKE_CLOCK": "2026-01-02T03:04:05Z"}, "-dev")
	resp, err := http.Get(r.url + "/_videotest/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"status":"ok"}` {
		t.Fatalf("health = %d %s", resp.StatusCode, b)
	}
	req, _ := http.NewRequest("GET", r.url+"/_videotest/clock", nil)
	req.SetBasicAuth(videotest.DevAccountSID, videotest.DevAuthToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if m["fake"] != true || m["now"] != "2026-01-02T03:04:05Z" {
		t.Fatalf("clock = %v", m)
	}
	r.stop(t)
}
