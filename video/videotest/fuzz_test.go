package videotest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/videoquota/videoquota/video/videotest"
)

// FuzzRequestDecoding feeds arbitrary methods, paths, queries and form bodies
// to the handler: it must never panic or hang, and every non-2xx answer must
// be a Twilio error body whose status matches the HTTP status.
func FuzzRequestDecoding(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"POST", "/v1/Rooms", "UniqueName=a&Type=group&MaxParticipants=10"},
		{"POST", "/v1/Rooms", "RecordingRules=%7B%22rules%22%3A%5B%7B%22type%22%3A%22include%22%2C%22all%22%3Atrue%7D%5D%7D"},
		{"POST", "/v1/Rooms", "VideoCodecs=VP8&VideoCodecs=H264&StatusCallback=http%3A%2F%2Fx&StatusCallbackMethod=GET"},
		{"POST", "/v1/Rooms", "MaxParticipants=-1&MaxParticipantDuration=1e9&EmptyRoomTimeout=&UnusedRoomTimeout=0x10"},
		{"POST", "/v1/Rooms", "%zz=%"},
		{"GET", "/v1/Rooms?PageSize=2&Page=99999999999&PageToken=PT-1", ""},
		{"GET", "/v1/Rooms?DateCreatedAfter=2020-01-01&DateCreatedBefore=2020-13-45", ""},
		{"POST", "/v1/Rooms/fuzz", "Status=completed"},
		{"POST", "/v1/Rooms/fuzz/Participants/a", "Status=disconnected"},
		{"POST", "/v1/Rooms/fuzz/Participants/a/SubscribeRules", "Rules=%5B%7B%22type%22%3A1%7D%5D"},
		{"POST", "/v1/Rooms/fuzz/RecordingRules", "Rules=null"},
		{"POST", "/v1/Rooms/fuzz/Transcriptions", "Configuration=%5B%5D"},
		{"POST", "/v1/Compositions", "RoomSid=RM00000000000000000000000000000000&VideoLayout=%7B%7D"},
		{"POST", "/v1/CompositionHooks", "FriendlyName=x&AudioSources=*&Resolution=x"},
		{"POST", "/v1/RecordingSettings/Default", "FriendlyName=x&AwsS3Url=%3A"},
		{"GET", "/v1/Alerts?LogLevel=warning&StartDate=2020-01-01&EndDate=x", ""},
		{"DELETE", "/v1/Recordings/RT00000000000000000000000000000000", ""},
		{"PATCH", "/v1//Rooms", ""},
		{"GET", "/v1/Rooms/%2F..%2F", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	srv := videotest.NewServer(videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1, AdHocRooms: true,
		ConcurrentRooms: 50, ConcurrentParticipants: 50})
	f.Cleanup(srv.Close)
	if _, err := srv.Connect("fuzz", "a"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		switch method {
		case "GET", "POST", "DELETE", "PUT", "PATCH":
		default:
			method = "GET"
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://127.0.0.1"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code == http.StatusNoContent {
			return
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: invalid JSON %q", method, path, rec.Body.String())
		}
		if rec.Code >= 300 {
			var e struct {
				Code, Status int
				Message      string
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == 0 || e.Status != rec.Code || e.Message == "" {
				t.Fatalf("%s %s: HTTP %d body %q", method, path, rec.Code, rec.Body.String())
			}
		}
	})
}

// FuzzControlAPI feeds arbitrary methods, control paths and JSON bodies to
// the control API: it must never panic, and every answer but 204 must be
// JSON, a Twilio error body whenever the status is not 2xx.
func FuzzControlAPI(f *testing.F) {
	for _, s := range []struct{ method, path, body string }{
		{"POST", "rooms/fuzz/participants", `{"identity":"b"}`},
		{"POST", "rooms/fuzz/participants", `{"access_token":"a.b.c"}`},
		{"POST", "rooms/fuzz/participants", `{"identity":1}`},
		{"POST", "rooms/fuzz/participants/a/tracks", `{"kind":"audio","name":"m"}`},
		{"POST", "rooms/fuzz/participants/a/tracks/MT00000000000000000000000000000000", `{"enabled":null}`},
		{"POST", "rooms/fuzz/participants/a/reconnecting", ``},
		{"DELETE", "rooms/fuzz/participants/a", ``},
		{"POST", "rooms/fuzz/complete", `{}`},
		{"PUT", "faults", `{"rate_429":0.5,"latency_ms":-1}`},
		{"PUT", "faults", `{"callback_delay_ms":1} {}`},
		{"POST", "clock/advance", `{"seconds":1e300}`},
		{"POST", "callbacks/flush", `{"timeout_seconds":0.001}`},
		{"GET", "requests?limit=99999999999999999999", ``},
		{"POST", "sink/x", `RoomSid=RM1`},
		{"GET", "stats", ``},
	} {
		f.Add(s.method, s.path, s.body)
	}
	srv := videotest.NewServer(videotest.Options{AdHocRooms: true, Clock: videotest.NewFakeClock(epoch)})
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, method, path, body string) {
		switch method {
		case "GET", "POST", "DELETE", "PUT", "PATCH":
		default:
			method = "GET"
		}
		if strings.HasPrefix(path, "reset") {
			path = "stats" // keep the room the seeds use
		}
		if _, err := srv.Connect("fuzz", "a"); err != nil && !strings.Contains(err.Error(), "53") {
			t.Fatal(err)
		}
		req, err := http.NewRequest(method, "http://127.0.0.1/_videotest/"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code == http.StatusNoContent {
			return
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: invalid JSON %q", method, path, rec.Body.String())
		}
		if rec.Code >= 300 {
			var e struct {
				Code, Status int
				Message      string
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == 0 || e.Status != rec.Code || e.Message == "" {
				t.Fatalf("%s %s: HTTP %d body %q", method, path, rec.Code, rec.Body.String())
			}
		}
	})
}
