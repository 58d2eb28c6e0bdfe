package videotest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// maxTokenLifetime is Twilio's 24 h cap on access token lifetime (20157).
const maxTokenLifetime = 24 * time.Hour

// ConnectWithToken joins a room as a client SDK does with an access token
// minted by twilio-go's client/jwt package: HS256 signed with the API key
// secret ([Server.APIKey]), iss = key SID, sub = account SID, valid exp/nbf
// against the server clock, an identity grant and a video grant whose room,
// when present, matches roomName (by name or room SID).
//
// Token errors: 20101 (malformed, wrong issuer/subject, missing grants, room
// mismatch), 20107 (bad signature), 20104 (expired), 20105 (not yet valid),
// 20157 (lifetime over 24 h). Then the errors of [Server.Connect].
func (s *Server) ConnectWithToken(accessToken, roomName string) (string, error) {
	identity, grantRoom, err := s.verifyToken(accessToken)
	if err != nil {
		return "", err
	}
	if grantRoom != "" && grantRoom != roomName {
		s.mu.Lock()
		rm := s.findRoomLocked(roomName)
		ok := rm != nil && (rm.sid == grantRoom || rm.name == grantRoom)
		s.mu.Unlock()
		if !ok {
			return "", errf(20101, "Invalid Access Token: video grant is for room %q, not %q", grantRoom, roomName)
		}
	}
	return s.Connect(roomName, identity)
}

type tokenClaims struct {
	Iss    string `json:"iss"`
	Sub    string `json:"sub"`
	Exp    *int64 `json:"exp"`
	Nbf    *int64 `json:"nbf"`
	Grants struct {
		Identity string `json:"identity"`
		Video    *struct {
			Room string `json:"room"`
		} `json:"video"`
	} `json:"grants"`
}

func (s *Server) verifyToken(tok string) (identity, room string, err error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", "", errf(20101, "Invalid Access Token: not a JWT")
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", "", errf(20101, "Invalid Access Token: bad base64url encoding")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "HS256" {
		return "", "", errf(20101, "Invalid Access Token: header must declare alg HS256")
	}
	m := hmac.New(sha256.New, []byte(s.keySecret))
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(m.Sum(nil), sig) {
		return "", "", newErr(20107, "")
	}
	var c tokenClaims
	if err := json.Unmarshal(pb, &c); err != nil {
		return "", "", errf(20101, "Invalid Access Token: bad payload")
	}
	if c.Iss != s.keySID {
		return "", "", errf(20101, "Invalid Access Token issuer: not this account's API key")
	}
	if c.Sub != s.accountSID {
		return "", "", errf(20101, "Invalid Access Token subject: not this account")
	}
	now := s.clock.Now().Unix()
	if c.Exp == nil || *c.Exp <= now {
		return "", "", newErr(20104, "")
	}
	if c.Nbf != nil && *c.Nbf > now {
		return "", "", newErr(20105, "")
	}
	start := now
	if c.Nbf != nil {
		start = *c.Nbf
	}
	if time.Duration(*c.Exp-start)*time.Second > maxTokenLifetime {
		return "", "", newErr(20157, "")
	}
	if c.Grants.Identity == "" {
		return "", "", errf(20101, "Invalid Access Token: missing identity grant")
	}
	if c.Grants.Video == nil {
		return "", "", errf(20101, "Invalid Access Token: missing video grant")
	}
	return c.Grants.Identity, c.Grants.Video.Room, nil
}
