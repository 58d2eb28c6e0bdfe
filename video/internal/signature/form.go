package signature

import (
	"bytes"
	"net/url"
)

// parseForm decodes body into st.dec and st.fields with the rules of
// net/url.ParseQuery: fields separated by "&", empty fields skipped, a ";"
// in a field an error, name and value split at the first "=", "+" a space
// and %XX a byte. It stops at the first error, where ParseQuery would go on
// and still return it.
func (st *state) parseForm(body []byte) error {
	st.dec = st.dec[:0]
	st.fields = st.fields[:0]
	for off := 0; off < len(body); {
		seg := body[off:]
		if i := bytes.IndexByte(seg, '&'); i >= 0 {
			seg = seg[:i]
		}
		start := off
		off += len(seg) + 1
		if len(seg) == 0 {
			continue
		}
		if bytes.IndexByte(seg, ';') >= 0 {
			return &FormError{Offset: start, Reason: "invalid semicolon separator"}
		}
		name, value, _ := bytes.Cut(seg, []byte{'='})
		var ok bool
		k0 := len(st.dec)
		if st.dec, ok = appendUnescaped(st.dec, name); !ok {
			return &FormError{Offset: start, Reason: "invalid %-escape in name"}
		}
		k1 := len(st.dec)
		if st.dec, ok = appendUnescaped(st.dec, value); !ok {
			return &FormError{Offset: start, Reason: "invalid %-escape in value"}
		}
		st.fields = append(st.fields, field{k0, k1, len(st.dec)})
	}
	return nil
}

// appendUnescaped appends s decoded as a query component ("+" is a space)
// to dst, or reports false if s holds a malformed %-escape.
func appendUnescaped(dst, s []byte) ([]byte, bool) {
	for len(s) > 0 {
		i := bytes.IndexAny(s, "%+")
		if i < 0 {
			return append(dst, s...), true
		}
		dst = append(dst, s[:i]...)
		if s[i] == '+' {
			dst = append(dst, ' ')
			s = s[i+1:]
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return dst, false
		}
		dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
		s = s[i+3:]
	}
	return dst, true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// values returns the parsed form as url.Values, values in body order. All
// names and values share one string, so the cost is a few allocations
// whatever the number of fields.
func (st *state) values() url.Values {
	s := string(st.dec)
	vals := make([]string, len(st.fields))
	m := make(url.Values, len(st.fields))
	for i, f := range st.fields {
		k := s[f.k0:f.k1]
		vals[i] = s[f.k1:f.v1]
		if old, ok := m[k]; ok {
			m[k] = append(old, vals[i])
		} else {
			m[k] = vals[i : i+1 : i+1]
		}
	}
	return m
}
