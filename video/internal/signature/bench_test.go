package signature

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"
)

// bigForm returns a form of n parameters p0000…, each with a short value,
// and its encoding: 9,000 of them fit the handlers' 64 KiB body limit.
func bigForm(n int) (url.Values, []byte) {
	form := url.Values{}
	var b strings.Builder
	for i := range n {
		k, v := fmt.Sprintf("p%04d", i), "x"
		form[k] = []string{v}
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + v)
	}
	return form, []byte(b.String())
}

// forgedSig is well formed but signs nothing.
var forgedSig = base64.StdEncoding.EncodeToString([]byte("0123456789abcdefghij"))

// BenchmarkValidate compares this package with twilio-go's
// RequestValidator.ValidateBody (what the webhook handlers use today) on
// the same raw bodies:
//   - signed: a participant-connected status callback (20 parameters);
//   - forged: the same with a well-formed wrong signature (every URL form
//     is tried);
//   - forged9000: 9,000 parameters (62 KiB) and a well-formed wrong
//     signature, with the default limits and with the parameter limit
//     lifted (so that the whole body is parsed, sorted and hashed);
//   - signed10k: a signed 10,000-parameter form, limit lifted.
func BenchmarkValidate(b *testing.B) {
	small := participantConnected()
	smallBody := []byte(small.Encode())
	_, body9k := bigForm(9000)
	big10k, body10k := bigForm(10000)
	cases := []struct {
		name string
		body []byte
		sig  string
		opts []Option
		ok   bool
	}{
		{"signed", smallBody, sign(testToken, cbURL, small), nil, true},
		{"forged", smallBody, forgedSig, nil, false},
		{"forged9000", body9k, forgedSig, nil, false},
		{"forged9000-nolimit", body9k, forgedSig, []Option{WithMaxParams(1 << 20), WithMaxBytes(1 << 20)}, false},
		{"signed10k-nolimit", body10k, sign(testToken, cbURL, big10k), []Option{WithMaxParams(1 << 20), WithMaxBytes(1 << 20)}, true},
	}
	for _, c := range cases {
		v := newValidator(b, c.opts...)
		b.Run(c.name+"/ours", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if _, err := v.ValidateForm(cbURL, c.body, c.sig); (err == nil) != c.ok {
					b.Fatal(err)
				}
			}
		})
		rv := client.NewRequestValidator(testToken)
		b.Run(c.name+"/twilio-go", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if rv.ValidateBody(cbURL, c.body, c.sig) != c.ok {
					b.Fatal("unexpected result")
				}
			}
		})
	}
}

// BenchmarkValidateValues measures the check alone on an already parsed
// participant-connected callback (url.Values for ours, the map twilio-go
// takes for twilio-go), signed over the URL as given and over the URL with
// :443, which twilio-go and this package find on their second try.
func BenchmarkValidateValues(b *testing.B) {
	form := participantConnected()
	m := map[string]string{}
	for k, vs := range form {
		m[k] = vs[0]
	}
	v := newValidator(b)
	rv := client.NewRequestValidator(testToken)
	for _, c := range []struct{ name, signed string }{
		{"as-given", cbURL},
		{"port-added", strings.Replace(cbURL, ".com/", ".com:443/", 1)},
	} {
		sig := sign(testToken, c.signed, form)
		b.Run(c.name+"/ours", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Validate(cbURL, form, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/twilio-go", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !rv.Validate(cbURL, m, sig) {
					b.Fatal("rejected")
				}
			}
		})
	}
}
