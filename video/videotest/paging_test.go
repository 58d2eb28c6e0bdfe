package videotest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

type listMeta struct {
	Page            int     `json:"page"`
	PageSize        int     `json:"page_size"`
	FirstPageURL    string  `json:"first_page_url"`
	PreviousPageURL *string `json:"previous_page_url"`
	URL             string  `json:"url"`
	NextPageURL     *string `json:"next_page_url"`
	Key             string  `json:"key"`
}

func getList(t *testing.T, srv *videotest.Server, hc *http.Client, rawURL string) (listMeta, []map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", rawURL, nil)
	req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Meta  listMeta         `json:"meta"`
		Rooms []map[string]any `json:"rooms"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil {
		t.Fatalf("GET %s: %d", rawURL, resp.StatusCode)
	}
	return body.Meta, body.Rooms
}

func TestPagingMeta(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{})
	var sids []string
	for i := 0; i < 5; i++ {
		sids = append(sids, *must(v.CreateRoom(&openapi.CreateRoomParams{})).Sid)
	}
	// Directly: URLs point back at the emulator.
	m, rooms := getList(t, srv, http.DefaultClient, srv.URL()+"/v1/Rooms?PageSize=2&Status=in-progress")
	if m.Key != "rooms" || m.PageSize != 2 || m.Page != 0 || len(rooms) != 2 || m.PreviousPageURL != nil || m.NextPageURL == nil {
		t.Fatalf("first page meta = %+v", m)
	}
	if rooms[0]["sid"] != sids[4] { // newest first
		t.Fatalf("first room = %v, want newest %s", rooms[0]["sid"], sids[4])
	}
	next, _ := url.Parse(*m.NextPageURL)
	if !strings.HasPrefix(*m.NextPageURL, srv.URL()+"/v1/Rooms?") || next.Query().Get("Status") != "in-progress" ||
		next.Query().Get("Page") != "1" || next.Query().Get("PageToken") == "" {
		t.Fatalf("next_page_url = %s", *m.NextPageURL)
	}
	var seen []string
	for _, r := range rooms {
		seen = append(seen, r["sid"].(string))
	}
	for m.NextPageURL != nil {
		m, rooms = getList(t, srv, http.DefaultClient, *m.NextPageURL)
		for _, r := range rooms {
			seen = append(seen, r["sid"].(string))
		}
		if m.PreviousPageURL == nil {
			t.Fatalf("page %d has no previous_page_url", m.Page)
		}
	}
	if len(seen) != 5 || m.Page != 2 {
		t.Fatalf("walked %d rooms over %d pages", len(seen), m.Page+1)
	}
	// Page without a token.
	_, rooms = getList(t, srv, http.DefaultClient, srv.URL()+"/v1/Rooms?PageSize=2&Page=2")
	if len(rooms) != 1 || rooms[0]["sid"] != sids[0] {
		t.Fatalf("Page=2 = %v", rooms)
	}
	// Through the rewriting transport, URLs keep Twilio's host.
	m, _ = getList(t, srv, srv.HTTPClient(), "https://video.twilio.com/v1/Rooms?PageSize=2")
	if !strings.HasPrefix(*m.NextPageURL, "https://video.twilio.com/v1/Rooms?") || !strings.HasPrefix(m.URL, "https://video.twilio.com/") {
		t.Fatalf("via transport: %+v", m)
	}
	// Every page is one read.
	srv.ResetStats()
	got := must(v.ListRoom(&openapi.ListRoomParams{PageSize: ptr(2)}))
	if len(got) != 5 || srv.Stats().Reads != 3 {
		t.Fatalf("ListRoom: %d rooms in %d reads", len(got), srv.Stats().Reads)
	}
	// Limit stops early.
	got = must(v.ListRoom(&openapi.ListRoomParams{PageSize: ptr(2), Limit: ptr(3)}))
	if len(got) != 3 {
		t.Fatalf("Limit 3 gave %d", len(got))
	}
	// Filters.
	if got := must(v.ListRoom(&openapi.ListRoomParams{DateCreatedAfter: ptr(epoch.Add(time.Second))})); len(got) != 0 {
		t.Fatalf("DateCreatedAfter filter kept %d", len(got))
	}
	if got := must(v.ListRoom(&openapi.ListRoomParams{DateCreatedAfter: ptr(epoch), DateCreatedBefore: ptr(epoch.Add(time.Second))})); len(got) != 5 {
		t.Fatalf("date window kept %d", len(got))
	}
}
