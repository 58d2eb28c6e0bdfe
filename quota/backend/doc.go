// Package backend is what a quota store implements, as database/sql/driver
// is what a database driver implements: the [Store] interface the
// [github.com/videoquota/videoquota/quota] Ledger and Limiter keep their state
// in, the [Bounds] each ledger operation is checked against and the [Change]
// it reports, the optional [Inspector], and the value types they speak of.
// Applications use package quota, which re-exports the value types
// (quota.Resource, quota.Class, quota.Rate, quota.ExceededError, ...);
// only a store implementer imports backend. Stores: quota.MemoryStore,
// quota/redisstore; quota/storetest is the conformance suite.
package backend
