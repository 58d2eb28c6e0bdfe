package signature

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"
)

// sigFor returns the signature a fuzz input asks for: the raw one, or one
// made over a form of rawURL that Twilio or an attacker might sign.
func sigFor(mode byte, token, rawURL string, params url.Values, raw string) string {
	switch mode % 10 {
	case 0:
		return raw
	case 1:
		return sign(token, rawURL, params)
	case 2, 3: // the URL with its port added or removed, through net/url
		u, err := url.Parse(rawURL)
		if err != nil {
			return raw
		}
		if mode%10 == 2 && u.Port() == "" {
			if u.Scheme == "https" {
				u.Host += ":443"
			} else {
				u.Host += ":80"
			}
		} else {
			u.Host = u.Hostname()
		}
		return sign(token, u.String(), params)
	case 4: // Twilio's unescaped ":" and "@"
		r := strings.NewReplacer("%3A", ":", "%3a", ":", "%40", "@")
		return sign(token, r.Replace(rawURL), params)
	case 5: // another URL
		return sign(token, rawURL+"/", params)
	case 6: // the other scheme
		if s, ok := strings.CutPrefix(rawURL, "https:"); ok {
			return sign(token, "http:"+s, params)
		}
		return sign(token, strings.Replace(rawURL, "http:", "https:", 1), params)
	case 9: // an escaped apostrophe, as a WHATWG parser writes it
		return sign(token, strings.ReplaceAll(rawURL, "'", "%27"), params)
	case 7: // another token
		return sign(token+"x", rawURL, params)
	default: // one parameter fewer
		fewer := url.Values{}
		for k, v := range params {
			fewer[k] = v
		}
		for k := range fewer {
			delete(fewer, k)
			break
		}
		return sign(token, rawURL, fewer)
	}
}

// FuzzAgainstTwilioGo checks Validate and ValidateForm against twilio-go's
// client.RequestValidator: every request twilio-go accepts is accepted, and
// every request accepted matches, byte for byte, a URL form that
// twilio-go's Validate accepts too. Bodies with a repeated name are left
// out of the comparison: there the two differ by design (package doc).
func FuzzAgainstTwilioGo(f *testing.F) {
	body := participantConnected().Encode()
	seeds := []struct {
		token, url, body string
		mode             byte
		sig              string
	}{
		{testToken, cbURL, body, 1, ""},
		{testToken, cbURL, body, 2, ""},
		{testToken, "https://h.example.com:443/cb", body, 3, ""},
		{testToken, "https://h.example.com:8443/cb?x=1", body, 3, ""},
		{testToken, "http://h.example.com/cb", "a=1&b=2", 2, ""},
		{testToken, "HTTPS://H.example.com/a%2Fb/c d?x=%41", "", 2, ""},
		{testToken, "https://h.example.com/cb?Caller=sip%3A1%4010.0.0.1", "", 4, ""},
		{testToken, "https://[::1]:8443/cb", "a=1", 3, ""},
		{testToken, "https://u:p@h.example.com/cb#frag", "a=1", 2, ""},
		{testToken, "http://h.example.com/cb", body, 6, ""},
		{testToken, cbURL, body, 5, ""},
		{testToken, cbURL, body, 7, ""},
		{testToken, cbURL, body, 8, ""},
		{testToken, cbURL, body, 0, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{testToken, cbURL, "a=%zz&b=1", 1, ""},
		{testToken, cbURL, "a=1;b=2", 1, ""},
		{testToken, cbURL, "a=2&a=1", 1, ""},
		{"t", "/relative?x", "=&&", 2, ""},
		{"t", "h:", "", 2, ""},
		{testToken, cbURL + "?n=O'hara&m=a+b", "", 9, ""},
		{testToken, cbURL + "?n=O%27hara&&m=a+b%zz", "", 1, ""},
	}
	for _, s := range seeds {
		f.Add(s.token, s.url, s.body, s.mode, s.sig)
	}
	f.Fuzz(func(t *testing.T, token, rawURL, body string, mode byte, rawSig string) {
		if token == "" {
			return // New refuses it; twilio-go accepts anyone's signature
		}
		parsed, perr := url.ParseQuery(body)
		single := url.Values{}
		m := map[string]string{}
		repeated := false
		for k, vs := range parsed {
			single[k] = vs[:1]
			m[k] = vs[0]
			repeated = repeated || len(vs) > 1
		}
		sig := sigFor(mode, token, rawURL, single, rawSig)

		var matched string
		v, err := New(token, WithMaxParams(1<<20), WithMaxBytes(1<<30))
		if err != nil {
			t.Fatal(err)
		}
		v.matched = func(u []byte) { matched = string(u) }
		rv := client.NewRequestValidator(token)

		// Validate, with the parameters as a map can hold them.
		goOK := rv.Validate(rawURL, m, sig)
		err = v.Validate(rawURL, single, sig)
		if goOK && err != nil {
			t.Fatalf("twilio-go accepts %q %q, ours: %v", rawURL, m, err)
		}
		if err == nil {
			checkMatched(t, rv, token, matched, m, single, sig)
		}

		// ValidateForm, with the raw body.
		matched = ""
		got, err := v.ValidateForm(rawURL, []byte(body), sig)
		sigOK := !errors.Is(err, ErrNoSignature) && !errors.Is(err, ErrMalformedSignature)
		if sigOK && errors.Is(err, ErrMalformedForm) != (perr != nil) {
			t.Fatalf("body %q: ValidateForm %v, url.ParseQuery %v", body, err, perr)
		}
		if err == nil {
			if !reflect.DeepEqual(got, parsed) && !(len(got) == 0 && len(parsed) == 0) {
				t.Fatalf("ValidateForm(%q) = %v, url.ParseQuery %v", body, got, parsed)
			}
			if !repeated {
				checkMatched(t, rv, token, matched, m, single, sig)
			}
		}
		if repeated || perr != nil {
			return
		}
		if u, err := url.Parse(rawURL); err == nil && u.Query().Get("bodySHA256") != "" {
			return // twilio-go's ValidateBody would check a JSON body
		}
		if rv.ValidateBody(rawURL, []byte(body), sig) && err != nil {
			t.Fatalf("twilio-go ValidateBody accepts %q %q, ours: %v", rawURL, body, err)
		}
	})
}

// checkMatched checks that the URL form ours accepted is one whose plain
// signature is sig and which twilio-go's Validate accepts.
func checkMatched(t *testing.T, rv client.RequestValidator, token, matched string, m map[string]string, params url.Values, sig string) {
	t.Helper()
	if want := sign(token, matched, params); want != sig {
		t.Fatalf("accepted form %q: its signature is %q, not %q", matched, want, sig)
	}
	if !rv.Validate(matched, m, sig) {
		t.Fatalf("accepted form %q, which twilio-go rejects", matched)
	}
}

// TestTwilioGoRepeatedNames shows the one place this package refuses what
// twilio-go accepts: a value appended under a signed name.
func TestTwilioGoRepeatedNames(t *testing.T) {
	signedBody := "RoomSid=RM1&StatusCallbackEvent=room-ended"
	form, _ := url.ParseQuery(signedBody)
	sig := sign(testToken, cbURL, form)
	forged := signedBody + "&RoomSid=RMother"
	rv := client.NewRequestValidator(testToken)
	if !rv.ValidateBody(cbURL, []byte(forged), sig) {
		t.Fatal("twilio-go rejects the appended value; update the package doc")
	}
	if _, err := newValidator(t).ValidateForm(cbURL, []byte(forged), sig); !errors.Is(err, ErrMismatch) {
		t.Fatalf("ValidateForm = %v, want ErrMismatch", err)
	}
}
