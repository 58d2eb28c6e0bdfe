package backend

import (
	"context"
)

// Inspector is implemented by stores that can report the state of their
// buckets and ledgers beyond [Store.Used]: the stores of quota/memstore
// and quota/redisstore do. It is optional, so that other stores keep
// satisfying [Store]; package video reads it, when the store has it, for
// Usage and metrics only, never on a request's path.
//
// Both methods only read: they take no token and change no slot.
type Inspector interface {
	// Tokens returns how many tokens the bucket of class for account holds
	// now, under the ceiling r slowed by the account's adaptive factor (as
	// [Store.TakeToken] would see it): at most r.Burst, and negative while
	// callers that were granted a token are still waiting for it (the tokens
	// owed). A bucket never used holds r.Burst. For an unlimited rate
	// (r.PerSecond < 0) it returns +Inf.
	Tokens(ctx context.Context, account string, class Class, r Rate) (float64, error)
	// Pending returns how many reservations of res for account are pending:
	// reserved and neither committed, released nor lapsed. For a shared store
	// it counts every client's reservations, not only this process's.
	Pending(ctx context.Context, account string, res Resource) (int, error)
}
