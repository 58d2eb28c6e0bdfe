package videotest_test

import (
	"errors"
	"strings"
	"testing"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

// TestRecordingRulesDecideWhatIsRecorded checks include/exclude rules by
// kind, publisher and track name.
func TestRecordingRulesDecideWhatIsRecorded(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{})
	r := must(v.CreateRoom(&openapi.CreateRoomParams{RecordingRules: anyp(map[string]interface{}{"rules": []map[string]interface{}{
		{"type": "include", "kind": "audio"},
		{"type": "include", "publisher": "alice"},
		{"type": "exclude", "track": "screen"},
	}})}))
	rs := *r.Sid
	must(srv.Connect(rs, "alice"))
	must(srv.Connect(rs, "bob"))
	recorded := map[string]bool{}
	for _, tc := range []struct{ who, kind, name string }{
		{"alice", "video", "cam"},    // publisher alice
		{"alice", "video", "screen"}, // excluded by track name
		{"bob", "audio", "mic"},      // kind audio
		{"bob", "video", "cam2"},     // nothing includes it
	} {
		mt := must(srv.PublishTrack(rs, tc.who, tc.kind, tc.name))
		recs := must(v.ListRoomRecording(rs, &openapi.ListRoomRecordingParams{SourceSid: ptr(mt)}))
		recorded[tc.who+"/"+tc.name] = len(recs) == 1
	}
	want := map[string]bool{"alice/cam": true, "alice/screen": false, "bob/mic": true, "bob/cam2": false}
	for k, w := range want {
		if recorded[k] != w {
			t.Fatalf("%s recorded = %v, want %v (all: %v)", k, recorded[k], w, recorded)
		}
	}
	// Excluding everything stops new recordings.
	must(v.UpdateRoomRecordingRule(rs, &openapi.UpdateRoomRecordingRuleParams{
		Rules: anyp(map[string]interface{}{"rules": []map[string]interface{}{{"type": "exclude", "all": true}}})}))
	mt := must(srv.PublishTrack(rs, "alice", "audio", "mic2"))
	if recs := must(v.ListRoomRecording(rs, &openapi.ListRoomRecordingParams{SourceSid: ptr(mt)})); len(recs) != 0 {
		t.Fatal("recorded despite exclude all")
	}
	// Rules that match nothing are rejected.
	_, err := v.UpdateRoomRecordingRule(rs, &openapi.UpdateRoomRecordingRuleParams{
		Rules: anyp([]map[string]interface{}{{"type": "include"}})})
	restErr(t, err, 20001, 400)
	// CompleteRoom ends it without HTTP; a second time is 53112.
	if err := srv.CompleteRoom(rs); err != nil {
		t.Fatal(err)
	}
	wantCode(t, srv.CompleteRoom(rs), 53112)
	wantCode(t, srv.CompleteRoom("nope"), 53106)
	// Rules cannot change on a completed room.
	_, err = v.UpdateRoomRecordingRule(rs, &openapi.UpdateRoomRecordingRuleParams{
		Rules: anyp([]map[string]interface{}{{"type": "include", "all": true}})})
	restErr(t, err, 53112, 400)
}

func TestErrorValue(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{})
	_, err := srv.Connect("missing", "a")
	var e *videotest.Error
	if !errors.As(err, &e) || !strings.Contains(e.Error(), "53103") || e.Status() != 400 {
		t.Fatalf("err = %v", err)
	}
	if videotest.HTTPStatus(20404) != 404 || videotest.HTTPStatus(20429) != 429 || videotest.HTTPStatus(99999) != 400 {
		t.Fatal("HTTPStatus table")
	}
}
