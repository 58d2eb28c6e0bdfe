package videotest

import (
	"fmt"
	"net/http"
	"strconv"
)

// Error is a Twilio error raised by the emulator: returned by [Server.Connect],
// [Server.Disconnect] and [Server.ConnectWithToken], and written as the body of
// every failed HTTP response. Use errors.As to inspect it.
type Error struct {
	// Code is Twilio's error code, e.g. 53119.
	Code int
	// Message is the human-readable message Twilio would send.
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("videotest: twilio error %d: %s", e.Code, e.Message)
}

// Status returns the HTTP status the emulator sends with this code (see the
// table in doc.go and [HTTPStatus]).
func (e *Error) Status() int { return HTTPStatus(e.Code) }

// MoreInfo returns the documentation URL Twilio puts in more_info.
func (e *Error) MoreInfo() string { return moreInfo(e.Code) }

// errSpec is one row of the single code table.
type errSpec struct {
	status  int
	message string
}

// codeTable is the one place that maps Twilio error codes to HTTP statuses and
// default messages. Rows marked "chosen" are codes whose REST HTTP status Twilio
// does not document (https://www.twilio.com/docs/api/errors gives codes and
// messages only): 400 is the most plausible, since they are
// client-side request errors and the legacy Twilio APIs use 400 for those.
var codeTable = map[int]errSpec{
	20001: {http.StatusBadRequest, "Invalid parameter"},
	20003: {http.StatusUnauthorized, "Authenticate"},
	20004: {http.StatusMethodNotAllowed, "Method not allowed"},
	20101: {http.StatusUnauthorized, "Invalid Access Token"},
	20104: {http.StatusUnauthorized, "Access Token expired or expiration date invalid"},
	20105: {http.StatusUnauthorized, "Access Token not yet valid"},
	20107: {http.StatusUnauthorized, "Invalid Access Token signature"},
	20157: {http.StatusUnauthorized, "Access Token expiration exceeds the 24 hour limit"},
	20404: {http.StatusNotFound, "The requested resource was not found"},
	20413: {http.StatusRequestEntityTooLarge, "Request body too large"}, // emulator-specific code for bodies over 1 MiB
	20429: {http.StatusTooManyRequests, "Too Many Requests"},
	20500: {http.StatusInternalServerError, "Internal Server Error"},
	20503: {http.StatusServiceUnavailable, "Service Unavailable"},
	53100: {http.StatusBadRequest, "Room name is invalid"},                // chosen
	53101: {http.StatusBadRequest, "Room name is too long"},               // chosen
	53103: {http.StatusBadRequest, "Unable to create Room"},               // SDK-side; chosen
	53104: {http.StatusBadRequest, "Unable to connect to Room"},           // SDK-side; chosen
	53105: {http.StatusBadRequest, "Room contains too many Participants"}, // SDK-side; chosen
	53106: {http.StatusNotFound, "Room not found"},
	53107: {http.StatusBadRequest, "MaxParticipants is out of range"},                        // chosen
	53110: {http.StatusBadRequest, "StatusCallbackMethod is invalid"},                        // chosen
	53111: {http.StatusBadRequest, "StatusCallback is invalid"},                              // chosen
	53112: {http.StatusBadRequest, "Status is invalid"},                                      // chosen
	53113: {http.StatusBadRequest, "Room exists"},                                            // chosen
	53118: {http.StatusBadRequest, "Room completed"},                                         // SDK-side; chosen
	53119: {http.StatusBadRequest, "The concurrent Rooms quota was exceeded"},                // chosen
	53121: {http.StatusOK, "Reached 70% of room or participant concurrency quota"},           // warning only, never a response
	53123: {http.StatusBadRequest, "MaxParticipantDuration is out of range"},                 // chosen
	53200: {http.StatusBadRequest, "Participant identity is invalid"},                        // SDK-side; chosen
	53201: {http.StatusBadRequest, "Participant identity is too long"},                       // SDK-side; chosen
	53204: {http.StatusNotFound, "Participant not found"},                                    // SDK-side; chosen
	53205: {http.StatusBadRequest, "Participant disconnected because of duplicate identity"}, // SDK-side
	53206: {http.StatusBadRequest, "The Participant concurrency quota was exceeded"},         // SDK-side; chosen
}

// HTTPStatus returns the HTTP status the emulator sends for a Twilio error
// code: the single table documented in doc.go. Unknown codes map to 400.
func HTTPStatus(code int) int {
	if s, ok := codeTable[code]; ok {
		return s.status
	}
	return http.StatusBadRequest
}

func moreInfo(code int) string {
	return "https://www.twilio.com/docs/errors/" + strconv.Itoa(code)
}

// newErr builds an *Error with msg, or the table's default message when msg is empty.
func newErr(code int, msg string) *Error {
	if msg == "" {
		msg = codeTable[code].message
	}
	return &Error{Code: code, Message: msg}
}

func errf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorBody is Twilio's legacy REST error body.
type errorBody struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func (e *Error) body() []byte {
	b, _ := marshal(errorBody{Code: e.Code, Message: e.Message, MoreInfo: moreInfo(e.Code), Status: e.Status()})
	return b
}
