// Command adhoc is a token endpoint for ad-hoc Rooms: a browser asks
// GET /token?room=standup&identity=alice and gets a Video access token; the
// Room is created by Twilio when the first Participant connects, so no REST
// write is spent (Twilio's advice for scale). Before minting, videoquota
// reserves a Participant slot (and a Room slot for a Room not yet in
// progress), so the endpoint answers 503 instead of handing out a token
// Twilio would refuse with 53206 or 53119. The status callback handler on the
// same server turns reservations into holdings when Participants connect and
// gives slots back when they leave; unused reservations lapse with the token.
//
// By default it runs a short demo against an embedded emulator
// (github.com/videoquota/videoquota/video/videotest) with a quota of 4
// Participants, then exits. With -serve it keeps serving until interrupted.
//
//	go run ./examples/adhoc
//	go run ./examples/adhoc -serve -addr 127.0.0.1:8080
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	serve := flag.Bool("serve", false, "keep serving after the demo until interrupted")
	flag.Parse()
	if err := run(os.Stdout, *addr, *serve); err != nil {
		fmt.Fprintln(os.Stderr, "adhoc:", err)
		os.Exit(1)
	}
}

// tokenHandler serves GET /token?room=…&identity=… as JSON {"token": …}. A
// full quota is 503 with Retry-After; bad input is 400. A real application
// authenticates the caller and chooses the identity itself.
func tokenHandler(vq *video.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		room, identity := r.URL.Query().Get("room"), r.URL.Query().Get("identity")
		tok, err := vq.JoinToken(r.Context(), room, identity, video.WithTokenTTL(10*time.Minute))
		var ve *video.ValidationError
		var ex *quota.ExceededError
		switch {
		case err == nil:
			_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
			return
		case errors.As(err, &ve):
			w.WriteHeader(http.StatusBadRequest)
		case errors.As(err, &ex):
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
	})
}

func run(w io.Writer, addr string, serve bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()

	srv, err := videotest.Start(videotest.Options{
		ConcurrentParticipants: 4,
		AdHocRooms:             true,
		AdHocStatusCallback:    base + "/twilio/status",
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	keySID, keySecret := srv.APIKey()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithAPIKey(keySID, keySecret), // tokens are signed with an API key
		video.WithLimits(quota.Limits{ConcurrentParticipants: 4}))
	if err != nil {
		ln.Close()
		return err
	}
	defer vq.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /token", tokenHandler(vq))
	mux.Handle("/twilio/status", vq.StatusCallbackHandler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	fmt.Fprintf(w, "token endpoint: %s/token?room=standup&identity=alice\n", base)

	if err := demo(ctx, w, base, srv, vq); err != nil {
		return err
	}
	if !serve {
		return nil
	}
	fmt.Fprintln(w, "serving until interrupted")
	<-ctx.Done()
	return nil
}

// demo: five people ask for a token to "standup" with a quota of 4; the
// fifth is refused without any request to Twilio; one leaves and the fifth
// gets in.
func demo(ctx context.Context, w io.Writer, base string, srv *videotest.Server, vq *video.Client) error {
	join := func(identity string) error {
		status, tok, msg, err := fetchToken(ctx, base, "standup", identity)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			fmt.Fprintf(w, "%-6s token refused: HTTP %d (%s)\n", identity, status, short(msg))
			return nil
		}
		if _, err := srv.ConnectWithToken(tok, "standup"); err != nil {
			return fmt.Errorf("the emulator refused %s's token: %w", identity, err)
		}
		fmt.Fprintf(w, "%-6s joined standup\n", identity)
		return nil
	}
	for _, id := range []string{"alice", "bob", "carol", "dave", "erin"} {
		if err := join(id); err != nil {
			return err
		}
	}
	if err := flush(ctx, srv); err != nil {
		return err
	}
	show(ctx, w, vq, srv)
	fmt.Fprintln(w, "bob leaves")
	if err := srv.Disconnect("standup", "bob"); err != nil {
		return err
	}
	if err := flush(ctx, srv); err != nil {
		return err
	}
	if err := join("erin"); err != nil {
		return err
	}
	if err := flush(ctx, srv); err != nil {
		return err
	}
	show(ctx, w, vq, srv)
	return nil
}

func fetchToken(ctx context.Context, base, room, identity string) (status int, token, msg string, err error) {
	u := base + "/token?" + url.Values{"room": {room}, "identity": {identity}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	var body struct{ Token, Error string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return 0, "", "", err
	}
	return resp.StatusCode, body.Token, body.Error, nil
}

func flush(ctx context.Context, srv *videotest.Server) error {
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return srv.FlushCallbacks(fctx)
}

func show(ctx context.Context, w io.Writer, vq *video.Client, srv *videotest.Server) {
	rooms, _, _ := vq.Ledger().Used(ctx, quota.Rooms)
	parts, _, _ := vq.Ledger().Used(ctx, quota.Participants)
	st := srv.Stats()
	fmt.Fprintf(w, "ledger: %d rooms, %d participants; Twilio (emulator): %d rooms, %d participants, %d REST requests\n",
		rooms, parts, st.RoomsNow, st.ParticipantsNow, st.TotalRequests)
}

func short(s string) string {
	if len(s) > 70 {
		return s[:67] + "..."
	}
	return s
}
