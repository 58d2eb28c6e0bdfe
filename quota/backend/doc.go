// Package backend is what a quota store implements, as database/sql/driver
// is what a database driver implements: the [Store] interface that the
// Ledger and Limiter of package github.com/videoquota/videoquota/quota keep
// their state in, the [Bounds] each ledger operation is checked against,
// the [Change] it reports, the optional [Inspector] and [LimitsStore] (one
// set of concurrency limits per account), and the few value types they
// speak of.
//
// A store reports facts (a usage, a refusal, the crossings of a level);
// package quota turns them into what applications see (its Resource, Class,
// ExceededError, Event, ...). Backend does not import quota, and
// applications do not need backend except to hand a store to quota or
// video. Stores: quota/memstore (in process) and quota/redisstore;
// quota/storetest is the conformance suite every store should pass.
package backend
