package videotest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	monitor "github.com/twilio/twilio-go/rest/monitor/v1"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

// must returns v, panicking (which fails the test with a stack trace) on err.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func anyp(v interface{}) *interface{} { return &v }

// strict fetches path from the emulator directly and decodes it into model
// with unknown fields disallowed: every JSON field the emulator sends must
// exist in twilio-go's model.
func strict(t *testing.T, srv *videotest.Server, method, path string, form url.Values, model any) {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, srv.URL()+path, body)
	req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, buf.String())
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(model); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, buf.String())
	}
}

// TestEveryOperation drives every Video v1 ApiService operation and the
// Monitor Alerts operations through twilio-go v1.31.0 and checks the decoded
// responses.
func TestEveryOperation(t *testing.T) {
	srv, v, mon, fc := newTest(t, videotest.Options{ConcurrentRooms: 2})

	// Rooms.
	room := must(v.CreateRoom(&openapi.CreateRoomParams{
		UniqueName: ptr("all-ops"), Type: ptr("group"), MaxParticipants: ptr(10),
		RecordParticipantsOnConnect: ptr(true), VideoCodecs: &[]string{"VP8", "H264"}, MediaRegion: ptr("us1"),
		StatusCallback: ptr("http://127.0.0.1:1/cb"), StatusCallbackMethod: ptr("POST"),
		MaxParticipantDuration: ptr(3600), EmptyRoomTimeout: ptr(10), UnusedRoomTimeout: ptr(7),
		AudioOnly: ptr(false), LargeRoom: ptr(false), EnableTurn: ptr(true),
		TranscribeParticipantsOnConnect: ptr(false),
		TranscriptionsConfiguration:     &map[string]interface{}{"languageCode": "en-US"},
		RecordingRules:                  anyp(map[string]interface{}{"rules": []map[string]interface{}{{"type": "include", "all": true}}}),
	}))
	rs := *room.Sid
	if (*room.VideoCodecs)[1] != "H264" || *room.MediaRegion != "us1" || room.MaxParticipantDuration != 3600 ||
		room.EmptyRoomTimeout != 10 || room.UnusedRoomTimeout != 7 || *room.StatusCallback != "http://127.0.0.1:1/cb" ||
		!*room.RecordParticipantsOnConnect || *room.Url != "https://video.twilio.com/v1/Rooms/"+rs ||
		(*room.Links)["participants"] != "https://video.twilio.com/v1/Rooms/"+rs+"/Participants" {
		t.Fatalf("room = %+v", room)
	}
	must(v.FetchRoom(rs))
	must(v.CreateRoom(&openapi.CreateRoomParams{}))
	pg := must(v.PageRoom(&openapi.ListRoomParams{PageSize: ptr(1)}, "", ""))
	if len(pg.Rooms) != 1 || pg.Meta.NextPageUrl == nil || pg.Meta.Key != "rooms" || pg.Meta.PageSize != 1 {
		t.Fatalf("page = %+v", pg.Meta)
	}
	all := must(v.ListRoom(&openapi.ListRoomParams{PageSize: ptr(1)})) // follows next_page_url
	if len(all) != 2 {
		t.Fatalf("ListRoom = %d rooms, want 2", len(all))
	}
	ch, errs := v.StreamRoom(&openapi.ListRoomParams{UniqueName: ptr("all-ops")})
	n := 0
	for r := range ch {
		n++
		if *r.Sid != rs {
			t.Fatalf("stream got %s", *r.Sid)
		}
	}
	if err := <-errs; err != nil || n != 1 {
		t.Fatalf("stream: %d rooms, %v", n, err)
	}

	// Participants and tracks.
	alice := must(srv.Connect(rs, "alice"))
	bob := must(srv.Connect("all-ops", "bob"))
	mt := must(srv.PublishTrack(rs, "alice", "audio", "mic"))
	must(srv.PublishTrack(rs, bob, "data", "chat"))
	must(v.ListRoomParticipant(rs, &openapi.ListRoomParticipantParams{Status: ptr("connected"), Identity: ptr("alice"),
		DateCreatedAfter: ptr(epoch.Add(-time.Hour)), DateCreatedBefore: ptr(epoch.Add(time.Hour))}))
	p := must(v.FetchRoomParticipant(rs, alice))
	if *p.Identity != "alice" || (*p.Links)["published_tracks"] == nil {
		t.Fatalf("participant = %+v", p)
	}
	pubs := must(v.ListRoomParticipantPublishedTrack(rs, alice, &openapi.ListRoomParticipantPublishedTrackParams{}))
	if len(pubs) != 1 || *pubs[0].Sid != mt || *pubs[0].Kind != "audio" || *pubs[0].Name != "mic" {
		t.Fatalf("published = %+v", pubs)
	}
	pub := must(v.FetchRoomParticipantPublishedTrack(rs, alice, mt))
	if !*pub.Enabled || *pub.ParticipantSid != alice {
		t.Fatalf("published track = %+v", pub)
	}
	subs := must(v.ListRoomParticipantSubscribedTrack(rs, bob, &openapi.ListRoomParticipantSubscribedTrackParams{}))
	if len(subs) != 1 || *subs[0].Sid != mt || *subs[0].PublisherSid != alice || *subs[0].ParticipantSid != bob {
		t.Fatalf("subscribed = %+v", subs)
	}
	must(v.FetchRoomParticipantSubscribedTrack(rs, bob, mt))
	sr := must(v.FetchRoomParticipantSubscribeRule(rs, bob))
	if len(*sr.Rules) != 1 || !(*sr.Rules)[0].All || sr.DateCreated != nil {
		t.Fatalf("default subscribe rules = %+v", sr)
	}
	sr = must(v.UpdateRoomParticipantSubscribeRule(rs, bob, &openapi.UpdateRoomParticipantSubscribeRuleParams{
		Rules: anyp(map[string]interface{}{"rules": []map[string]interface{}{{"type": "exclude", "kind": "video"}, {"type": "include", "publisher": "alice", "priority": "high"}}})}))
	if len(*sr.Rules) != 2 || (*sr.Rules)[1].Publisher != "alice" || (*sr.Rules)[1].Priority != "high" || sr.DateUpdated == nil {
		t.Fatalf("subscribe rules = %+v", sr)
	}

	// Recording rules and room recordings (the audio track is recorded).
	rr := must(v.FetchRoomRecordingRule(rs))
	if len(*rr.Rules) != 1 || (*rr.Rules)[0].Type != "include" {
		t.Fatalf("recording rules = %+v", rr)
	}
	rr = must(v.UpdateRoomRecordingRule(rs, &openapi.UpdateRoomRecordingRuleParams{
		Rules: anyp(map[string]interface{}{"rules": []map[string]interface{}{{"type": "include", "kind": "audio"}}})}))
	if (*rr.Rules)[0].Kind != "audio" {
		t.Fatalf("recording rules = %+v", rr)
	}
	recs := must(v.ListRoomRecording(rs, &openapi.ListRoomRecordingParams{SourceSid: ptr(mt)}))
	if len(recs) != 1 || *recs[0].Status != "processing" || *recs[0].Codec != "OPUS" || *recs[0].ContainerFormat != "mka" {
		t.Fatalf("room recordings = %+v", recs)
	}
	rt := *recs[0].Sid
	must(v.FetchRoomRecording(rs, rt))
	must(v.ListRecording(&openapi.ListRecordingParams{GroupingSid: &[]string{rs}, MediaType: ptr("audio")}))

	// Transcriptions.
	tr := must(v.CreateRoomTranscriptions(rs, &openapi.CreateRoomTranscriptionsParams{
		Configuration: &map[string]interface{}{"languageCode": "en-US"}}))
	if *tr.Status != "started" || (*tr.Configuration)["languageCode"] != "en-US" {
		t.Fatalf("transcription = %+v", tr)
	}
	must(v.ListRoomTranscriptions(rs, &openapi.ListRoomTranscriptionsParams{}))
	tr = must(v.UpdateRoomTranscriptions(rs, *tr.Ttid, &openapi.UpdateRoomTranscriptionsParams{Status: ptr("stopped")}))
	if *tr.Status != "stopped" || tr.EndTime == nil {
		t.Fatalf("stopped transcription = %+v", tr)
	}
	must(v.FetchRoomTranscriptions(rs, *tr.Ttid))

	// Disconnect, anonymize, complete.
	fc.Advance(90 * time.Second)
	must(v.UpdateRoomParticipant(rs, bob, &openapi.UpdateRoomParticipantParams{Status: ptr("disconnected")}))
	an := must(v.UpdateRoomParticipantAnonymize(rs, bob))
	if *an.Identity != bob || *an.Status != "disconnected" || *an.Duration != 90 {
		t.Fatalf("anonymized = %+v", an)
	}
	must(v.UpdateRoom(rs, &openapi.UpdateRoomParams{Status: ptr("completed")}))
	rec := must(v.FetchRecording(rt))
	if *rec.Status != "completed" || *rec.Duration != 90 {
		t.Fatalf("recording = %+v", rec)
	}
	if err := v.DeleteRoomRecording(rs, rt); err != nil {
		t.Fatal(err)
	}
	if _, err := v.FetchRecording(rt); err == nil {
		t.Fatal("deleted recording still fetchable")
	}

	// A second recording through the account-level delete.
	room2 := must(v.CreateRoom(&openapi.CreateRoomParams{RecordParticipantsOnConnect: ptr(true)}))
	must(srv.Connect(*room2.Sid, "carol"))
	must(srv.PublishTrack(*room2.Sid, "carol", "video", "cam"))
	must(v.UpdateRoom(*room2.Sid, &openapi.UpdateRoomParams{Status: ptr("completed")}))
	recs2 := must(v.ListRecording(&openapi.ListRecordingParams{Status: ptr("completed")}))
	if len(recs2) != 1 || *recs2[0].Type != "video" {
		t.Fatalf("recordings = %+v", recs2)
	}
	if err := v.DeleteRecording(*recs2[0].Sid); err != nil {
		t.Fatal(err)
	}

	// Compositions.
	var layout interface{} = map[string]interface{}{"grid": map[string]interface{}{"video_sources": []string{"*"}}}
	comp := must(v.CreateComposition(&openapi.CreateCompositionParams{RoomSid: ptr(rs), VideoLayout: &layout,
		AudioSources: &[]string{"*"}, Format: ptr("mp4"), Resolution: ptr("1280x720"), Trim: ptr(false),
		StatusCallback: ptr("http://127.0.0.1:1/comp"), StatusCallbackMethod: ptr("GET")}))
	if *comp.RoomSid != rs || *comp.Format != "mp4" || *comp.Resolution != "1280x720" || *comp.Trim {
		t.Fatalf("composition = %+v", comp)
	}
	must(v.FetchComposition(*comp.Sid))
	if cs := must(v.ListComposition(&openapi.ListCompositionParams{RoomSid: ptr(rs)})); len(cs) != 1 {
		t.Fatalf("compositions = %d", len(cs))
	}
	if err := v.DeleteComposition(*comp.Sid); err != nil {
		t.Fatal(err)
	}

	// Composition hooks.
	hook := must(v.CreateCompositionHook(&openapi.CreateCompositionHookParams{FriendlyName: ptr("MyHook"),
		AudioSources: &[]string{"*"}, Enabled: ptr(false)}))
	if *hook.Enabled || *hook.FriendlyName != "MyHook" {
		t.Fatalf("hook = %+v", hook)
	}
	hook = must(v.UpdateCompositionHook(*hook.Sid, &openapi.UpdateCompositionHookParams{FriendlyName: ptr("MyHook2"),
		VideoLayout: &layout, Enabled: ptr(true)}))
	if !*hook.Enabled || hook.DateUpdated == nil {
		t.Fatalf("updated hook = %+v", hook)
	}
	must(v.FetchCompositionHook(*hook.Sid))
	if hs := must(v.ListCompositionHook(&openapi.ListCompositionHookParams{FriendlyName: ptr("myhook*"), Enabled: ptr(true)})); len(hs) != 1 {
		t.Fatalf("hooks = %d", len(hs))
	}
	if err := v.DeleteCompositionHook(*hook.Sid); err != nil {
		t.Fatal(err)
	}

	// Settings.
	cs := must(v.CreateCompositionSettings(&openapi.CreateCompositionSettingsParams{FriendlyName: ptr("comp"),
		AwsStorageEnabled: ptr(true), AwsS3Url: ptr("https://bucket.s3.amazonaws.com/x")}))
	if *cs.FriendlyName != "comp" || !*cs.AwsStorageEnabled {
		t.Fatalf("composition settings = %+v", cs)
	}
	must(v.FetchCompositionSettings())
	must(v.CreateRecordingSettings(&openapi.CreateRecordingSettingsParams{FriendlyName: ptr("rec"), EncryptionEnabled: ptr(false)}))
	if rs := must(v.FetchRecordingSettings()); *rs.FriendlyName != "rec" {
		t.Fatalf("recording settings = %+v", rs)
	}

	// Monitor: the room quota of 2 was reached (53121 at 70%), then exceeded.
	if _, err := v.CreateRoom(&openapi.CreateRoomParams{}); err != nil { // the second in progress
		t.Fatal(err)
	}
	_, err := v.CreateRoom(&openapi.CreateRoomParams{})
	restErr(t, err, 53119, 400)
	alerts := must(mon.ListAlert(&monitor.ListAlertParams{StartDate: ptr(epoch.Add(-time.Hour)), EndDate: ptr(epoch.Add(time.Hour))}))
	codes := map[string]string{}
	for _, a := range alerts {
		codes[*a.ErrorCode] = *a.LogLevel
	}
	if codes["53121"] != "warning" || codes["53119"] != "error" {
		t.Fatalf("alerts = %v", codes)
	}
	warn := must(mon.ListAlert(&monitor.ListAlertParams{LogLevel: ptr("warning")}))
	a := must(mon.FetchAlert(*warn[0].Sid))
	if *a.ErrorCode != "53121" || a.RequestVariables == nil || !strings.Contains(*a.RequestVariables, `"resource":"rooms"`) ||
		!strings.HasPrefix(*a.Url, "https://monitor.twilio.com/v1/Alerts/NO") {
		t.Fatalf("alert = %+v", a)
	}
}

// TestJSONMatchesTwilioGoModels decodes every resource shape with unknown
// fields disallowed into twilio-go's models.
func TestJSONMatchesTwilioGoModels(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{ConcurrentRooms: 1})
	room := must(v.CreateRoom(&openapi.CreateRoomParams{RecordParticipantsOnConnect: ptr(true)}))
	rs := *room.Sid
	pa := must(srv.Connect(rs, "a"))
	pb := must(srv.Connect(rs, "b"))
	mt := must(srv.PublishTrack(rs, pa, "audio", "mic"))
	tr := must(v.CreateRoomTranscriptions(rs, nil))
	pr := "/v1/Rooms/" + rs + "/Participants/"
	strict(t, srv, "GET", "/v1/Rooms/"+rs, nil, &openapi.VideoV1Room{})
	strict(t, srv, "GET", "/v1/Rooms", nil, &openapi.ListRoomResponse{})
	strict(t, srv, "GET", strings.TrimSuffix(pr, "/"), nil, &openapi.ListRoomParticipantResponse{})
	strict(t, srv, "GET", pr+pa, nil, &openapi.VideoV1RoomParticipant{})
	strict(t, srv, "GET", pr+pa+"/PublishedTracks", nil, &openapi.ListRoomParticipantPublishedTrackResponse{})
	strict(t, srv, "GET", pr+pa+"/PublishedTracks/"+mt, nil, &openapi.VideoV1RoomParticipantPublishedTrack{})
	strict(t, srv, "GET", pr+pb+"/SubscribedTracks", nil, &openapi.ListRoomParticipantSubscribedTrackResponse{})
	strict(t, srv, "GET", pr+pb+"/SubscribedTracks/"+mt, nil, &openapi.VideoV1RoomParticipantSubscribedTrack{})
	strict(t, srv, "GET", pr+pb+"/SubscribeRules", nil, &openapi.VideoV1RoomParticipantSubscribeRule{})
	strict(t, srv, "GET", "/v1/Rooms/"+rs+"/RecordingRules", nil, &openapi.VideoV1RoomRecordingRule{})
	strict(t, srv, "GET", "/v1/Rooms/"+rs+"/Recordings", nil, &openapi.ListRoomRecordingResponse{})
	strict(t, srv, "GET", "/v1/Recordings", nil, &openapi.ListRecordingResponse{})
	strict(t, srv, "GET", "/v1/Rooms/"+rs+"/Transcriptions", nil, &openapi.ListRoomTranscriptionsResponse{})
	strict(t, srv, "GET", "/v1/Rooms/"+rs+"/Transcriptions/"+*tr.Ttid, nil, &openapi.VideoV1RoomTranscriptions{})
	strict(t, srv, "POST", pr+pb, url.Values{"Status": {"disconnected"}}, &openapi.VideoV1RoomParticipant{})
	strict(t, srv, "POST", pr+pb+"/Anonymize", url.Values{}, &openapi.VideoV1RoomParticipantAnonymize{})
	strict(t, srv, "POST", "/v1/Rooms/"+rs, url.Values{"Status": {"completed"}}, &openapi.VideoV1Room{})
	recs := must(v.ListRecording(nil))
	strict(t, srv, "GET", "/v1/Recordings/"+*recs[0].Sid, nil, &openapi.VideoV1Recording{})
	strict(t, srv, "GET", "/v1/Rooms/"+rs+"/Recordings/"+*recs[0].Sid, nil, &openapi.VideoV1RoomRecording{})
	strict(t, srv, "POST", "/v1/Compositions", url.Values{"RoomSid": {rs}, "AudioSources": {"*"}}, &openapi.VideoV1Composition{})
	strict(t, srv, "GET", "/v1/Compositions", nil, &openapi.ListCompositionResponse{})
	strict(t, srv, "POST", "/v1/CompositionHooks", url.Values{"FriendlyName": {"h"}, "AudioSources": {"*"}}, &openapi.VideoV1CompositionHook{})
	strict(t, srv, "GET", "/v1/CompositionHooks", nil, &openapi.ListCompositionHookResponse{})
	strict(t, srv, "GET", "/v1/CompositionSettings/Default", nil, &openapi.VideoV1CompositionSettings{})
	strict(t, srv, "GET", "/v1/RecordingSettings/Default", nil, &openapi.VideoV1RecordingSettings{})
	strict(t, srv, "GET", "/v1/Alerts", nil, &monitor.ListAlertResponse{})
	al := srv.Alerts()
	if len(al) == 0 {
		t.Fatal("no alert raised at 100% of a 1-room quota")
	}
	strict(t, srv, "GET", "/v1/Alerts/"+al[0].Sid, nil, &monitor.MonitorV1AlertInstance{})
}
