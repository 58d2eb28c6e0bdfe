package signature

import (
	"errors"
	"net/url"
	"reflect"
	"testing"
)

// TestValidateFormTo: the Form holds what ValidateForm returns, in body
// order; a reused Form leaves the strings it returned before intact; a
// rejected request leaves the Form unchanged.
func TestValidateFormTo(t *testing.T) {
	const token, target = "12345678901234567890123456789012", "https://hooks.example.com/status"
	v, err := New(token)
	if err != nil {
		t.Fatal(err)
	}
	bodies := []string{
		"RoomSid=RM123&StatusCallbackEvent=room-created&RoomName=Daily+Standup",
		"b=2&a=%41&b=1&empty=&c",
	}
	var f Form
	var first string
	for i, body := range bodies {
		q, err := url.ParseQuery(body)
		if err != nil {
			t.Fatal(err)
		}
		sig := sign(token, target, q)
		want, err := v.ValidateForm(target, []byte(body), sig)
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if err := v.ValidateFormTo(target, []byte(body), sig, &f); err != nil {
			t.Fatalf("%q: ValidateFormTo: %v", body, err)
		}
		if got := f.Values(); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: Values %v, want %v", body, got, want)
		}
		if name, value := f.Field(0); i == 0 {
			first = value
			if name != "RoomSid" || value != "RM123" || f.Len() != 3 {
				t.Errorf("field 0 %q=%q of %d, want RoomSid=RM123 of 3", name, value, f.Len())
			}
		}
	}
	if first != "RM123" {
		t.Errorf("a string from the first request became %q after reuse", first)
	}
	before := f
	err = v.ValidateFormTo(target, []byte("RoomSid=RM999"), sign(token, target, url.Values{"RoomSid": {"RM123"}}), &f)
	if !errors.Is(err, ErrMismatch) || f.s != before.s || f.Len() != before.Len() {
		t.Fatalf("forged body: %v, form changed %v", err, f.s != before.s)
	}
}
