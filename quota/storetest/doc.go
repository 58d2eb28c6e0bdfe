// Package storetest is the conformance suite for implementations of
// [backend.Store]: every store (the in-process quota/memstore, the Redis
// store in quota/redisstore, or one of your own) must pass it.
//
// # Use
//
// Call [Run] from a test of the store's package with a constructor:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) backend.Store {
//			s, err := memstore.New()
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// A store shared by several processes should also pass [RunShared], given
// two handles on one shared state. A store that implements the optional
// [backend.Inspector] should pass [RunInspector] too, and one that
// implements [backend.LimitsStore] [RunLimits].
//
// # What it checks
//
// Token pacing (rate and burst, refusals beyond maxWait that take nothing,
// unlimited rates, the adaptive factor per account and class), reservations up
// to the limit refused as a fact (Change.Refused, never an error), duplicate keys, lapses after
// the ttl, commits, holdings past the limit, idempotent releases, sync drift,
// full marks, threshold crossings with hysteresis reported exactly once, and
// the same under concurrency (100 goroutines reserving against a limit of 10).
//
// # Timing
//
// Subtests run in parallel, each on its own account (see [Account]). Lapses
// are observed in real time with ttls of 100 ms, so the suite takes about a
// second; rate checks read the waits the store returns and never sleep.
package storetest
