package backoff

import (
	"testing"
	"time"
)

// BenchmarkStartSucceeded is the cost the retrier adds to a request that
// succeeds at once (the common case): Start, then Succeeded refunding the
// shared budget.
func BenchmarkStartSucceeded(b *testing.B) {
	p := DefaultPolicy()
	b.ReportAllocs()
	for b.Loop() {
		r := p.Start()
		r.Succeeded()
	}
}

// BenchmarkStartSucceededParallel is the same with every goroutine sharing
// the policy's budget.
func BenchmarkStartSucceededParallel(b *testing.B) {
	p := DefaultPolicy()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := p.Start()
			r.Succeeded()
		}
	})
}

// BenchmarkNext is one throttled attempt followed by a success: Start,
// Next(429) (classification, budget, jitter) and Succeeded.
func BenchmarkNext(b *testing.B) {
	p := DefaultPolicy()
	o := Outcome{Method: "POST", StatusCode: 429, Code: 20429, RetryAfter: time.Second}
	b.ReportAllocs()
	for b.Loop() {
		r := p.Start()
		if _, retry, err := r.Next(o); !retry || err != nil {
			b.Fatal(retry, err)
		}
		r.Succeeded()
	}
}

// BenchmarkDefaultCheckRetry classifies a 503 on a GET.
func BenchmarkDefaultCheckRetry(b *testing.B) {
	o := Outcome{Method: "GET", StatusCode: 503}
	b.ReportAllocs()
	for b.Loop() {
		if DefaultCheckRetry(o) != ReasonServer {
			b.Fatal("misclassified")
		}
	}
}
