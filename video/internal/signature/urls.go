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

// nearForms appends to st.urls (after the URL as given, already there)
// forms (2) and (3) of raw described in the package doc, each once. They
// are built by slicing raw, without allocating.
func (st *state) nearForms(raw string, schemes bool) {
	p := splitURL(raw)
	if p.schemeEnd <= 0 {
		return
	}
	// (2) the port toggled, only the authority changed.
	if p.portColon >= 0 {
		st.add(raw[:p.portColon], "", raw[p.hostEnd:])
	} else {
		st.add(raw[:p.hostEnd], defaultPort(raw[:p.schemeEnd]), raw[p.hostEnd:])
	}
	if !schemes {
		return
	}
	// (3) the other scheme, with and without its default port.
	other := ""
	switch {
	case strings.EqualFold(raw[:p.schemeEnd], "http"):
		other = "https"
	case strings.EqualFold(raw[:p.schemeEnd], "https"):
		other = "http"
	default:
		return
	}
	end := p.hostEnd
	if p.portColon >= 0 {
		end = p.portColon
	}
	hostNoPort := raw[p.schemeEnd:end] // "://userinfo@host"
	st.add(other+hostNoPort, "", raw[p.hostEnd:])
	st.add(other+hostNoPort, defaultPort(other), raw[p.hostEnd:])
}

// farForms appends forms (4) and (5) of raw, each once, after forms (1)
// to (3).
func (st *state) farForms(raw string) {
	bases := len(st.ends)
	// (4) twilio-go's form of (2).
	if g, ok := twilioGoPortForm(raw); ok {
		st.add(g, "", "")
	}
	// (5) the query of each form (1) to (3) re-encoded.
	prev := 0
	for _, end := range st.ends[:bases:bases] {
		st.addQueryForm(prev, end, appendReservedDecoded)
		st.addQueryForm(prev, end, appendWHATWGQuery)
		st.addQueryForm(prev, end, appendLegacyQuery)
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

// addQueryForm adds the form st.urls[start:end] with its query replaced by
// recode(query), if it has a query and that changes it.
func (st *state) addQueryForm(start, end int, recode func(dst, q []byte) []byte) {
	q0, q1 := queryBounds(st.urls[start:end])
	if q0 < 0 {
		return
	}
	begin := len(st.urls)
	st.urls = append(st.urls, st.urls[start:start+q0]...)
	// recode may grow st.urls while reading q: q keeps the old array,
	// whose bytes before begin are never written.
	st.urls = recode(st.urls, st.urls[start+q0:start+q1])
	st.urls = append(st.urls, st.urls[start+q1:end]...)
	st.commit(begin)
}

// appendReservedDecoded appends q with every %3A (or %3a) and %40 decoded
// to ":" and "@", the form in which Twilio signs the parameters it adds to
// a GET query while sending them escaped (twilio/twilio-node#621).
func appendReservedDecoded(dst, q []byte) []byte {
	for i := 0; i < len(q); i++ {
		if q[i] == '%' && i+2 < len(q) {
			switch {
			case q[i+1] == '3' && (q[i+2] == 'A' || q[i+2] == 'a'):
				dst = append(dst, ':')
				i += 2
				continue
			case q[i+1] == '4' && q[i+2] == '0':
				dst = append(dst, '@')
				i += 2
				continue
			}
		}
		dst = append(dst, q[i])
	}
	return dst
}

const upperHex = "0123456789ABCDEF"

func appendEscaped(dst []byte, c byte) []byte {
	return append(dst, '%', upperHex[c>>4], upperHex[c&15])
}

// appendWHATWGQuery appends q as a WHATWG URL parser serialises the query
// of an http or https URL (https://url.spec.whatwg.org/#special-query-percent-encode-set):
// controls, space, '"', "'", "<", ">" and non-ASCII bytes percent-encoded,
// the rest (existing escapes included) kept. twilio-node checks this form of
// the URL it is given.
func appendWHATWGQuery(dst, q []byte) []byte {
	for _, c := range q {
		if c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c >= 0x7f {
			dst = appendEscaped(dst, c)
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}

// appendLegacyQuery appends q round-tripped through Node's querystring
// parse and stringify, as twilio-node's legacy check does, for back ends
// that signed an escaped form of a query value: each non-empty field
// decoded ("+" is a space, a malformed %-escape kept as is) and
// re-encoded as name=value with all but A-Z a-z 0-9 - _ . ! ~ * ' ( )
// percent-encoded. Node also groups repeated names and moves integer
// names first; Twilio's parameter names are distinct and not integers, and
// fields are kept in order here.
func appendLegacyQuery(dst, q []byte) []byte {
	first := true
	for len(q) > 0 {
		seg := q
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			seg, q = q[:i], q[i+1:]
		} else {
			q = nil
		}
		if len(seg) == 0 {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		name, value, _ := bytes.Cut(seg, []byte{'='})
		dst = appendLegacyComponent(dst, name)
		dst = append(dst, '=')
		dst = appendLegacyComponent(dst, value)
	}
	return dst
}

func appendLegacyComponent(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		if legacyUnescaped(c) {
			dst = append(dst, c)
		} else {
			dst = appendEscaped(dst, c)
		}
	}
	return dst
}

func legacyUnescaped(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()", c) >= 0
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
