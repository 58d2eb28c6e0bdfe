package videotest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client/jwt"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

// spec is the control API's OpenAPI document, decoded once.
var spec = sync.OnceValue(func() map[string]any {
	var m map[string]any
	if err := json.Unmarshal(videotest.ControlOpenAPI(), &m); err != nil {
		panic(err)
	}
	return m
})

// ctl is a control API client for one test that checks every response
// against the OpenAPI document.
type ctl struct {
	t          *testing.T
	base       string
	user, pass string
}

func newCtl(t *testing.T, srv *videotest.Server) *ctl {
	return &ctl{t: t, base: srv.URL(), user: srv.AccountSID(), pass: srv.AuthToken()}
}

// do sends method path with body (JSON-encoded unless nil), asserts the
// status, validates the body against the spec's schema for that operation
// and status, and decodes it into a map (nil for 204).
func (c *ctl) do(method, path string, body any, want int) map[string]any {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	if body != nil && resp.StatusCode < 300 {
		// A request the emulator took must be one the document allows, or
		// a validating proxy in front of it would refuse what works.
		var v any
		b, _ := json.Marshal(body)
		_ = json.Unmarshal(b, &v)
		checkRequest(c.t, method, path, "application/json", v)
	}
	schema := map[string]any{"$ref": "#/components/schemas/Error"} // 405: any path, any method
	if resp.StatusCode != http.StatusMethodNotAllowed {
		schema = responseSchema(c.t, method, path, resp.StatusCode)
	} else if resp.Header.Get("Allow") == "" {
		c.t.Fatalf("%s %s: 405 without Allow", method, path)
	}
	if schema == nil {
		if len(raw) != 0 {
			c.t.Fatalf("%s %s: %d has a body %s, the spec has none", method, path, resp.StatusCode, raw)
		}
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		c.t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
	}
	if err := validate(schema, v, "$"); err != nil {
		c.t.Fatalf("%s %s: response %s does not match the spec: %v", method, path, raw, err)
	}
	m, _ := v.(map[string]any)
	return m
}

// responseSchema finds the spec's schema for method on the path template
// matching path and status; nil when the response has no content. An
// undocumented operation or status fails the test.
func responseSchema(t *testing.T, method, path string, status int) map[string]any {
	t.Helper()
	path, _, _ = strings.Cut(path, "?")
	for tmpl, ops := range spec()["paths"].(map[string]any) {
		re := "^" + regexp.MustCompile(`\\\{[a-z]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`) + "$"
		if !regexp.MustCompile(re).MatchString(path) {
			continue
		}
		op, ok := ops.(map[string]any)[strings.ToLower(method)].(map[string]any)
		if !ok {
			t.Fatalf("spec has no %s %s", method, tmpl)
		}
		r, ok := op["responses"].(map[string]any)[strconv.Itoa(status)].(map[string]any)
		if !ok {
			t.Fatalf("spec has no %d response for %s %s", status, method, tmpl)
		}
		content, ok := r["content"].(map[string]any)
		if !ok {
			return nil
		}
		return content["application/json"].(map[string]any)["schema"].(map[string]any)
	}
	t.Fatalf("spec has no path for %s", path)
	return nil
}

// operation finds the spec's operation for method on the path template
// matching path; an undocumented one fails the test.
func operation(t *testing.T, method, path string) map[string]any {
	t.Helper()
	path, _, _ = strings.Cut(path, "?")
	for tmpl, ops := range spec()["paths"].(map[string]any) {
		re := "^" + regexp.MustCompile(`\\\{[a-z]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`) + "$"
		if !regexp.MustCompile(re).MatchString(path) {
			continue
		}
		op, ok := ops.(map[string]any)[strings.ToLower(method)].(map[string]any)
		if !ok {
			t.Fatalf("spec has no %s %s", method, tmpl)
		}
		return op
	}
	t.Fatalf("spec has no path for %s", path)
	return nil
}

// checkRequest fails the test unless the document declares a request body
// of contentType for method path and body matches its schema: what a
// validating proxy in front of the emulator would check.
func checkRequest(t *testing.T, method, path, contentType string, body any) {
	t.Helper()
	if err := requestError(operation(t, method, path), contentType, body); err != nil {
		t.Fatalf("%s %s: the emulator took a request the document refuses: %v", method, path, err)
	}
}

// requestError checks body against op's request body for contentType.
func requestError(op map[string]any, contentType string, body any) error {
	rb, ok := op["requestBody"].(map[string]any)
	if !ok {
		return fmt.Errorf("no request body declared")
	}
	media, ok := rb["content"].(map[string]any)[contentType].(map[string]any)
	if !ok {
		return fmt.Errorf("no %s request body declared", contentType)
	}
	return validate(media["schema"].(map[string]any), body, "$")
}

// validate checks v against the subset of OpenAPI 3.0 schema the control
// API's document uses: $ref, type, nullable, enum, properties, required,
// additionalProperties, items, minimum/maximum, format date-time.
func validate(s map[string]any, v any, at string) error {
	if r, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(r, "#/components/schemas/")
		return validate(spec()["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any), v, at)
	}
	if v == nil {
		if s["nullable"] == true {
			return nil
		}
		return fmt.Errorf("%s: null", at)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		return fmt.Errorf("%s: %v not in %v", at, v, enum)
	}
	switch s["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want object", at, v)
		}
		props, _ := s["properties"].(map[string]any)
		for _, r := range asSlice(s["required"]) {
			if _, ok := m[r.(string)]; !ok {
				return fmt.Errorf("%s: missing %s", at, r)
			}
		}
		for k, x := range m {
			ps, ok := props[k].(map[string]any)
			if !ok {
				switch ap := s["additionalProperties"].(type) {
				case bool:
					if !ap {
						return fmt.Errorf("%s: unexpected field %s", at, k)
					}
					continue
				case map[string]any:
					ps = ap
				default:
					continue
				}
			}
			if err := validate(ps, x, at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		xs, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want array", at, v)
		}
		for i, x := range xs {
			if err := validate(s["items"].(map[string]any), x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: %T, want string", at, v)
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				return fmt.Errorf("%s: %q is not a date-time", at, str)
			}
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok || (s["type"] == "integer" && f != float64(int64(f))) {
			return fmt.Errorf("%s: %v (%T), want %s", at, v, v, s["type"])
		}
		if lo, ok := s["minimum"].(float64); ok && f < lo {
			return fmt.Errorf("%s: %v below %v", at, f, lo)
		}
		if hi, ok := s["maximum"].(float64); ok && f > hi {
			return fmt.Errorf("%s: %v above %v", at, f, hi)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T, want boolean", at, v)
		}
	}
	return nil
}

func asSlice(v any) []any {
	xs, _ := v.([]any)
	return xs
}

// TestValidatorRejects keeps the schema checker honest: each body breaks the
// Participant schema one way.
func TestValidatorRejects(t *testing.T) {
	p := map[string]any{"$ref": "#/components/schemas/Participant"}
	good := map[string]any{"sid": "PA1", "identity": "a", "status": "connected", "room_sid": "RM1", "room_name": "r"}
	if err := validate(p, good, "$"); err != nil {
		t.Fatalf("valid participant rejected: %v", err)
	}
	for name, mut := range map[string]func(m map[string]any){
		"missing field": func(m map[string]any) { delete(m, "sid") },
		"extra field":   func(m map[string]any) { m["x"] = 1 },
		"bad enum":      func(m map[string]any) { m["status"] = "gone" },
		"wrong type":    func(m map[string]any) { m["identity"] = 3.0 },
		"null":          func(m map[string]any) { m["room_sid"] = nil },
	} {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		mut(m)
		if err := validate(p, m, "$"); err == nil {
			t.Errorf("%s: accepted %v", name, m)
		}
	}
}

func TestControlHealthAndAuth(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{})
	anon := &ctl{t: t, base: srv.URL()}
	if m := anon.do("GET", "/_videotest/health", nil, 200); m["status"] != "ok" {
		t.Fatalf("health = %v", m)
	}
	for _, c := range []struct {
		name, user, pass, msg string
	}{
		{"none", "", "", "Authentication Error - No credentials provided"},
		{"unknown user", "AC0123", "x", "Authentication Error - invalid username"},
		{"wrong token", srv.AccountSID(), "wrong", "Authenticate"},
	} {
		cl := &ctl{t: t, base: srv.URL(), user: c.user, pass: c.pass}
		if m := cl.do("GET", "/_videotest/stats", nil, 401); m["code"] != 20003.0 || m["message"] != c.msg {
			t.Errorf("%s: %v, want 20003 %q", c.name, m, c.msg)
		}
	}
	key, secret := srv.APIKey()
	k := &ctl{t: t, base: srv.URL(), user: key, pass: secret}
	k.do("GET", "/_videotest/stats", nil, 200)
	if st := srv.Stats(); st.TotalRequests != 0 || st.Unauthorized != 0 {
		t.Fatalf("control requests counted in stats: %+v", st)
	}
}

// TestControlParticipants drives a room through the control API only and
// checks each step against the server's own state and the REST surface.
func TestControlParticipants(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{ConcurrentParticipants: 3})
	c := newCtl(t, srv)
	room, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("demo"))
	if err != nil {
		t.Fatal(err)
	}
	var sids []string
	for _, id := range []string{"alice", "bob", "carol"} {
		m := c.do("POST", "/_videotest/rooms/demo/participants", map[string]string{"identity": id}, 201)
		if m["identity"] != id || m["status"] != "connected" || m["room_sid"] != *room.Sid || m["room_name"] != "demo" {
			t.Fatalf("connect %s = %v", id, m)
		}
		sids = append(sids, m["sid"].(string))
	}
	if m := c.do("POST", "/_videotest/rooms/demo/participants", map[string]string{"identity": "dave"}, 400); m["code"] != 53206.0 {
		t.Fatalf("fourth join = %v, want 53206", m)
	}
	if m := c.do("POST", "/_videotest/rooms/nope/participants", map[string]string{"identity": "x"}, 400); m["code"] != 53103.0 {
		t.Fatalf("unknown room = %v, want 53103", m)
	}
	if m := c.do("POST", "/_videotest/rooms/demo/participants", map[string]any{"identity": "x", "colour": "red"}, 400); m["code"] != 20001.0 ||
		!strings.Contains(m["message"].(string), "colour") {
		t.Fatalf("unknown field = %v", m)
	}

	// Tracks: publish, disable, unpublish; the REST surface sees each step.
	tr := c.do("POST", "/_videotest/rooms/demo/participants/alice/tracks", map[string]string{"kind": "video", "name": "cam"}, 201)
	if tr["kind"] != "video" || tr["enabled"] != true || tr["participant_sid"] != sids[0] {
		t.Fatalf("publish = %v", tr)
	}
	tsid := tr["sid"].(string)
	if m := c.do("POST", "/_videotest/rooms/demo/participants/alice/tracks/"+tsid, map[string]bool{"enabled": false}, 200); m["enabled"] != false {
		t.Fatalf("disable = %v", m)
	}
	pt, err := video.FetchRoomParticipantPublishedTrack(*room.Sid, sids[0], tsid)
	if err != nil || pt.Enabled == nil || *pt.Enabled {
		t.Fatalf("REST track after disable = %+v, %v", pt, err)
	}
	c.do("DELETE", "/_videotest/rooms/demo/participants/alice/tracks/"+tsid, nil, 204)
	if m := c.do("DELETE", "/_videotest/rooms/demo/participants/alice/tracks/"+tsid, nil, 404); m["code"] != 20404.0 {
		t.Fatalf("second unpublish = %v", m)
	}

	// Reconnecting keeps the quota slot; reconnected returns to connected.
	if m := c.do("POST", "/_videotest/rooms/demo/participants/bob/reconnecting", nil, 200); m["status"] != "reconnecting" {
		t.Fatalf("reconnecting = %v", m)
	}
	p, err := video.FetchRoomParticipant(*room.Sid, sids[1])
	if err != nil || *p.Status != "reconnecting" {
		t.Fatalf("REST participant = %v, %v", p.Status, err)
	}
	if m := c.do("POST", "/_videotest/rooms/demo/participants", map[string]string{"identity": "dave"}, 400); m["code"] != 53206.0 {
		t.Fatalf("join while bob reconnects = %v, want 53206 (bob still counts)", m)
	}
	if m := c.do("POST", "/_videotest/rooms/demo/participants/bob/reconnected", nil, 200); m["status"] != "connected" {
		t.Fatalf("reconnected = %v", m)
	}

	// Disconnect by SID frees a slot.
	if m := c.do("DELETE", "/_videotest/rooms/"+*room.Sid+"/participants/"+sids[2], nil, 200); m["status"] != "disconnected" || m["identity"] != "carol" {
		t.Fatalf("disconnect = %v", m)
	}
	if m := c.do("DELETE", "/_videotest/rooms/demo/participants/carol", nil, 404); m["code"] != 53204.0 {
		t.Fatalf("second disconnect = %v", m)
	}
	if st := srv.Stats(); st.ParticipantsNow != 2 {
		t.Fatalf("ParticipantsNow = %d, want 2", st.ParticipantsNow)
	}
	if m := c.do("POST", "/_videotest/rooms/demo/complete", nil, 200); m["status"] != "completed" || m["sid"] != *room.Sid {
		t.Fatalf("complete = %v", m)
	}
	if m := c.do("POST", "/_videotest/rooms/"+*room.Sid+"/complete", nil, 400); m["code"] != 53112.0 {
		t.Fatalf("second complete = %v", m)
	}
	if st := srv.Stats(); st.ParticipantsNow != 0 || st.RoomsNow != 0 {
		t.Fatalf("after complete: %+v", st)
	}
	c.do("GET", "/_videotest/rooms/demo/participants", nil, 405)
}

// TestControlAccessToken joins with a token minted by twilio-go's jwt
// package, as any helper library mints them, and rejects a bad one.
func TestControlAccessToken(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{})
	c := newCtl(t, srv)
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("r")); err != nil {
		t.Fatal(err)
	}
	key, secret := srv.APIKey()
	mint := func(secret string) string {
		at := jwt.CreateAccessToken(jwt.AccessTokenParams{AccountSid: srv.AccountSID(), SigningKeySid: key,
			Secret: secret, Identity: "erin", Ttl: 3600, Nbf: float64(srv.Now().Unix()), ValidUntil: float64(srv.Now().Add(time.Hour).Unix())})
		at.AddGrant(&jwt.VideoGrant{Room: "r"})
		tok, err := at.ToJwt()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if m := c.do("POST", "/_videotest/rooms/r/participants", map[string]string{"access_token": mint(secret)}, 201); m["identity"] != "erin" {
		t.Fatalf("token join = %v", m)
	}
	if m := c.do("POST", "/_videotest/rooms/r/participants", map[string]string{"access_token": mint("wrong")}, 401); m["code"] != 20107.0 {
		t.Fatalf("bad signature = %v", m)
	}
}

func TestControlClockFaultsLogsReset(t *testing.T) {
	srv, video, _, fc := newTest(t, videotest.Options{})
	c := newCtl(t, srv)
	if m := c.do("GET", "/_videotest/clock", nil, 200); m["fake"] != true || m["now"] != epoch.Format(time.RFC3339Nano) {
		t.Fatalf("clock = %v", m)
	}
	// A REST room with a 1-minute unused timeout ends when the clock advances 60 s.
	room, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("t").SetUnusedRoomTimeout(1))
	if err != nil {
		t.Fatal(err)
	}
	c.do("POST", "/_videotest/clock/advance", map[string]float64{"seconds": 59}, 200)
	if srv.Stats().RoomsNow != 1 {
		t.Fatal("room ended early")
	}
	if m := c.do("POST", "/_videotest/clock/advance", map[string]float64{"seconds": 1}, 200); m["now"] != epoch.Add(time.Minute).Format(time.RFC3339Nano) {
		t.Fatalf("clock after = %v", m)
	}
	if r, _ := video.FetchRoom(*room.Sid); *r.Status != "completed" {
		t.Fatalf("room status = %s after its unused timeout", *r.Status)
	}
	if m := c.do("POST", "/_videotest/clock/advance", map[string]float64{"seconds": -1}, 400); m["code"] != 20001.0 {
		t.Fatalf("negative advance = %v", m)
	}
	_ = fc

	// Faults: two forced 429s, then clear; the log shows them throttled.
	f := c.do("PUT", "/_videotest/faults", map[string]any{"force_429": 2, "match_method": "get", "match_path_prefix": "/v1/Rooms"}, 200)
	if f["force_429"] != 2.0 || f["match_method"] != "GET" {
		t.Fatalf("faults = %v", f)
	}
	// Twilio's style of message, naming the field, without Go's package prefix.
	if m := c.do("PUT", "/_videotest/faults", map[string]any{"rate_500": 2}, 400); !strings.HasPrefix(m["message"].(string), "Invalid rate_500 ") {
		t.Fatalf("bad fault = %v, want a message starting \"Invalid rate_500 \"", m)
	}
	for i := 0; i < 2; i++ {
		if _, err := video.FetchRoom(*room.Sid); err == nil {
			t.Fatal("forced 429 not sent")
		}
	}
	if _, err := video.FetchRoom(*room.Sid); err != nil {
		t.Fatal(err)
	}
	c.do("DELETE", "/_videotest/faults", nil, 204)
	if m := c.do("GET", "/_videotest/faults", nil, 200); m["force_429"] != 0.0 || m["match_method"] != "" {
		t.Fatalf("cleared faults = %v", m)
	}
	log := c.do("GET", "/_videotest/requests?limit=3", nil, 200)["requests"].([]any)
	if len(log) != 3 {
		t.Fatalf("log = %v", log)
	}
	for i, want := range []struct {
		status    float64
		code      float64
		throttled bool
	}{{429, 20429, true}, {429, 20429, true}, {200, 0, false}} {
		e := log[i].(map[string]any)
		if e["status"] != want.status || e["code"] != want.code || e["throttled"] != want.throttled ||
			e["method"] != "GET" || e["path"] != "/v1/Rooms/"+*room.Sid || e["class"] != "uncharged" && want.status == 200 && e["class"] != "read" {
			t.Fatalf("log[%d] = %v, want %+v", i, e, want)
		}
	}
	if e := log[2].(map[string]any); e["class"] != "read" {
		t.Fatalf("log[2] class = %v, want read", e["class"])
	}
	if m := c.do("GET", "/_videotest/requests?limit=0", nil, 400); m["code"] != 20001.0 {
		t.Fatalf("limit=0 = %v", m)
	}
	st := c.do("GET", "/_videotest/stats", nil, 200)
	if st["rooms_created"] != 1.0 || st["faulted"] != 2.0 || st["requests_by_status"].(map[string]any)["429"] != 2.0 {
		t.Fatalf("stats = %v", st)
	}

	c.do("POST", "/_videotest/reset", nil, 204)
	if st := srv.Stats(); st.RoomsCreated != 0 || st.TotalRequests != 0 || len(srv.Requests(0)) != 0 {
		t.Fatalf("after reset: %+v", st)
	}
	if _, err := video.FetchRoom(*room.Sid); err == nil {
		t.Fatal("room survived reset")
	}
	// Names are free again after a reset.
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("t")); err != nil {
		t.Fatal(err)
	}
}

func TestControlRealClockCannotAdvance(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{})
	t.Cleanup(srv.Close)
	c := newCtl(t, srv)
	if m := c.do("GET", "/_videotest/clock", nil, 200); m["fake"] != false {
		t.Fatalf("clock = %v", m)
	}
	if m := c.do("POST", "/_videotest/clock/advance", map[string]float64{"seconds": 1}, 400); !strings.Contains(m["message"].(string), "fake clock") {
		t.Fatalf("advance = %v", m)
	}
}

// TestControlCallbacks reads delivered callbacks through the control API,
// with the signature the receiver verified.
func TestControlCallbacks(t *testing.T) {
	var mu sync.Mutex
	var got []url.Values
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		got = append(got, r.PostForm)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	srv, video, _, _ := newTest(t, videotest.Options{})
	c := newCtl(t, srv)
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("cb").SetStatusCallback(hook.URL + "/status")); err != nil {
		t.Fatal(err)
	}
	c.do("POST", "/_videotest/rooms/cb/participants", map[string]string{"identity": "a"}, 201)
	if m := c.do("POST", "/_videotest/callbacks/flush", map[string]float64{"timeout_seconds": 5}, 200); m["flushed"] != true || m["pending"] != 0.0 {
		t.Fatalf("flush = %v", m)
	}
	cbs := c.do("GET", "/_videotest/callbacks", nil, 200)["callbacks"].([]any)
	var events []string
	for _, x := range cbs {
		e := x.(map[string]any)
		if e["delivered"] != true || e["status_code"] != 200.0 || e["url"] != hook.URL+"/status" || e["attempt"] != 1.0 {
			t.Fatalf("callback record = %v", e)
		}
		events = append(events, e["event"].(string))
	}
	slices.Sort(events)
	if !slices.Equal(events, []string{"participant-connected", "room-created"}) {
		t.Fatalf("events = %v", events)
	}
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 2 {
		t.Fatalf("receiver got %d callbacks, log shows 2", n)
	}
}

// TestControlSink: callbacks pointed at the sink are delivered when signed;
// a forged one is refused.
func TestControlSink(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{})
	c := newCtl(t, srv)
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("s").SetStatusCallback(srv.URL() + "/_videotest/sink/post")); err != nil {
		t.Fatal(err)
	}
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("g").SetStatusCallbackMethod("GET").
		SetStatusCallback(srv.URL() + "/_videotest/sink/get?x=1")); err != nil {
		t.Fatal(err)
	}
	c.do("POST", "/_videotest/callbacks/flush", nil, 200)
	cbs := c.do("GET", "/_videotest/callbacks", nil, 200)["callbacks"].([]any)
	if len(cbs) != 2 {
		t.Fatalf("callbacks = %v", cbs)
	}
	for _, x := range cbs {
		if e := x.(map[string]any); e["delivered"] != true || e["status_code"] != 204.0 {
			t.Fatalf("sink delivery = %v", e)
		}
	}
	anon := &ctl{t: t, base: srv.URL()}
	if m := anon.do("POST", "/_videotest/sink/post", nil, 401); m["code"] != 20003.0 {
		t.Fatalf("unsigned = %v", m)
	}
	req, _ := http.NewRequest("POST", srv.URL()+"/_videotest/sink/post", strings.NewReader("RoomSid=RM1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", videotest.Signature(srv.AuthToken(), srv.URL()+"/_videotest/sink/post", url.Values{"RoomSid": {"RM2"}}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("tampered body = %d, want 401", resp.StatusCode)
	}
}
