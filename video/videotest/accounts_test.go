package videotest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/twilio/twilio-go/client"
	apiv2010 "github.com/twilio/twilio-go/rest/api/v2010"
	monitor "github.com/twilio/twilio-go/rest/monitor/v1"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

// asClient is a twilio-go client of srv authenticated as user:pass.
func asClient(srv *videotest.Server, user, pass string) *client.Client {
	c := &client.Client{Credentials: client.NewCredentials(user, pass), HTTPClient: srv.HTTPClient()}
	c.SetAccountSid(user)
	return c
}

func TestAccountsResourceThroughTwilioGo(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{})
	api := apiv2010.NewApiServiceWithClient(srv.Client())

	a, err := api.CreateAccount(&apiv2010.CreateAccountParams{FriendlyName: ptr("clinic-1")})
	if err != nil {
		t.Fatal(err)
	}
	if a.Sid == nil || *a.Sid == srv.AccountSID() || a.AuthToken == nil || *a.AuthToken == "" ||
		*a.OwnerAccountSid != srv.AccountSID() || *a.Status != "active" || *a.FriendlyName != "clinic-1" {
		t.Fatalf("created account = %+v", a)
	}
	if *a.AuthToken == srv.AuthToken() {
		t.Fatal("subaccount shares the main account's auth token")
	}
	b := must(api.CreateAccount(nil))
	if b.FriendlyName == nil || *b.FriendlyName == "" {
		t.Fatalf("default FriendlyName missing: %+v", b)
	}
	sub := srv.Account(*a.Sid)
	if sub == nil || sub.AuthToken() != *a.AuthToken || sub.ParentAccountSID() != srv.AccountSID() {
		t.Fatal("Server.Account does not return the created subaccount")
	}

	got := must(api.FetchAccount(*a.Sid))
	if *got.Sid != *a.Sid || *got.AuthToken != *a.AuthToken {
		t.Fatalf("fetched %+v", got)
	}
	all := must(api.ListAccount(&apiv2010.ListAccountParams{PageSize: ptr(1)}))
	if len(all) != 3 || *all[0].Sid != srv.AccountSID() || *all[1].Sid != *a.Sid || *all[2].Sid != *b.Sid {
		t.Fatalf("listed %d accounts (paged by 1)", len(all))
	}
	named := must(api.ListAccount(&apiv2010.ListAccountParams{FriendlyName: ptr("clinic-1")}))
	if len(named) != 1 || *named[0].Sid != *a.Sid {
		t.Fatalf("FriendlyName filter gave %d", len(named))
	}

	up := must(api.UpdateAccount(*b.Sid, &apiv2010.UpdateAccountParams{Status: ptr("suspended")}))
	if *up.Status != "suspended" {
		t.Fatalf("status = %s", *up.Status)
	}
	susp := must(api.ListAccount(&apiv2010.ListAccountParams{Status: ptr("suspended")}))
	if len(susp) != 1 || *susp[0].Sid != *b.Sid {
		t.Fatalf("Status filter gave %d", len(susp))
	}
	// A suspended account's credentials are refused.
	_, err = openapi.NewApiServiceWithClient(asClient(srv, *b.Sid, *b.AuthToken)).ListRoom(nil)
	restErr(t, err, 20003, 401)
	must(api.UpdateAccount(*b.Sid, &apiv2010.UpdateAccountParams{Status: ptr("closed")}))
	_, err = api.UpdateAccount(*b.Sid, &apiv2010.UpdateAccountParams{Status: ptr("active")})
	restErr(t, err, 20001, 400)
	_, err = api.UpdateAccount(*b.Sid, &apiv2010.UpdateAccountParams{Status: ptr("frozen")})
	restErr(t, err, 20001, 400)
}

// TestAccountsCredentialsScope pins down who reaches what, after
// https://www.twilio.com/docs/iam/api/subaccounts: the main account's SID
// and token reach its subaccounts' 2010-04-01 resources; a subaccount's
// credentials reach that subaccount only; Video v1 URLs carry no Account
// SID, so a Video request acts on the account that authenticates it.
func TestAccountsCredentialsScope(t *testing.T) {
	srv, mainVideo, _, _ := newTest(t, videotest.Options{})
	a := must(srv.CreateAccount(videotest.AccountOptions{FriendlyName: "a"}))
	b := must(srv.CreateAccount(videotest.AccountOptions{FriendlyName: "b"}))
	aAPI := apiv2010.NewApiServiceWithClient(a.Client())

	// A subaccount sees itself only.
	if got := must(aAPI.FetchAccount(a.AccountSID())); *got.Sid != a.AccountSID() {
		t.Fatal("subaccount cannot fetch itself")
	}
	_, err := aAPI.FetchAccount(srv.AccountSID())
	restErr(t, err, 20404, 404)
	_, err = aAPI.FetchAccount(b.AccountSID())
	restErr(t, err, 20404, 404)
	if l := must(aAPI.ListAccount(nil)); len(l) != 1 || *l[0].Sid != a.AccountSID() {
		t.Fatalf("subaccount lists %d accounts", len(l))
	}
	_, err = aAPI.CreateAccount(nil)
	restErr(t, err, 20003, 401)
	_, err = aAPI.UpdateAccount(b.AccountSID(), &apiv2010.UpdateAccountParams{Status: ptr("closed")})
	restErr(t, err, 20404, 404)
	// The main account's API key is a Standard key: it cannot create subaccounts.
	sk, secret := srv.APIKey()
	_, err = apiv2010.NewApiServiceWithClient(asClient(srv, sk, secret)).CreateAccount(nil)
	restErr(t, err, 20003, 401)

	// Rooms belong to the account whose credentials made them.
	aVideo := openapi.NewApiServiceWithClient(a.Client())
	room := must(aVideo.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("shared-name")}))
	if _, err := mainVideo.FetchRoom(*room.Sid); err == nil {
		t.Fatal("main account's credentials fetched a subaccount's Room on Video v1")
	} else {
		restErr(t, err, 20404, 404)
	}
	bVideo := openapi.NewApiServiceWithClient(b.Client())
	_, err = bVideo.FetchRoom(*room.Sid)
	restErr(t, err, 20404, 404)
	// Names are unique per account: another account may use the same one.
	must(bVideo.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("shared-name")}))
	must(mainVideo.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("shared-name")}))
	// The subaccount's API key works too.
	k, s := a.APIKey()
	if l := must(openapi.NewApiServiceWithClient(asClient(srv, k, s)).ListRoom(nil)); len(l) != 1 || *l[0].Sid != *room.Sid {
		t.Fatalf("subaccount API key lists %d rooms", len(l))
	}
	if srv.Stats().RoomsNow != 1 || a.Stats().RoomsNow != 1 || b.Stats().RoomsNow != 1 {
		t.Fatal("rooms are not counted per account")
	}
	// A wrong token for a subaccount SID is refused.
	_, err = openapi.NewApiServiceWithClient(asClient(srv, a.AccountSID(), b.AuthToken())).ListRoom(nil)
	restErr(t, err, 20003, 401)
}

func TestAccountsOwnQuotasCallbacksAndAlerts(t *testing.T) {
	h := newHook(t)
	srv, _, _, _ := newTest(t, videotest.Options{DebuggerWebhook: h.URL + "/debugger"})
	small := must(srv.CreateAccount(videotest.AccountOptions{ConcurrentRooms: 5}))
	big := must(srv.CreateAccount(videotest.AccountOptions{}))
	if l := big.Limits(); l.ConcurrentRooms != videotest.DefaultConcurrentRooms || l.WritesPerSecond != videotest.DefaultWritesPerSecond {
		t.Fatalf("a subaccount's default limits are %v, want Twilio's", l)
	}
	sv := openapi.NewApiServiceWithClient(small.Client())
	bv := openapi.NewApiServiceWithClient(big.Client())
	for i := range 5 {
		must(sv.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("r" + itoa(i)), StatusCallback: ptr(h.URL + "/status")}))
	}
	_, err := sv.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("r5")})
	restErr(t, err, 53119, 400)
	for i := range 6 {
		must(bv.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("r" + itoa(i))}))
	}
	flush(t, small)
	flush(t, srv)

	var status, debug int
	for _, rc := range h.all() {
		switch {
		case bytes.Contains([]byte(rc.url), []byte("/status")):
			status++
			if rc.params.Get("AccountSid") != small.AccountSID() ||
				rc.sig != videotest.Signature(small.AuthToken(), rc.url, rc.params) ||
				rc.sig == videotest.Signature(srv.AuthToken(), rc.url, rc.params) {
				t.Fatalf("status callback not the subaccount's own: AccountSid %s", rc.params.Get("AccountSid"))
			}
		case bytes.Contains([]byte(rc.url), []byte("/debugger")):
			debug++
			if rc.params.Get("AccountSid") != small.AccountSID() || rc.params.Get("ParentAccountSid") != srv.AccountSID() ||
				rc.sig != videotest.Signature(small.AuthToken(), rc.url, rc.params) {
				t.Fatalf("Debugger event not the subaccount's own: %v", rc.params)
			}
		}
	}
	if status != 5 || debug < 2 { // 53121 at 4 of 5 (70%), then 53119
		t.Fatalf("got %d status callbacks and %d Debugger events, want 5 and at least 2", status, debug)
	}
	// Monitor Alerts are per account.
	if n := len(must(monitor.NewApiServiceWithClient(small.Client()).ListAlert(nil))); n < 2 {
		t.Fatalf("subaccount lists %d alerts", n)
	}
	if n := len(must(monitor.NewApiServiceWithClient(srv.Client()).ListAlert(nil))); n != 0 {
		t.Fatalf("main account lists %d alerts of its subaccount", n)
	}

	// Raising a quota at run time takes effect at once.
	if err := small.SetLimits(videotest.Limits{ConcurrentRooms: 6}); err != nil {
		t.Fatal(err)
	}
	must(sv.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("r5")}))
	if err := small.SetLimits(videotest.Limits{ReadsPerSecond: -1}); err == nil {
		t.Fatal("SetLimits accepted a negative rate")
	}
}

func TestAccountsControlAPI(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{})
	do := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		var rd bytes.Buffer
		if body != nil {
			_ = json.NewEncoder(&rd).Encode(body)
		}
		req, _ := http.NewRequest(method, srv.URL()+path, &rd)
		req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d %v, want %d", method, path, resp.StatusCode, out, want)
		}
		return out
	}
	a := do("POST", "/_videotest/accounts", map[string]any{"friendly_name": "x", "limits": map[string]any{"concurrent_rooms": 5, "writes_per_second": 2}}, 201)
	sid, _ := a["sid"].(string)
	if sub := srv.Account(sid); sub == nil || sub.Limits().ConcurrentRooms != 5 || sub.Limits().WritesPerSecond != 2 || a["auth_token"] != sub.AuthToken() {
		t.Fatalf("control API created %v", a)
	}
	do("PUT", "/_videotest/accounts/"+sid+"/limits", map[string]any{"concurrent_rooms": 7}, 200)
	if got := srv.Account(sid).Limits().ConcurrentRooms; got != 7 {
		t.Fatalf("ConcurrentRooms = %d after PUT", got)
	}
	l := do("GET", "/_videotest/accounts", nil, 200)
	if xs, _ := l["accounts"].([]any); len(xs) != 1 {
		t.Fatalf("listed %v", l)
	}
	do("GET", "/_videotest/accounts/AC0123", nil, 404)
	do("POST", "/_videotest/accounts", map[string]any{"bogus": 1}, 400)
	srv.Reset()
	if len(srv.Accounts()) != 0 {
		t.Fatal("Reset kept subaccounts")
	}
}

func TestAccountsCreateLimit(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{})
	sub := must(srv.CreateAccount(videotest.AccountOptions{}))
	var e *videotest.Error
	if _, err := sub.CreateAccount(videotest.AccountOptions{}); !errors.As(err, &e) || e.Code != 20003 {
		t.Fatalf("a subaccount created a subaccount: %v", err)
	}
	for range videotest.DefaultMaxSubaccounts - 1 {
		must(srv.CreateAccount(videotest.AccountOptions{}))
	}
	if _, err := srv.CreateAccount(videotest.AccountOptions{}); !errors.As(err, &e) || e.Code != 20001 {
		t.Fatalf("subaccount %d: %v", videotest.DefaultMaxSubaccounts+1, err)
	}
}
