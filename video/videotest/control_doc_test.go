package videotest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

// TestControlDocumentTakesWhatTheEmulatorTakes sends requests the emulator
// accepts and checks each against the document's request bodies, as a
// validating proxy in front of the emulator would: a partial faults body,
// an empty one, and a signed callback form to the sink.
func TestControlDocumentTakesWhatTheEmulatorTakes(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{})
	c := newCtl(t, srv)
	for _, body := range []map[string]any{
		{"latency_ms": 5},
		{"callback_drop_rate": 0.5, "match_path_prefix": "/v1/Rooms"},
		{},
	} {
		c.do("PUT", "/_videotest/faults", body, 200) // do checks the request against the document
	}

	form := url.Values{"RoomSid": {"RM00000000000000000000000000000001"}, "StatusCallbackEvent": {"room-created"}}
	u := srv.URL() + "/_videotest/sink/doc"
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", videotest.Signature(srv.AuthToken(), u, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("signed form to the sink = %d, want 204", resp.StatusCode)
	}
	body := map[string]any{}
	for k := range form {
		body[k] = form.Get(k)
	}
	checkRequest(t, "POST", "/_videotest/sink/doc", "application/x-www-form-urlencoded", body)
	op := operation(t, "POST", "/_videotest/sink/doc")
	var header bool
	for _, p := range op["parameters"].([]any) {
		if m := p.(map[string]any); m["in"] == "header" && m["name"] == "X-Twilio-Signature" {
			header = true
		}
	}
	if !header {
		t.Error("the document does not declare the sink's X-Twilio-Signature header")
	}
}

// TestRequestCheckCatchesMismatch keeps checkRequest honest: the mismatches
// the document once had are caught.
func TestRequestCheckCatchesMismatch(t *testing.T) {
	allRequired := map[string]any{"requestBody": map[string]any{"content": map[string]any{
		"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Faults"}}}}}
	if err := requestError(allRequired, "application/json", map[string]any{"latency_ms": 5.0}); err == nil {
		t.Error("a partial body passed a schema that requires every field")
	}
	if err := requestError(map[string]any{}, "application/x-www-form-urlencoded", map[string]any{"RoomSid": "RM1"}); err == nil {
		t.Error("a form body passed an operation that declares none")
	}
	json := operation(t, "PUT", "/_videotest/faults")
	if err := requestError(json, "application/json", map[string]any{"rate_500": 2.0}); err == nil {
		t.Error("rate_500 = 2 passed the faults body schema (maximum 1)")
	}
	if err := requestError(json, "application/json", map[string]any{"nope": 1.0}); err == nil {
		t.Error("an unknown field passed the faults body schema")
	}
}

// TestControlDocumentRequiredFieldsAreRequired checks the document's
// required lists against the handlers: a body the document calls complete
// is taken, and the same body without any one required field is refused.
// A field the emulator does without must not be marked required (a
// validating proxy would refuse what works), and the reverse.
func TestControlDocumentRequiredFieldsAreRequired(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{})
	c := newCtl(t, srv)
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("req")); err != nil {
		t.Fatal(err)
	}
	c.do("POST", "/_videotest/rooms/req/participants", map[string]any{"identity": "alice"}, 201)
	track := c.do("POST", "/_videotest/rooms/req/participants/alice/tracks", map[string]any{"kind": "audio", "name": "mic"}, 201)
	for _, tc := range []struct {
		path string
		body map[string]any
		want int
	}{
		{"/_videotest/rooms/req/participants/alice/tracks", map[string]any{"kind": "video", "name": "cam"}, 201},
		{"/_videotest/rooms/req/participants/alice/tracks/" + track["sid"].(string), map[string]any{"enabled": false}, 200},
		{"/_videotest/clock/advance", map[string]any{"seconds": 1}, 200},
	} {
		op := operation(t, "POST", tc.path)
		schema := op["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
		if ref, ok := schema["$ref"].(string); ok {
			schema = spec()["components"].(map[string]any)["schemas"].(map[string]any)[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		}
		required := asSlice(schema["required"])
		if len(required) == 0 {
			t.Errorf("POST %s: the document marks no field required", tc.path)
		}
		for _, r := range required {
			partial := map[string]any{}
			for k, v := range tc.body {
				if k != r {
					partial[k] = v
				}
			}
			if status := post(t, srv, tc.path, partial); status < 300 {
				t.Errorf("POST %s without %s = %d: the emulator does without a field the document requires", tc.path, r, status)
			}
		}
		c.do("POST", tc.path, tc.body, tc.want)
	}
}

// post sends body as JSON with the control API's auth and returns the status.
func post(t *testing.T, srv *videotest.Server, path string, body map[string]any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", srv.URL()+path, bytes.NewReader(b))
	req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
