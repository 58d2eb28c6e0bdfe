package signature

import (
	"net/url"
	"slices"
)

// parseForm decodes body into st.dec and st.fields with the rules of
// net/url.ParseQuery: fields separated by "&", empty fields skipped, a ";"
// in a field an error, name and value split at the first "=", "+" a space
// and %XX a byte. It reads body once, and stops at the first error where
// ParseQuery would go on and still return it.
func (st *state) parseForm(body []byte) error {
	st.fields = st.fields[:0]
	dec := slices.Grow(st.dec[:0], len(body))[:len(body)] // decoding never grows
	n := 0
	start, k0, k1 := 0, 0, -1 // field offset in body; name start and end in dec
	for i := 0; i <= len(body); i++ {
		if i == len(body) || body[i] == '&' {
			if i > start {
				if k1 < 0 {
					k1 = n
				}
				st.fields = append(st.fields, field{k0, k1, n})
			}
			start, k0, k1 = i+1, n, -1
			continue
		}
		switch c := body[i]; c {
		case ';':
			return &FormError{Offset: start, Reason: "invalid semicolon separator"}
		case '=':
			if k1 < 0 {
				k1 = n
				continue
			}
			dec[n] = c
		case '+':
			dec[n] = ' '
		case '%':
			if i+2 >= len(body) || !isHex(body[i+1]) || !isHex(body[i+2]) {
				return &FormError{Offset: start, Reason: "invalid %-escape"}
			}
			dec[n] = unhex(body[i+1])<<4 | unhex(body[i+2])
			i += 2
		default:
			dec[n] = c
		}
		n++
	}
	st.dec = dec[:n]
	return nil
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
	f := Form{s: string(st.dec), fields: st.fields}
	return f.Values()
}

// Form is a validated form body ([Validator.ValidateFormTo]): its fields
// in body order, names and values sharing one string. A Form may be reused
// for another request; the strings it returned stay valid.
type Form struct {
	s      string
	fields []field
}

// Len returns the number of fields.
func (f *Form) Len() int { return len(f.fields) }

// Field returns the decoded name and value of field i, in body order.
func (f *Form) Field(i int) (name, value string) {
	fd := f.fields[i]
	return f.s[fd.k0:fd.k1], f.s[fd.k1:fd.v1]
}

// Values returns the form as url.Values (as [net/url.ParseQuery] would),
// values in body order.
func (f *Form) Values() url.Values {
	vals := make([]string, len(f.fields))
	m := make(url.Values, len(f.fields))
	for i, fd := range f.fields {
		k := f.s[fd.k0:fd.k1]
		vals[i] = f.s[fd.k1:fd.v1]
		if old, ok := m[k]; ok {
			m[k] = append(old, vals[i])
		} else {
			m[k] = vals[i : i+1 : i+1]
		}
	}
	return m
}
