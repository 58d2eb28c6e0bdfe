package videotest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/client/jwt"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

// raw sends a request straight to the emulator and returns the status and
// decoded Twilio error body (zero if the body is not an error).
func raw(t *testing.T, srv *videotest.Server, method, path, contentType string, body io.Reader, auth bool) (int, http.Header, client.TwilioRestError) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var te client.TwilioRestError
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &te)
	return resp.StatusCode, resp.Header, te
}

func form(v url.Values) io.Reader { return strings.NewReader(v.Encode()) }

const formCT = "application/x-www-form-urlencoded"

func TestHTTPErrors(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{})
	room := must(v.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("taken")}))
	big := strings.NewReader("UniqueName=" + strings.Repeat("a", videotest.MaxBodyBytes+10))
	cases := []struct {
		name         string
		method, path string
		body         io.Reader
		noAuth       bool
		code, status int
	}{
		{"no auth", "GET", "/v1/Rooms", nil, true, 20003, 401},
		{"unknown path", "GET", "/v1/Nope", nil, false, 20404, 404},
		{"not v1", "GET", "/v2/Rooms", nil, false, 20404, 404},
		{"trailing slash", "GET", "/v1/Rooms/", nil, false, 20404, 404},
		{"unknown room", "GET", "/v1/Rooms/RM00000000000000000000000000000000", nil, false, 20404, 404},
		{"bad participant sid", "GET", "/v1/Rooms/" + *room.Sid + "/Participants/PAxyz", nil, false, 20404, 404},
		{"bad recording sid", "GET", "/v1/Recordings/nope", nil, false, 20404, 404},
		{"method", "DELETE", "/v1/Rooms", nil, false, 20004, 405},
		{"method put", "PUT", "/v1/Rooms/" + *room.Sid, nil, false, 20004, 405},
		{"missing status", "POST", "/v1/Rooms/" + *room.Sid, form(url.Values{}), false, 20001, 400},
		{"bad status", "POST", "/v1/Rooms/" + *room.Sid, form(url.Values{"Status": {"paused"}}), false, 20001, 400},
		{"in-progress status", "POST", "/v1/Rooms/" + *room.Sid, form(url.Values{"Status": {"in-progress"}}), false, 53112, 400},
		{"bad type", "POST", "/v1/Rooms", form(url.Values{"Type": {"huge"}}), false, 20001, 400},
		{"duplicate name", "POST", "/v1/Rooms", form(url.Values{"UniqueName": {"taken"}}), false, 53113, 400},
		{"name too long", "POST", "/v1/Rooms", form(url.Values{"UniqueName": {strings.Repeat("n", 129)}}), false, 53101, 400},
		{"max participants group", "POST", "/v1/Rooms", form(url.Values{"MaxParticipants": {"51"}}), false, 53107, 400},
		{"max participants go", "POST", "/v1/Rooms", form(url.Values{"Type": {"go"}, "MaxParticipants": {"3"}}), false, 53107, 400},
		{"max participants zero", "POST", "/v1/Rooms", form(url.Values{"MaxParticipants": {"0"}}), false, 53107, 400},
		{"max participants nan", "POST", "/v1/Rooms", form(url.Values{"MaxParticipants": {"x"}}), false, 20001, 400},
		{"participant duration", "POST", "/v1/Rooms", form(url.Values{"MaxParticipantDuration": {"599"}}), false, 53123, 400},
		{"participant duration high", "POST", "/v1/Rooms", form(url.Values{"MaxParticipantDuration": {"86401"}}), false, 53123, 400},
		{"callback method", "POST", "/v1/Rooms", form(url.Values{"StatusCallbackMethod": {"PUT"}}), false, 53110, 400},
		{"callback url", "POST", "/v1/Rooms", form(url.Values{"StatusCallback": {"ftp://x"}}), false, 53111, 400},
		{"empty timeout", "POST", "/v1/Rooms", form(url.Values{"EmptyRoomTimeout": {"61"}}), false, 20001, 400},
		{"codec", "POST", "/v1/Rooms", form(url.Values{"VideoCodecs": {"VP8", "AV1"}}), false, 20001, 400},
		{"bool", "POST", "/v1/Rooms", form(url.Values{"AudioOnly": {"yes"}}), false, 20001, 400},
		{"rules json", "POST", "/v1/Rooms", form(url.Values{"RecordingRules": {"{"}}), false, 20001, 400},
		{"rules type", "POST", "/v1/Rooms", form(url.Values{"RecordingRules": {`{"rules":[{"type":"maybe","all":true}]}`}}), false, 20001, 400},
		{"page size", "GET", "/v1/Rooms?PageSize=1001", nil, false, 20001, 400},
		{"page size zero", "GET", "/v1/Rooms?PageSize=0", nil, false, 20001, 400},
		{"page token", "GET", "/v1/Rooms?PageToken=zz", nil, false, 20001, 400},
		{"list status", "GET", "/v1/Rooms?Status=open", nil, false, 20001, 400},
		{"list date", "GET", "/v1/Rooms?DateCreatedAfter=yesterday", nil, false, 20001, 400},
		{"alert level", "GET", "/v1/Alerts?LogLevel=loud", nil, false, 20001, 400},
		{"malformed form", "POST", "/v1/Rooms", strings.NewReader("UniqueName=%zz"), false, 20001, 400},
		{"body too large", "POST", "/v1/Rooms", big, false, 20413, 413},
		{"chunked body too large", "POST", "/v1/Rooms", io.MultiReader(strings.NewReader("UniqueName="),
			strings.NewReader(strings.Repeat("b", videotest.MaxBodyBytes+10))), false, 20413, 413},
		{"composition room", "POST", "/v1/Compositions", form(url.Values{"RoomSid": {"bad"}, "AudioSources": {"*"}}), false, 20001, 400},
		{"composition missing", "POST", "/v1/Compositions", form(url.Values{}), false, 20001, 400},
		{"composition in progress", "POST", "/v1/Compositions", form(url.Values{"RoomSid": {*room.Sid}, "AudioSources": {"*"}}), false, 53112, 400},
		{"hook name", "POST", "/v1/CompositionHooks", form(url.Values{"AudioSources": {"*"}}), false, 20001, 400},
		{"settings name", "POST", "/v1/RecordingSettings/Default", form(url.Values{}), false, 20001, 400},
		{"participant status", "POST", "/v1/Rooms/" + *room.Sid + "/Participants/alice", form(url.Values{"Status": {"connected"}}), false, 20001, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := ""
			if c.body != nil {
				ct = formCT
			}
			status, h, te := raw(t, srv, c.method, c.path, ct, c.body, !c.noAuth)
			if status != c.status || te.Code != c.code || te.Status != c.status {
				t.Fatalf("got HTTP %d body code %d status %d (%q), want %d/%d", status, te.Code, te.Status, te.Message, c.code, c.status)
			}
			if te.MoreInfo != "https://www.twilio.com/docs/errors/"+strconv.Itoa(c.code) {
				t.Fatalf("more_info = %q", te.MoreInfo)
			}
			if rq := h.Get("Twilio-Request-Id"); len(rq) != 34 || !strings.HasPrefix(rq, "RQ") {
				t.Fatalf("Twilio-Request-Id = %q", rq)
			}
			if h.Get("Twilio-Concurrent-Requests") == "" {
				t.Fatal("no Twilio-Concurrent-Requests header")
			}
		})
	}
	// State was not changed by the rejected creates.
	if st := srv.Stats(); st.RoomsNow != 1 {
		t.Fatalf("RoomsNow = %d after rejected creates, want 1", st.RoomsNow)
	}
}

func TestBadCredentials(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{})
	for _, cred := range [][2]string{
		{srv.AccountSID(), "wrong"},
		{"AC00000000000000000000000000000000", srv.AuthToken()},
	} {
		c := &client.Client{Credentials: client.NewCredentials(cred[0], cred[1]), HTTPClient: srv.HTTPClient()}
		c.SetAccountSid(cred[0])
		_, err := openapi.NewApiServiceWithClient(c).FetchRoom("x")
		restErr(t, err, 20003, 401)
	}
	// The API key is accepted for Basic auth.
	sid, secret := srv.APIKey()
	if !strings.HasPrefix(sid, "SK") || len(sid) != 34 {
		t.Fatalf("API key SID = %q", sid)
	}
	c := &client.Client{Credentials: client.NewCredentials(sid, secret), HTTPClient: srv.HTTPClient()}
	c.SetAccountSid(srv.AccountSID())
	if _, err := openapi.NewApiServiceWithClient(c).ListRoom(nil); err != nil {
		t.Fatalf("API key auth: %v", err)
	}
	if st := srv.Stats(); st.Unauthorized != 2 || st.Requests[401] != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	var e *videotest.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("err = %v, want *videotest.Error %d", err, code)
	}
}

func TestConnectErrors(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{ConcurrentParticipants: 3})
	small := must(v.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("small"), Type: ptr("go")}))
	_, err := srv.Connect("nowhere", "a")
	wantCode(t, err, 53103)
	_, err = srv.Connect("RM00000000000000000000000000000000", "a")
	wantCode(t, err, 53106)
	_, err = srv.Connect("small", "")
	wantCode(t, err, 53200)
	_, err = srv.Connect("small", strings.Repeat("i", 129))
	wantCode(t, err, 53201)
	must(srv.Connect("small", "a"))
	must(srv.Connect("small", "b"))
	_, err = srv.Connect("small", "c")
	wantCode(t, err, 53105)
	// Duplicate identity into a full room replaces, not grows.
	must(srv.Connect("small", "b"))
	other := must(v.CreateRoom(&openapi.CreateRoomParams{}))
	must(srv.Connect(*other.Sid, "c"))
	_, err = srv.Connect(*other.Sid, "d")
	wantCode(t, err, 53206)
	var e *videotest.Error
	errors.As(err, &e)
	if e.Status() != 400 || !strings.Contains(e.MoreInfo(), "53206") {
		t.Fatalf("53206 status %d more info %q", e.Status(), e.MoreInfo())
	}
	err = srv.Disconnect("small", "zed")
	wantCode(t, err, 53204)
	err = srv.Disconnect("RM00000000000000000000000000000000", "a")
	wantCode(t, err, 53106)
	must(v.UpdateRoom(*small.Sid, &openapi.UpdateRoomParams{Status: ptr("completed")}))
	_, err = srv.Connect(*small.Sid, "a")
	wantCode(t, err, 53118)
	if st := srv.Stats(); st.ParticipantsNow != 1 || st.ParticipantsPeak != 3 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestConnectWithToken(t *testing.T) {
	fc := videotest.NewFakeClock(time.Now().Truncate(time.Second))
	srv, v, _, _ := newTest(t, videotest.Options{Clock: fc})
	must(v.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("r1")}))
	keySID, secret := srv.APIKey()
	mint := func(p jwt.AccessTokenParams, room string) string {
		p.AccountSid, p.SigningKeySid = srv.AccountSID(), keySID
		if p.Secret == "" {
			p.Secret = secret
		}
		tok := jwt.CreateAccessToken(p)
		tok.AddGrant(&jwt.VideoGrant{Room: room})
		s, err := tok.ToJwt()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	psid, err := srv.ConnectWithToken(mint(jwt.AccessTokenParams{Identity: "alice"}, "r1"), "r1")
	if err != nil || !strings.HasPrefix(psid, "PA") {
		t.Fatalf("ConnectWithToken = %q, %v", psid, err)
	}
	if _, err := srv.ConnectWithToken(mint(jwt.AccessTokenParams{Identity: "bob"}, ""), "r1"); err != nil {
		t.Fatalf("token without room grant: %v", err)
	}
	_, err = srv.ConnectWithToken(mint(jwt.AccessTokenParams{Identity: "eve"}, "other"), "r1")
	wantCode(t, err, 20101)
	_, err = srv.ConnectWithToken(mint(jwt.AccessTokenParams{Identity: "eve", Secret: "wrongsecret"}, "r1"), "r1")
	wantCode(t, err, 20107)
	_, err = srv.ConnectWithToken("not.a.jwt", "r1")
	wantCode(t, err, 20101)
	_, err = srv.ConnectWithToken(mint(jwt.AccessTokenParams{}, "r1"), "r1")
	wantCode(t, err, 20101)
	expiring := mint(jwt.AccessTokenParams{Identity: "carol"}, "r1") // Ttl raised to 1 h by twilio-go
	fc.Advance(time.Hour + time.Second)
	_, err = srv.ConnectWithToken(expiring, "r1")
	wantCode(t, err, 20104)
	long := mint(jwt.AccessTokenParams{Identity: "dave", Ttl: 25 * 3600}, "r1")
	_, err = srv.ConnectWithToken(long, "r1")
	wantCode(t, err, 20157)
	future := mint(jwt.AccessTokenParams{Identity: "dan", Nbf: float64(fc.Now().Add(time.Hour).Unix()),
		ValidUntil: float64(fc.Now().Add(2 * time.Hour).Unix())}, "r1")
	_, err = srv.ConnectWithToken(future, "r1")
	wantCode(t, err, 20105)
}
