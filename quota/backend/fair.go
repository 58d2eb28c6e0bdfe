package backend

import (
	"context"
	"time"
)

// Level is the priority level of a token's taker; the zero value is
// LevelNormal.
type Level uint8

// The levels a [FairStore] orders takers by.
const (
	LevelNormal     Level = iota // the default
	LevelCritical                // served before every other level
	LevelBackground              // served after every other level
)

// Taker is who takes a token from a [FairStore]: its priority level and its
// tenant ("" is a tenant too: the callers without one) with the tenant's
// weight (0 or less means 1).
type Taker struct {
	Level  Level
	Tenant string
	Weight float64
}

// FairStore is a [Store] whose buckets order their takers across every
// client of the store, by priority level and by weighted fair shares
// between tenants, so that the order a client keeps among its own callers
// holds between clients too.
//
// TakeTokenAs is TakeToken for t. It returns, besides the wait and ok, the
// lead: how far ahead of its use the store let t book a token, at most
// maxWait. A taker that others come before (a higher level asked within
// the last second, or its tenant took more than its share) gets a shorter
// lead: ok is false, taking nothing, while its token is further away than
// that; the caller asks again once the token is due within the lead
// (after wait less lead).
type FairStore interface {
	Store
	TakeTokenAs(ctx context.Context, account string, class Class, r Rate, maxWait time.Duration, t Taker) (wait, lead time.Duration, ok bool, err error)
}
