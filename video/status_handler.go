package video

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed status.html
var statusPage string

var statusTemplate = template.Must(template.New("status").Parse(statusPage))

// StatusHandler returns a read-only [http.Handler] that shows the Client's
// quota: mount it where you choose, behind your own authentication (it is
// never registered on a mux by the library). It serves GET and HEAD, and
// answers 405 to every other method:
//
//   - Accept: text/html (or no preference): one self-contained page, with
//     no external asset (it works offline), that polls its own JSON every
//     second: usage, pending, limit and utilization per resource, full
//     marks and why, the forecast, charts of the last hour, the request
//     classes' rates, adaptive factors and tokens, recent events and Rooms,
//     and the peak report.
//   - Accept: application/json (or ?format=json): the same state as a
//     [StatusReport].
//   - ?peaks=hour.csv, ?peaks=day.csv, ?peaks=hour.json, ?peaks=day.json:
//     the whole peak report ([WithPeakPeriod]) per hour or per UTC day, as
//     CSV (hour_start_utc or day_start_utc, peak_rooms, peak_participants) or
//     as a JSON array of [PeakRow].
//
// Reading it takes a snapshot: the usage figures from the store (bounded by
// one second, like [Client.Usage]), copies of the Client's rings, and the
// peak report read from the store at most every five seconds. A snapshot
// serves the reads that follow while nothing it shows has changed, for at
// most a second, and for at least 100 ms while things change (so that many
// readers cost the Client a few snapshots a second); [Client.Status] always
// takes a new one. It holds no lock a request of the Client waits on,
// except for the copies. It shows no
// credential, signature, token or Participant identity; Room names are
// shown, as text.
func (c *Client) StatusHandler() http.Handler {
	return http.HandlerFunc(c.serveStatus)
}

func (c *Client) serveStatus(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "video: the status page is read-only", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	if p := q.Get("peaks"); p != "" {
		c.servePeaks(w, r, p)
		return
	}
	snap := c.status.snapshot()
	if q.Get("format") == "json" || wantsJSON(r.Header.Get("Accept")) {
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(snap.json)
		return
	}
	nonce := newNonce()
	page, err := snap.page(nonce)
	if err != nil {
		http.Error(w, "video: status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+
		"'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(page)
}

// pageMark stands for the nonce in a snapshot's rendered page: random, so
// that nothing the page shows (a Room name) can hold it, never served, and
// of letters and digits only, which the template writes as they are.
var pageMark = func() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "nonce" + hex.EncodeToString(b[:])
}()

// pageNonces is how many times the template writes the nonce.
var pageNonces = strings.Count(statusPage, "{{.Nonce}}")

// page returns the snapshot's HTML page with nonce in it. The template runs
// once per snapshot, on the first HTML read; each read then only joins the
// pieces around the nonce.
func (s *statusSnapshot) page(nonce string) ([]byte, error) {
	s.pageOnce.Do(func() {
		var buf bytes.Buffer
		if s.pageErr = statusTemplate.Execute(&buf, struct {
			Nonce string
			JSON  StatusReport
		}{pageMark, s.rep}); s.pageErr == nil {
			s.pageParts = bytes.Split(buf.Bytes(), []byte(pageMark))
		}
		if s.pageErr == nil && len(s.pageParts) != pageNonces+1 {
			s.pageErr = fmt.Errorf("the page holds its nonce %d times, want %d", len(s.pageParts)-1, pageNonces)
		}
	})
	if s.pageErr != nil {
		return nil, s.pageErr
	}
	n := len(nonce) * (len(s.pageParts) - 1)
	for _, p := range s.pageParts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for i, p := range s.pageParts {
		if i > 0 {
			out = append(out, nonce...)
		}
		out = append(out, p...)
	}
	return out, nil
}

// Ages of a served snapshot: it is rebuilt when older than statusMaxAge,
// or when what it shows has changed and it is older than statusMinAge.
const (
	statusMaxAge = time.Second
	statusMinAge = 100 * time.Millisecond
)

// statusSnapshot is a report and its JSON, as served.
type statusSnapshot struct {
	built time.Time // by the process's clock: its age is a matter of load
	gen   uint64
	rep   StatusReport
	json  []byte

	pageOnce  sync.Once
	pageParts [][]byte // the rendered page, split where the nonce goes
	pageErr   error
}

// snapshot returns a current enough snapshot, building a new one when
// needed; one reader at a time builds, the others serve the previous one.
func (r *statusRecorder) snapshot() *statusSnapshot {
	old := r.snap.Load()
	if old != nil {
		age := time.Since(old.built)
		if age < statusMaxAge && (old.gen == r.gen.Load() || age < statusMinAge) {
			return old
		}
		if !r.building.CompareAndSwap(false, true) {
			return old
		}
		defer r.building.Store(false)
	}
	rep := r.report(false)
	gen := r.gen.Load()
	b, err := json.Marshal(rep)
	if err != nil {
		b = []byte(`{"error":"video: status: ` + strings.ReplaceAll(err.Error(), `"`, `'`) + `"}`)
	}
	s := &statusSnapshot{built: time.Now(), gen: gen, rep: rep, json: append(b, '\n')}
	r.snap.Store(s)
	return s
}

// servePeaks serves the whole peak report: spec is "hour" or "day", then
// ".csv" or ".json".
func (c *Client) servePeaks(w http.ResponseWriter, r *http.Request, spec string) {
	by, format, _ := strings.Cut(spec, ".")
	if (by != "hour" && by != "day") || (format != "csv" && format != "json") {
		http.Error(w, "video: peaks: want hour.csv, day.csv, hour.json or day.json", http.StatusBadRequest)
		return
	}
	ctx, cancel := r.Context(), func() {}
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, usageTimeout)
	}
	defer cancel()
	snap := c.status.peakReport(ctx, c.now(), true)
	rows := snap.hours
	if by == "day" {
		rows = daily(rows)
	}
	if rows == nil {
		rows = []PeakRow{}
	}
	name := "videoquota-peaks-" + by
	if format == "json" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `inline; filename="`+name+`.json"`)
		writeJSON(w, rows)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{by + "_start_utc", "peak_rooms", "peak_participants"})
	for _, p := range rows {
		_ = cw.Write([]string{p.Start.UTC().Format(time.RFC3339), strconv.Itoa(p.Rooms), strconv.Itoa(p.Participants)})
	}
	cw.Flush()
}

// wantsJSON reports whether an Accept header prefers application/json to
// text/html (equal preference goes to the one listed first).
func wantsJSON(accept string) bool {
	best, bestQ := "", -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || (mt != "application/json" && mt != "text/html") {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q > bestQ {
			best, bestQ = mt, q
		}
	}
	return best == "application/json" && bestQ > 0
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "video: status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(append(b, '\n'))
}

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:])
}
