package signature

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/twilio/twilio-go/client"
)

const testToken = "12345678901234567890123456789012"

// sign is Twilio's algorithm written out plainly: base64(HMAC-SHA1(token,
// url + name+value for each parameter sorted by name, and for a repeated
// name each distinct value in sorted order)).
func sign(token, rawURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := rawURL
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for i, v := range vs {
			if i > 0 && v == vs[i-1] {
				continue
			}
			s += k + v
		}
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func newValidator(t testing.TB, opts ...Option) *Validator {
	t.Helper()
	v, err := New(testToken, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// participantConnected is a participant-connected status callback with the
// fields https://www.twilio.com/docs/video/api/status-callbacks lists.
func participantConnected() url.Values {
	return url.Values{
		"AccountSid":          {"AC0123456789abcdef0123456789abcdef"},
		"RoomName":            {"DailyStandup"},
		"RoomSid":             {"RM0123456789abcdef0123456789abcdef"},
		"RoomStatus":          {"in-progress"},
		"RoomType":            {"group"},
		"StatusCallbackEvent": {"participant-connected"},
		"Timestamp":           {"2026-11-29T14:30:00.123Z"},
		"SequenceNumber":      {"4"},
		"ParticipantSid":      {"PA0123456789abcdef0123456789abcdef"},
		"ParticipantStatus":   {"connected"},
		"ParticipantIdentity": {"alice@example.com"},
		"RoomDuration":        {""},
		"ParticipantDuration": {""},
		"TrackSid":            {""},
		"TrackKind":           {""},
		"TrackName":           {""},
		"MediaRegion":         {"us1"},
		"RoomEmptyTimeout":    {"5"},
		"RoomUnusedTimeout":   {"5"},
		"Source":              {"api"},
	}
}

const cbURL = "https://hooks.example.com/twilio/video/status"

func TestValidate(t *testing.T) {
	form := participantConnected()
	valid := sign(testToken, cbURL, form)
	tampered := participantConnected()
	tampered.Set("ParticipantSid", "PAffffffffffffffffffffffffffffffff")
	added := participantConnected()
	added.Set("Extra", "1")
	removed := participantConnected()
	removed.Del("RoomName")
	repeated := url.Values{"A": {"2", "1", "2"}, "B": {"x"}}
	getURL := cbURL + "?RoomSid=RM1&StatusCallbackEvent=room-created&Caller=sip:1@10.0.0.1"
	getEscaped := cbURL + "?RoomSid=RM1&StatusCallbackEvent=room-created&Caller=sip%3A1%4010.0.0.1"
	// Non-canonical base64: same 20 bytes as valid, other trailing bits.
	nonCanonical := valid[:26] + string(valid[26]^1) + "="
	if b, err := base64.StdEncoding.DecodeString(nonCanonical); err != nil || len(b) != 20 {
		t.Fatalf("nonCanonical setup: %v", err)
	}

	tests := []struct {
		name    string
		url     string
		params  url.Values
		sig     string
		opts    []Option
		wantErr error
	}{
		{"POST signed", cbURL, form, valid, nil, nil},
		{"GET signed", getURL, nil, sign(testToken, getURL, nil), nil, nil},
		{"no params no query", cbURL, nil, sign(testToken, cbURL, nil), nil, nil},
		{"missing signature", cbURL, form, "", nil, ErrNoSignature},
		{"short signature", cbURL, form, "abc", nil, ErrMalformedSignature},
		{"not base64", cbURL, form, strings.Repeat("!", 28), nil, ErrMalformedSignature},
		{"21 bytes", cbURL, form, strings.Repeat("A", 28), nil, ErrMalformedSignature},
		{"sha256 sized", cbURL, form, base64.StdEncoding.EncodeToString(make([]byte, 32)), nil, ErrMalformedSignature},
		{"non-canonical base64", cbURL, form, nonCanonical, nil, ErrMalformedSignature},
		{"newline inside", cbURL, form, valid[:10] + "\n" + valid[11:], nil, ErrMalformedSignature},
		{"other token", cbURL, form, sign("another-token", cbURL, form), nil, ErrMismatch},
		{"value changed", cbURL, tampered, valid, nil, ErrMismatch},
		{"param added", cbURL, added, valid, nil, ErrMismatch},
		{"param removed", cbURL, removed, valid, nil, ErrMismatch},
		{"path changed", cbURL + "x", form, valid, nil, ErrMismatch},
		{"host changed", strings.Replace(cbURL, "hooks.", "hookz.", 1), form, valid, nil, ErrMismatch},
		{"query added", cbURL + "?a=1", form, valid, nil, ErrMismatch},
		{"GET param changed", strings.Replace(getURL, "RM1", "RM2", 1), nil, sign(testToken, getURL, nil), nil, ErrMismatch},
		{"repeated: distinct values sorted", cbURL, repeated, sign(testToken, cbURL, repeated), nil, nil},
		{"repeated: first value only (twilio-go)", cbURL, repeated,
			sign(testToken, cbURL, url.Values{"A": {"2"}, "B": {"x"}}), nil, ErrMismatch},
		{"default port added", "https://h.example.com/cb", form, sign(testToken, "https://h.example.com:443/cb", form), nil, nil},
		{"default port removed", "https://h.example.com:443/cb", form, sign(testToken, "https://h.example.com/cb", form), nil, nil},
		{"http port added", "http://h.example.com/cb", form, sign(testToken, "http://h.example.com:80/cb", form), nil, nil},
		{"other port removed", "https://h.example.com:8443/cb", form, sign(testToken, "https://h.example.com/cb", form), nil, nil},
		{"other port not added", "https://h.example.com/cb", form, sign(testToken, "https://h.example.com:8443/cb", form), nil, ErrMismatch},
		{"wrong default port", "https://h.example.com/cb", form, sign(testToken, "https://h.example.com:80/cb", form), nil, ErrMismatch},
		{"userinfo kept", "https://u:p@h.example.com/cb", form, sign(testToken, "https://u:p@h.example.com:443/cb", form), nil, nil},
		{"ipv6 port", "https://[::1]:8443/cb", form, sign(testToken, "https://[::1]/cb", form), nil, nil},
		{"GET %3A %40 decoded", getEscaped, nil, sign(testToken, getURL, nil), nil, nil},
		{"GET %3A decoded with port", strings.Replace(getEscaped, ".com/", ".com:443/", 1), nil, sign(testToken, getURL, nil), nil, nil},
		{"GET signed escaped, arrives literal (legacy query)", getURL, nil, sign(testToken, getEscaped, nil), nil, nil},
		{"GET apostrophe escaped on arrival (legacy query)", cbURL + "?n=O%27hara", nil, sign(testToken, cbURL+"?n=O'hara", nil), nil, nil},
		{"GET apostrophe signed escaped (WHATWG query)", cbURL + "?n=O'hara", nil, sign(testToken, cbURL+"?n=O%27hara", nil), nil, nil},
		{"GET plus signed as %20 (legacy query)", cbURL + "?n=a+b", nil, sign(testToken, cbURL+"?n=a%20b", nil), nil, nil},
		{"GET re-encoded value differs", cbURL + "?n=a+b", nil, sign(testToken, cbURL+"?n=a%2Bb", nil), nil, ErrMismatch},
		{"GET field order kept", cbURL + "?a=1&b=2", nil, sign(testToken, cbURL+"?b=2&a=1", nil), nil, ErrMismatch},
		{"%3A in path not decoded", "https://h.example.com/a%3Ab", nil, sign(testToken, "https://h.example.com/a:b", nil), nil, ErrMismatch},
		{"scheme: off by default", "http://h.example.com/cb", form, sign(testToken, "https://h.example.com/cb", form), nil, ErrMismatch},
		{"scheme: https behind proxy", "http://h.example.com/cb", form, sign(testToken, "https://h.example.com/cb", form),
			[]Option{WithSchemeVariants()}, nil},
		{"scheme: https:443 behind proxy", "http://h.example.com:80/cb", form, sign(testToken, "https://h.example.com:443/cb", form),
			[]Option{WithSchemeVariants()}, nil},
		{"scheme: not other hosts", "http://h.example.com/cb", form, sign(testToken, "https://g.example.com/cb", form),
			[]Option{WithSchemeVariants()}, ErrMismatch},
		{"too many params", cbURL, form, valid, []Option{WithMaxParams(19)}, ErrLimit},
		{"too many values", cbURL, url.Values{"A": {"1", "2", "3"}}, valid, []Option{WithMaxParams(2)}, ErrLimit},
		{"too many bytes", cbURL, form, valid, []Option{WithMaxBytes(300)}, ErrLimit},
		{"limits are inclusive", cbURL, form, valid, []Option{WithMaxParams(20)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newValidator(t, tt.opts...)
			err := v.Validate(tt.url, tt.params, tt.sig)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Validate = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				checkErrorText(t, err, tt.sig, tt.params)
			}
		})
	}
}

// checkErrorText fails if err's text holds the token, the signature or a
// parameter value.
func checkErrorText(t *testing.T, err error, sig string, params url.Values) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, testToken) || (len(sig) > 4 && strings.Contains(msg, sig)) {
		t.Errorf("error %q leaks the token or the signature", msg)
	}
	for _, vs := range params {
		for _, v := range vs {
			if len(v) > 3 && strings.Contains(msg, v) {
				t.Errorf("error %q leaks a parameter value", msg)
			}
		}
	}
}

func TestLimitError(t *testing.T) {
	v := newValidator(t, WithMaxParams(3), WithMaxBytes(100))
	sig := sign(testToken, cbURL, nil)
	err := v.Validate(cbURL, url.Values{"a": {"1"}, "b": {"2"}, "c": {"3"}, "d": {"4"}}, sig)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "params" || le.Max != 3 || le.Got != 4 {
		t.Fatalf("Validate = %#v, want LimitError{params, 3, 4}", err)
	}
	_, err = v.ValidateForm(cbURL, []byte(strings.Repeat("x", 80)), sig)
	if !errors.As(err, &le) || le.Limit != "bytes" || le.Max != 100 || le.Got != len(cbURL)+80 {
		t.Fatalf("ValidateForm = %#v, want LimitError{bytes, 100, %d}", err, len(cbURL)+80)
	}
	_, err = v.ValidateForm(cbURL, []byte("a&b&c&d"), sig)
	if !errors.As(err, &le) || le.Limit != "params" || le.Got != 4 {
		t.Fatalf("ValidateForm = %#v, want LimitError{params, 3, 4}", err)
	}
	if !errors.Is(err, ErrLimit) || errors.Is(err, ErrMismatch) {
		t.Fatalf("errors.Is(%v, ErrLimit) false or matches ErrMismatch", err)
	}
}

func TestValidateForm(t *testing.T) {
	form := participantConnected()
	body := form.Encode()
	valid := sign(testToken, cbURL, form)
	tests := []struct {
		name    string
		body    string
		sig     string
		wantErr error
	}{
		{"signed", body, valid, nil},
		{"fields reordered", "RoomType=group&" + strings.Replace(body, "RoomType=group&", "", 1), valid, nil},
		{"empty fields skipped", "&&" + strings.ReplaceAll(body, "&", "&&") + "&", valid, nil},
		{"+ and %20 alike", strings.Replace(body, "DailyStandup", "Daily+Standup", 1),
			sign(testToken, cbURL, with(form, "RoomName", "Daily Standup")), nil},
		{"escaped name", strings.Replace(body, "RoomName=", "Room%4eame=", 1), valid, nil},
		{"no = sign", body + "&Flag", sign(testToken, cbURL, with(form, "Flag", "")), nil},
		{"repeated signed as twilio-node", "A=2&A=1&A=2", sign(testToken, cbURL, url.Values{"A": {"1", "2"}}), nil},
		{"repeated, first value signed", "A=2&A=1", sign(testToken, cbURL, url.Values{"A": {"2"}}), ErrMismatch},
		{"value appended", body + "&RoomSid=RMevil", valid, ErrMismatch},
		{"value changed", strings.Replace(body, "alice", "mallory", 1), valid, ErrMismatch},
		{"semicolon", body + "&a=1;b=2", valid, ErrMalformedForm},
		{"bad escape", body + "&a=%zz", valid, ErrMalformedForm},
		{"truncated escape", body + "&a=%4", valid, ErrMalformedForm},
		{"bad escape in name", "%g0=1", valid, ErrMalformedForm},
		{"missing signature", body, "", ErrNoSignature},
		{"malformed signature", body, "x", ErrMalformedSignature},
	}
	v := newValidator(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.ValidateForm(cbURL, []byte(tt.body), tt.sig)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("ValidateForm = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if got != nil {
					t.Fatalf("ValidateForm returned %v with error %v", got, err)
				}
				checkErrorText(t, err, tt.sig, form)
				return
			}
			want, perr := url.ParseQuery(tt.body)
			if perr != nil {
				t.Fatal(perr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("ValidateForm values = %v, want url.ParseQuery's %v", got, want)
			}
		})
	}
}

func TestFormErrorOffset(t *testing.T) {
	v := newValidator(t)
	_, err := v.ValidateForm(cbURL, []byte("a=1&b=%zz"), sign(testToken, cbURL, nil))
	var fe *FormError
	if !errors.As(err, &fe) || fe.Offset != 4 {
		t.Fatalf("ValidateForm = %#v, want FormError at offset 4", err)
	}
}

func with(v url.Values, k, s string) url.Values {
	c := url.Values{}
	for kk, vv := range v {
		c[kk] = vv
	}
	c.Set(k, s)
	return c
}

func TestValidateJSON(t *testing.T) {
	body := []byte(`{"RoomSid":"RM1","StatusCallbackEvent":"room-created"}`)
	sum := sha256.Sum256(body)
	u := cbURL + "?bodySHA256=" + hex.EncodeToString(sum[:])
	sig := sign(testToken, u, nil)
	v := newValidator(t)
	tests := []struct {
		name    string
		url     string
		body    []byte
		sig     string
		wantErr error
	}{
		{"signed", u, body, sig, nil},
		{"port added", strings.Replace(u, ".com/", ".com:443/", 1), body, sig, nil},
		{"body changed", u, append([]byte(nil), append(body, ' ')...), sig, ErrBodyHash},
		{"url changed", u + "&x=1", body, sig, ErrMismatch},
		{"no bodySHA256", cbURL, body, sign(testToken, cbURL, nil), ErrNoBodyHash},
		{"uppercase hash", strings.ToUpper(u[:0]) + cbURL + "?bodySHA256=" + strings.ToUpper(hex.EncodeToString(sum[:])), body,
			sign(testToken, cbURL+"?bodySHA256="+strings.ToUpper(hex.EncodeToString(sum[:])), nil), ErrBodyHash},
		{"missing signature", u, body, "", ErrNoSignature},
	}
	rv := client.NewRequestValidator(testToken)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.ValidateJSON(tt.url, tt.body, tt.sig)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("ValidateJSON = %v, want %v", err, tt.wantErr)
			}
			if goOK := rv.ValidateBody(tt.url, tt.body, tt.sig); goOK != (err == nil) {
				t.Fatalf("twilio-go ValidateBody = %v, ours %v", goOK, err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, tt := range []struct {
		name  string
		token string
		opts  []Option
		want  string
	}{
		{"empty token", "", nil, "empty auth token"},
		{"nil option", testToken, []Option{nil}, "option 0 is nil"},
		{"zero params", testToken, []Option{WithMaxParams(0)}, "WithMaxParams(0)"},
		{"negative bytes", testToken, []Option{WithMaxBytes(-1)}, "WithMaxBytes(-1)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.token, tt.opts...)
			if err == nil || v != nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, %v; want an error naming %q", v, err, tt.want)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Fatalf("error %q leaks the token", err)
			}
		})
	}
}

// TestConcurrent checks, under -race, that one Validator serves many
// goroutines, each seeing its own result.
func TestConcurrent(t *testing.T) {
	v := newValidator(t)
	form := participantConnected()
	body := []byte(form.Encode())
	valid := sign(testToken, cbURL, form)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				u := cbURL
				if (g+i)%2 == 1 {
					u += "?forged"
				}
				got, err := v.ValidateForm(u, body, valid)
				if (u == cbURL) != (err == nil) || (err == nil && got.Get("RoomSid") != form.Get("RoomSid")) {
					errs <- fmt.Errorf("goroutine %d call %d: url %q: %v", g, i, u, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestVariants pins the URL forms tried, in order.
func TestVariants(t *testing.T) {
	tests := []struct {
		raw     string
		schemes bool
		want    []string
	}{
		{"https://h.example.com/cb", false, []string{"https://h.example.com/cb", "https://h.example.com:443/cb"}},
		{"https://h.example.com:443/cb?a=1", false, []string{"https://h.example.com:443/cb?a=1", "https://h.example.com/cb?a=1"}},
		{"HTTPS://h.example.com/cb", false, []string{"HTTPS://h.example.com/cb", "HTTPS://h.example.com:443/cb", "https://h.example.com:443/cb"}},
		{"http://h.example.com/a b", false, []string{"http://h.example.com/a b", "http://h.example.com:80/a b", "http://h.example.com:80/a%20b"}},
		{"https://h.example.com/cb?c=sip%3a1%402", false, []string{
			"https://h.example.com/cb?c=sip%3a1%402", "https://h.example.com:443/cb?c=sip%3a1%402",
			"https://h.example.com/cb?c=sip:1@2", "https://h.example.com/cb?c=sip%3A1%402",
			"https://h.example.com:443/cb?c=sip:1@2", "https://h.example.com:443/cb?c=sip%3A1%402"}},
		{"https://h.example.com/a%3A?q#f%40", false, []string{"https://h.example.com/a%3A?q#f%40", "https://h.example.com:443/a%3A?q#f%40",
			"https://h.example.com/a%3A?q=#f%40", "https://h.example.com:443/a%3A?q=#f%40"}},
		{"https://h.example.com/cb?n=O'h+ü&&x", false, []string{"https://h.example.com/cb?n=O'h+ü&&x", "https://h.example.com:443/cb?n=O'h+ü&&x",
			"https://h.example.com/cb?n=O%27h+%C3%BC&&x", "https://h.example.com/cb?n=O'h%20%C3%BC&x=",
			"https://h.example.com:443/cb?n=O%27h+%C3%BC&&x", "https://h.example.com:443/cb?n=O'h%20%C3%BC&x="}},
		{"http://h.example.com:8080/cb", true, []string{"http://h.example.com:8080/cb", "http://h.example.com/cb",
			"https://h.example.com/cb", "https://h.example.com:443/cb"}},
		{"/relative", false, []string{"/relative", "//:80/relative"}}, // twilio-go's form
		{"not a url %zz", false, []string{"not a url %zz"}},
	}
	for _, tt := range tests {
		st := &state{}
		st.urls = append(st.urls, tt.raw...)
		st.ends = append(st.ends, len(st.urls))
		st.nearForms(tt.raw, tt.schemes)
		st.farForms(tt.raw)
		var got []string
		prev := 0
		for _, end := range st.ends {
			got = append(got, string(st.urls[prev:end]))
			prev = end
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("variants(%q) =\n %q\nwant\n %q", tt.raw, got, tt.want)
		}
	}
}

// TestTwilioNodeVectors checks signatures made by Twilio's official Node.js
// helper library (testdata/twilio_node_vectors.js, run with the npm package
// "twilio"): this package computes the same signature over the URL signed,
// and accepts the URL that arrives exactly when twilio-node's
// validateRequest does, but where it knows better.
func TestTwilioNodeVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/twilio_node_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Library string
		Token   string
		Vectors []struct {
			Name, Signed, URL, Signature string
			Params                       map[string]json.RawMessage
			NodeValid                    bool
		}
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	// Where this package differs from twilio-node's validateRequest, and why.
	differs := map[string]string{
		"GET colon and at escaped on arrival": "Twilio signs ':' and '@' unescaped and sends them escaped " +
			"(twilio/twilio-node#621; twilio-node handles it in validateExpressRequest only)",
	}
	v := newValidator(t)
	for _, vec := range file.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			params := url.Values{}
			for k, m := range vec.Params {
				var one string
				if err := json.Unmarshal(m, &one); err == nil {
					params[k] = []string{one}
					continue
				}
				var many []string
				if err := json.Unmarshal(m, &many); err != nil {
					t.Fatalf("param %s: %v", k, err)
				}
				params[k] = many
			}
			if err := v.Validate(vec.Signed, params, vec.Signature); err != nil {
				t.Fatalf("%s signed %q; ours rejects that URL: %v", file.Library, vec.Signed, err)
			}
			want := vec.NodeValid
			if why, ok := differs[vec.Name]; ok {
				want = !want
				t.Logf("differs from %s: %s", file.Library, why)
			}
			if err := v.Validate(vec.URL, params, vec.Signature); (err == nil) != want {
				t.Fatalf("signed %q, arrived %q: ours %v, want accepted=%v (%s: %v)",
					vec.Signed, vec.URL, err, want, file.Library, vec.NodeValid)
			}
		})
	}
	if len(file.Vectors) < 10 {
		t.Fatalf("only %d vectors", len(file.Vectors))
	}
}
