package quota

import (
	"time"

	"github.com/videoquota/videoquota/quota/forecast"
)

// Usage is a snapshot of an account's quota as a client sees it. Its JSON
// form (encoding/json) uses the snake_case names in the field tags.
type Usage struct {
	Rooms        ResourceUsage `json:"rooms"`
	Participants ResourceUsage `json:"participants"`
	Reads        ClassUsage    `json:"reads"`
	Writes       ClassUsage    `json:"writes"`
	// Retries counts requests sent again after a 20429, a 5xx or a network error.
	Retries int64 `json:"retries"`
	// Throttled counts the 429 responses (code 20429) Twilio sent.
	Throttled int64 `json:"throttled"`
	// LocalRefusals counts calls refused by the ledger without a request.
	LocalRefusals int64 `json:"local_refusals"`
	// TwilioRefusals counts 53119/53206 answers from Twilio.
	TwilioRefusals int64 `json:"twilio_refusals"`
}

// ResourceUsage is the state of one concurrency quota.
type ResourceUsage struct {
	Used  int  `json:"used"`  // held plus reserved slots
	Limit int  `json:"limit"` // the quota; negative when unlimited
	Full  bool `json:"full"`  // marked full after Twilio refused for this quota
	// Pending is how many of the Used slots are reservations not yet
	// committed, released or lapsed (every client's, for a shared store).
	// It is zero when the store does not implement [backend.Inspector].
	Pending int `json:"pending"`
	// Forecast is when Used would reach Limit at its recent trend (see
	// [forecast.Trend]); not Rising on a flat or falling trend.
	Forecast forecast.Forecast `json:"forecast"`
}

// Share returns Used as a share of Limit (0 when unlimited).
func (u ResourceUsage) Share() float64 {
	if u.Limit <= 0 {
		return 0
	}
	return float64(u.Used) / float64(u.Limit)
}

// ClassUsage is the state of one request-rate quota.
type ClassUsage struct {
	Rate   Rate    `json:"rate"`   // the configured ceiling
	Factor float64 `json:"factor"` // the adaptive factor: the bucket runs at Rate.PerSecond*Factor
	// Estimate is the rate, in requests per second, that the account appears
	// to allow (Rate.PerSecond*Factor; see [Limiter]); negative when the
	// rate is unlimited.
	Estimate float64 `json:"estimate"`
	Requests int64   `json:"requests"` // HTTP requests sent, each page and each retry included
	// Tokens is how many tokens the bucket holds now (see [backend.Inspector.Tokens]):
	// at most Rate.Burst, negative while tokens granted with a wait are owed.
	// It is zero when the rate is unlimited or the store does not implement
	// [backend.Inspector].
	Tokens float64 `json:"tokens"`
	// Priorities are how this client's callers of the class waited for
	// their turn to take a token, by priority level: critical, normal,
	// background (each WaitUsage's Name).
	Priorities [3]WaitUsage `json:"priorities"`
	// Tenants are the same by tenant: the tenants that waited most, by
	// name (at most video.TopTenants of them; "" is the callers without a
	// tenant), then the others summed under the Name "other". Empty while
	// no caller has waited.
	Tenants []WaitUsage `json:"tenants,omitempty"`
}

// WaitUsage is how the callers of one priority level or one tenant waited
// for their turn to take a rate token in one client, and how many were
// refused. Waits and refusals are counted apart: a caller that waited and
// was then refused counts in both.
type WaitUsage struct {
	Name     string `json:"name"`     // the level or the tenant
	Queued   int64  `json:"queued"`   // callers that waited behind others, then got their turn
	Canceled int64  `json:"canceled"` // callers whose ctx ended while they waited
	// Refused counts the callers refused a token without a request: their
	// deadline came before the token (a *RateLimitError with
	// CauseLocalDeadline).
	Refused int64         `json:"refused"`
	Waited  time.Duration `json:"waited_ns"` // total time the Queued callers waited, in ns in JSON
	Waiting int           `json:"waiting"`   // callers waiting now
}

// ForecastEvent tells a [ForecastFunc] that both windows of a
// [forecast.Trend] now predict a concurrency quota reached within the
// horizon (Exhausting true), or that they no longer do (Exhausting false).
type ForecastEvent struct {
	Resource   Resource
	Used       int // usage when the forecast was made
	Limit      int
	Exhausting bool // true at the onset of an episode, false at its end
	Horizon    time.Duration
	Forecast   forecast.Forecast // the forecast that started or ended the episode
	At         time.Time         // when the forecast was made
}

// ForecastFunc is told of each [ForecastEvent]: once when an episode
// starts, once when it ends.
type ForecastFunc func(ForecastEvent)
