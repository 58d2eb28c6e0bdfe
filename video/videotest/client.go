package videotest

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/twilio/twilio-go/client"
)

// Transport returns an http.RoundTripper that sends every request to the
// emulator, whatever host it names (twilio-go hardcodes
// https://video.twilio.com and https://monitor.twilio.com). The Host header
// is kept, so absolute URLs in responses keep Twilio's hosts. base is the
// transport that actually dials; nil means a keep-alive transport sized for
// load tests.
func (s *Server) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = &http.Transport{
			MaxIdleConns:          512,
			MaxIdleConnsPerHost:   512,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
		}
	}
	u, _ := url.Parse(s.url)
	return &rewriteTransport{base: base, scheme: u.Scheme, host: u.Host}
}

type rewriteTransport struct {
	base         http.RoundTripper
	scheme, host string
}

// RoundTrip rewrites the request's URL to the emulator and forwards it.
func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	r.URL.Scheme, r.URL.Host = t.scheme, t.host
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// HTTPClient returns an *http.Client using [Server.Transport], not following
// redirects (like twilio-go's default client). It sets no Client.Timeout, which
// would cost a goroutine per request whose body twilio-go leaves open; the
// transport's 10 s response-header timeout bounds each request instead.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{
		Transport: s.Transport(nil),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Client returns a twilio-go *client.Client authenticated with the account
// SID and auth token and wired to the emulator, ready for
// openapi.NewApiServiceWithClient (rest/video/v1 and rest/monitor/v1).
func (s *Server) Client() *client.Client {
	c := &client.Client{Credentials: client.NewCredentials(s.accountSID, s.authToken), HTTPClient: s.HTTPClient()}
	c.SetAccountSid(s.accountSID)
	return c
}
