package videotest

import (
	"encoding/json"
	"net/http"
	"strings"
)

type alertOut struct {
	AccountSid    string  `json:"account_sid"`
	AlertText     string  `json:"alert_text"`
	APIVersion    *string `json:"api_version"`
	DateCreated   string  `json:"date_created"`
	DateGenerated string  `json:"date_generated"`
	DateUpdated   string  `json:"date_updated"`
	ErrorCode     string  `json:"error_code"`
	LogLevel      string  `json:"log_level"`
	MoreInfo      string  `json:"more_info"`
	RequestMethod *string `json:"request_method"`
	RequestURL    *string `json:"request_url"`
	ResourceSid   string  `json:"resource_sid"`
	Sid           string  `json:"sid"`
	URL           string  `json:"url"`
	ServiceSid    *string `json:"service_sid"`
	// The instance (GET /v1/Alerts/{Sid}) adds these four; the list leaves
	// them out. json.RawMessage so that the instance can send null.
	RequestVars     json.RawMessage `json:"request_variables,omitempty"`
	RequestHeaders  json.RawMessage `json:"request_headers,omitempty"`
	ResponseBody    json.RawMessage `json:"response_body,omitempty"`
	ResponseHeaders json.RawMessage `json:"response_headers,omitempty"`
}

var jsonNull = json.RawMessage("null")

func (s *Server) renderAlert(base string, a *alert, instance bool) alertOut {
	o := alertOut{AccountSid: s.accountSID, AlertText: a.text, DateCreated: ts(a.created),
		DateGenerated: ts(a.created), DateUpdated: ts(a.created), ErrorCode: a.code, LogLevel: a.level,
		MoreInfo: "https://www.twilio.com/docs/errors/" + a.code, ResourceSid: a.resource, Sid: a.sid,
		URL: base + "/v1/Alerts/" + a.sid}
	if instance {
		// The quota alerts come from no HTTP exchange with the account's
		// server, so only request_variables (the event payload) has a value.
		o.RequestVars, _ = marshal(a.vars)
		o.RequestHeaders, o.ResponseBody, o.ResponseHeaders = jsonNull, jsonNull, jsonNull
	}
	return o
}

// monitorBase maps a video host to the monitor host for alert URLs.
func monitorBase(r *http.Request) string {
	return strings.Replace(baseURL(r), "://video.", "://monitor.", 1)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	l := parseList(r)
	level := l.oneOf("LogLevel", ": use error, warning, notice or debug", "error", "warning", "notice", "debug")
	df := l.dates("StartDate", "EndDate", true)
	if l.err != nil {
		s.writeErr(w, l.err)
		return
	}
	base := monitorBase(r)
	s.mu.Lock()
	items := newestFirst(s.alerts, func(a *alert) bool { return (level == "" || a.level == level) && df.ok(a.created) })
	writePageLocked(s, w, r, "alerts", l, items, func(a *alert) any { return s.renderAlert(base, a, false) })
}

func (s *Server) fetchAlert(w http.ResponseWriter, r *http.Request, sid string) {
	s.respond(w, http.StatusOK, func() (any, *Error) {
		a := s.alertBySID[sid]
		if a == nil {
			return nil, notFound(r)
		}
		return s.renderAlert(monitorBase(r), a, true), nil
	})
}

// Alert is a Monitor alert the emulator raised (53121 warnings, 53119 and
// 53206 errors), as returned by [Server.Alerts].
type Alert struct {
	Sid, ErrorCode, LogLevel, ResourceSid string
	// Payload is the Debugger webhook Payload JSON.
	Payload string
}

// Alerts returns the alerts raised so far, oldest first.
func (s *Server) Alerts() []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Alert, len(s.alerts))
	for i, a := range s.alerts {
		out[i] = Alert{Sid: a.sid, ErrorCode: a.code, LogLevel: a.level, ResourceSid: a.resource, Payload: a.vars}
	}
	return out
}
