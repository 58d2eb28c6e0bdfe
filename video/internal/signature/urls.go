package signature

import (
	"bytes"
	"net/url"
	"strings"
)

// urlParts locates the pieces of an absolute URL that the URL forms change,
// by index into the raw string, without decoding or re-encoding anything.
type urlParts struct {
	schemeEnd int // index of "://"; -1 if the URL has no authority
	hostStart int // first byte of the host (after any userinfo@)
	portColon int // index of the ":" before the port; -1 if no port
	hostEnd   int // end of the authority
}

// splitURL finds the scheme, host and port of raw. A URL without "://"
// before its query or fragment, or whose port is not decimal, has no port
// forms (schemeEnd -1).
func splitURL(raw string) urlParts {
	p := urlParts{schemeEnd: -1, portColon: -1}
	i := strings.Index(raw, "://")
	if i <= 0 || strings.ContainsAny(raw[:i], "/?#") {
		return p
	}
	a0 := i + 3
	a1 := len(raw)
	if j := strings.IndexAny(raw[a0:], "/?#"); j >= 0 {
		a1 = a0 + j
	}
	h0 := a0 + strings.LastIndexByte(raw[a0:a1], '@') + 1
	host := raw[h0:a1]
	if host == "" {
		return p
	}
	if c := strings.LastIndexByte(host, ':'); c >= 0 && c > strings.LastIndexByte(host, ']') {
		if !allDigits(host[c+1:]) {
			return p
		}
		p.portColon = h0 + c
	}
	p.schemeEnd, p.hostStart, p.hostEnd = i, h0, a1
	return p
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// defaultPort is the port a URL of scheme implies, as twilio-go and
// twilio-node add it: 443 for https, 80 for anything else.
func defaultPort(scheme string) string {
	if strings.EqualFold(scheme, "https") {
		return ":443"
	}
	return ":80"
}

// variants appends to st.urls (after the URL as given, already there) the
// other forms of raw described in the package doc, each once.
func (st *state) variants(raw string, schemes bool) {
	p := splitURL(raw)
	if p.schemeEnd > 0 {
		// (2) the port toggled, only the authority changed.
		if p.portColon >= 0 {
			st.add(raw[:p.portColon], "", raw[p.hostEnd:])
		} else {
			st.add(raw[:p.hostEnd], defaultPort(raw[:p.schemeEnd]), raw[p.hostEnd:])
		}
	}
	// (3) twilio-go's form of the same.
	if g, ok := twilioGoPortForm(raw); ok {
		st.add(g, "", "")
	}
	if schemes && p.schemeEnd > 0 {
		// (4) the other scheme, with and without its default port.
		other := ""
		switch {
		case strings.EqualFold(raw[:p.schemeEnd], "http"):
			other = "https"
		case strings.EqualFold(raw[:p.schemeEnd], "https"):
			other = "http"
		}
		if other != "" {
			end := p.hostEnd
			if p.portColon >= 0 {
				end = p.portColon
			}
			hostNoPort := raw[p.schemeEnd:end] // "://userinfo@host"
			st.add(other+hostNoPort, "", raw[p.hostEnd:])
			st.add(other+hostNoPort, defaultPort(other), raw[p.hostEnd:])
		}
	}
	// (5) %3A and %40 decoded in the query of each form.
	prev := 0
	for _, end := range st.ends[:len(st.ends):len(st.ends)] {
		st.addDecoded(prev, end)
		prev = end
	}
}

// add appends the form a+b+c to st.urls unless it is already there.
func (st *state) add(a, b, c string) {
	start := len(st.urls)
	st.urls = append(append(append(st.urls, a...), b...), c...)
	st.commit(start)
}

// commit keeps st.urls[start:] as a new form, or drops it if an earlier
// form is the same.
func (st *state) commit(start int) {
	u := st.urls[start:]
	prev := 0
	for _, end := range st.ends {
		if bytes.Equal(st.urls[prev:end], u) {
			st.urls = st.urls[:start]
			return
		}
		prev = end
	}
	st.ends = append(st.ends, len(st.urls))
}

// addDecoded adds the form st.urls[start:end] with every %3A (or %3a) and
// %40 in its query decoded to ":" and "@", if it has any.
func (st *state) addDecoded(start, end int) {
	u := st.urls[start:end]
	q0, q1 := queryBounds(u)
	if q0 < 0 || !hasReservedEscape(u[q0:q1]) {
		return
	}
	begin := len(st.urls)
	st.urls = append(st.urls, st.urls[start:start+q0]...)
	for i := start + q0; i < start+q1; i++ {
		c := st.urls[i]
		if c == '%' && i+2 < start+q1 {
			switch {
			case st.urls[i+1] == '3' && (st.urls[i+2] == 'A' || st.urls[i+2] == 'a'):
				st.urls = append(st.urls, ':')
				i += 2
				continue
			case st.urls[i+1] == '4' && st.urls[i+2] == '0':
				st.urls = append(st.urls, '@')
				i += 2
				continue
			}
		}
		st.urls = append(st.urls, c)
	}
	st.urls = append(st.urls, st.urls[start+q1:end]...)
	st.commit(begin)
}

// queryBounds returns the query of u as u[q0:q1] (without "?" or the
// fragment), as net/url splits it, or q0 = -1.
func queryBounds(u []byte) (q0, q1 int) {
	q1 = len(u)
	if i := bytes.IndexByte(u, '#'); i >= 0 {
		q1 = i
	}
	i := bytes.IndexByte(u[:q1], '?')
	if i < 0 {
		return -1, -1
	}
	return i + 1, q1
}

func hasReservedEscape(q []byte) bool {
	for i := 0; i+2 < len(q); i++ {
		if q[i] == '%' && (q[i+1] == '3' && (q[i+2] == 'A' || q[i+2] == 'a') || q[i+1] == '4' && q[i+2] == '0') {
			return true
		}
	}
	return false
}

// twilioGoPortForm returns the second URL twilio-go v1.31.0's
// client.RequestValidator.Validate tries besides the URL as given: parsed
// by net/url, with the host's port (from its first ":") removed if it has
// one, else with ":443" (scheme https) or ":80" added, and re-encoded by
// url.URL.String. ok is false if net/url cannot parse raw (twilio-go then
// tries raw only).
func twilioGoPortForm(raw string) (form string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	if u.Port() != "" {
		u.Host, _, _ = strings.Cut(u.Host, ":")
	} else {
		port := ":80"
		if u.Scheme == "https" {
			port = ":443"
		}
		u.Host += port
	}
	return u.String(), true
}
