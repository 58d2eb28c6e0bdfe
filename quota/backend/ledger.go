package backend

import (
	"crypto/rand"
	"encoding/hex"
)

// NewKey returns a random reservation key, unique across processes.
func NewKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "rsv-" + hex.EncodeToString(b[:])
}
