package videotest

import (
	"net/http"
	"strings"
)

// resolve finds the handler of r by path shape and method. It runs after
// auth and faults and before the rate limits, which charge only requests
// whose method the path allows. It returns the handler, or a 20404 error
// (unknown path) or a 20004 error (method not allowed; the Allow header is
// set on w).
func (s *Server) resolve(w http.ResponseWriter, r *http.Request) (func(), *Error) {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/v1/") {
		return nil, notFound(r)
	}
	seg := strings.Split(p[4:], "/")
	for _, x := range seg {
		if x == "" {
			return nil, notFound(r)
		}
	}
	m := r.Method
	type h = func()
	var get, post, del h
	switch seg[0] {
	case "Rooms":
		s.routeRooms(w, r, seg, &get, &post, &del)
	case "Recordings":
		switch len(seg) {
		case 1:
			get = func() { s.listRecordings(w, r) }
		case 2:
			get = func() { s.fetchRecording(w, r, seg[1]) }
			del = func() { s.deleteRecording(w, r, seg[1]) }
		}
	case "Compositions":
		switch len(seg) {
		case 1:
			get = func() { s.listCompositions(w, r) }
			post = func() { s.createComposition(w, r) }
		case 2:
			get = func() { s.fetchComposition(w, r, seg[1]) }
			del = func() { s.deleteComposition(w, r, seg[1]) }
		}
	case "CompositionHooks":
		switch len(seg) {
		case 1:
			get = func() { s.listHooks(w, r) }
			post = func() { s.createHook(w, r) }
		case 2:
			get = func() { s.fetchHook(w, r, seg[1]) }
			post = func() { s.updateHook(w, r, seg[1]) }
			del = func() { s.deleteHook(w, r, seg[1]) }
		}
	case "CompositionSettings", "RecordingSettings":
		if len(seg) == 2 && seg[1] == "Default" {
			rec := seg[0] == "RecordingSettings"
			get = func() { s.fetchSettings(w, r, rec) }
			post = func() { s.updateSettings(w, r, rec) }
		}
	case "Alerts":
		switch len(seg) {
		case 1:
			get = func() { s.listAlerts(w, r) }
		case 2:
			get = func() { s.fetchAlert(w, r, seg[1]) }
		}
	}
	if get == nil && post == nil && del == nil {
		return nil, notFound(r)
	}
	var f h
	switch m {
	case http.MethodGet:
		f = get
	case http.MethodPost:
		f = post
	case http.MethodDelete:
		f = del
	}
	if f == nil {
		var allow []string
		for _, x := range []struct {
			n string
			f h
		}{{"GET", get}, {"POST", post}, {"DELETE", del}} {
			if x.f != nil {
				allow = append(allow, x.n)
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return nil, errf(20004, "Method %s not allowed on %s", m, r.URL.Path)
	}
	return f, nil
}

func (s *Server) routeRooms(w http.ResponseWriter, r *http.Request, seg []string, get, post, del *func()) {
	switch len(seg) {
	case 1:
		*get = func() { s.listRooms(w, r) }
		*post = func() { s.createRoom(w, r) }
		return
	case 2:
		*get = func() { s.fetchRoom(w, r, seg[1]) }
		*post = func() { s.updateRoom(w, r, seg[1]) }
		return
	}
	room := seg[1]
	switch seg[2] {
	case "Participants":
		switch len(seg) {
		case 3:
			*get = func() { s.listParticipants(w, r, room) }
		case 4:
			*get = func() { s.fetchParticipant(w, r, room, seg[3]) }
			*post = func() { s.updateParticipant(w, r, room, seg[3]) }
		case 5:
			part := seg[3]
			switch seg[4] {
			case "Anonymize":
				*post = func() { s.anonymize(w, r, room, part) }
			case "PublishedTracks":
				*get = func() { s.listTracks(w, r, room, part, false) }
			case "SubscribedTracks":
				*get = func() { s.listTracks(w, r, room, part, true) }
			case "SubscribeRules":
				*get = func() { s.fetchSubscribeRules(w, r, room, part) }
				*post = func() { s.updateSubscribeRules(w, r, room, part) }
			}
		case 6:
			part, sid := seg[3], seg[5]
			switch seg[4] {
			case "PublishedTracks":
				*get = func() { s.fetchTrack(w, r, room, part, sid, false) }
			case "SubscribedTracks":
				*get = func() { s.fetchTrack(w, r, room, part, sid, true) }
			}
		}
	case "Recordings":
		switch len(seg) {
		case 3:
			*get = func() { s.listRoomRecordings(w, r, room) }
		case 4:
			*get = func() { s.fetchRoomRecording(w, r, room, seg[3]) }
			*del = func() { s.deleteRoomRecording(w, r, room, seg[3]) }
		}
	case "RecordingRules":
		if len(seg) == 3 {
			*get = func() { s.fetchRecordingRules(w, r, room) }
			*post = func() { s.updateRecordingRules(w, r, room) }
		}
	case "Transcriptions":
		switch len(seg) {
		case 3:
			*get = func() { s.listTranscriptions(w, r, room) }
			*post = func() { s.createTranscription(w, r, room) }
		case 4:
			*get = func() { s.fetchTranscription(w, r, room, seg[3]) }
			*post = func() { s.updateTranscription(w, r, room, seg[3]) }
		}
	}
}
