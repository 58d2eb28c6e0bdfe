// Package backoff is videoquota's Twilio-aware retry policy: which failed
// requests to try again, how long to wait, and when to stop.
//
// It speaks the vocabulary of github.com/cenkalti/backoff/v4 (imported here
// as cbackoff): [FullJitter] is a cbackoff.BackOff, [Policy.BackOff] plugs
// into cbackoff.Retry and cbackoff.RetryNotify, and [Do] honours
// cbackoff.Permanent. What it adds is knowledge of Twilio's answers.
//
// # What is retried
//
// Twilio says that a request answered with HTTP 429 / error 20429 "is never
// processed and is always safe to retry"
// (https://www.twilio.com/docs/api/errors/20429), so [DefaultCheckRetry] retries it
// for every method, writes included ([ReasonThrottled]). Server errors (500,
// 502, 503, 504; [ReasonServer]) and transport errors ([ReasonNetwork]) are
// retried only for idempotent requests: GET, HEAD, OPTIONS, or a request the
// caller declares safe with [Outcome].Idempotent (a CreateRoom whose
// UniqueName was checked first, say). Context errors, TLS certificate
// failures, 4xx other than 429, and the quota codes 53119 and 53206 are never
// retried: they are answers, not accidents. Replace the classification with
// [Policy].CheckRetry.
//
// # How long to wait
//
// The n-th retry (n = 0 first) waits rand*min(Cap, Base*2^n), full jitter as
// in twilio-node's auto-retry, with defaults that recover faster and reach
// further ([DefaultBase] 50 ms, [DefaultCap] 2 s, [DefaultMaxRetries] 6; the
// constants' comment gives the reasoning). When Twilio sends Retry-After
// (seconds or an HTTP date, see [ParseRetryAfter]), the wait is
// max(jittered, min(RetryAfter, MaxRetryAfter)): the server's word is a
// floor, never uncapped.
//
// # When to stop
//
// After MaxRetries retries [Retrier.Next] returns a *[MaxAttemptsError]
// holding the number of attempts and the last cause (errors.As reaches it).
// A [Budget] shared by all of a client's requests stops retry storms: each
// retry takes tokens ([ThrottleRetryCost], [RetryCost]), each success gives
// some back, and when it is dry Next returns an error wrapping
// [ErrBudgetExhausted]. [NoRetry] switches retrying off.
//
// # Using it from a RoundTripper
//
// Per request: r := policy.Start() (a small value, no allocation), send,
// and after a failure build an [Outcome] ([FromResponse] fills the method,
// status and Retry-After; add the Twilio code from the body) and call
// r.Next. Sleep the returned wait with [Sleep], which ends when the
// request's context does, take a rate token again, and resend. After a
// success call r.Succeeded to refund the budget. See the Policy.Start
// example. A [Retrier] is not safe for concurrent use; a [Policy] and its
// [Budget] are.
//
// # Simple callers
//
// [Do] runs the whole loop around a function that reports each attempt's
// [Outcome]; see the package example.
package backoff
