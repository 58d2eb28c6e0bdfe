package memstore

import "github.com/videoquota/videoquota/quota/backend"

// EndedLen returns how many ended holdings s remembers for account and res.
func EndedLen(s *Store, account string, res backend.Resource) int {
	l := s.ledger(account, res)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended.Len()
}
