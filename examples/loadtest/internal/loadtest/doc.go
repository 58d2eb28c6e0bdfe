// Package loadtest holds the testable parts of the examples/loadtest harness:
// latency percentiles, per-second timelines, error classification, request
// counting, the three client adapters (raw twilio-go, a naive retry loop and
// any context-aware client such as video.Client), load generation and the
// PNG chart.
//
// # Measuring
//
// A [Recorder] times each application-level operation, classifies its error
// with [Classify] and counts successes in a one-second [Timeline]. A [Counter]
// wraps an http.RoundTripper and counts what went on the wire: requests sent,
// successes and 429s per request class, so that utilization can be computed
// from the requests the server accepted rather than from operations.
//
// # Charting
//
// [WriteChart] draws successful operations per second of several series as a
// line chart with axes, labels and a legend, with gonum.org/v1/plot.
package loadtest
