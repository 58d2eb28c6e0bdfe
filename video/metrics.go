package video

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/videoquota/videoquota/backoff"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/forecast"
)

// MeterName is the instrumentation scope of the metrics a [Client] records
// through the MeterProvider given to [WithMeterProvider].
const MeterName = "github.com/videoquota/videoquota/video"

// Metric attribute keys. Their values come from small fixed sets (or the
// threshold levels configured), so the cardinality of every series is
// bounded; no SID, identity, URL or credential is ever an attribute.
const (
	// AttrResource is "rooms" or "participants" (a [quota.Resource]).
	AttrResource = attribute.Key("videoquota.resource")
	// AttrClass is "read" or "write" (a [quota.Class]).
	AttrClass = attribute.Key("videoquota.request.class")
	// AttrOutcome is what happened to a request or a callback.
	AttrOutcome = attribute.Key("videoquota.outcome")
	// AttrRetryCause is why a request was retried: "throttled" (20429),
	// "server_error" (5xx) or "network_error".
	AttrRetryCause = attribute.Key("videoquota.retry.cause")
	// AttrSource is who reported a threshold crossing or a refusal: "local",
	// "twilio" or "reconcile" (a [quota.Source]).
	AttrSource = attribute.Key("videoquota.source")
	// AttrLevel is the threshold level crossed, a share of the quota.
	AttrLevel = attribute.Key("videoquota.threshold.level")
	// AttrDirection is "rising" or "falling" for threshold events, "added" or
	// "removed" for reconcile drift.
	AttrDirection = attribute.Key("videoquota.direction")
	// AttrCode is Twilio's code of a threshold event: 53121, 53119 or 53206.
	AttrCode = attribute.Key("videoquota.twilio.code")
	// AttrDelivery is how a Twilio event arrived: "status_callback",
	// "debugger_webhook" or "alert_poll".
	AttrDelivery = attribute.Key("videoquota.delivery")
	// AttrForecastBound is "earliest" or "latest": which end of the
	// forecast's range videoquota.concurrency.forecast reports.
	AttrForecastBound = attribute.Key("videoquota.forecast.bound")
)

// Request outcomes (AttrOutcome of videoquota.requests).
const (
	outcomeSuccess   = iota // 1xx-3xx
	outcomeThrottled        // 429
	outcomeError            // another 4xx or 5xx
	outcomeNetwork          // no response
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"success", "throttled", "error", "network_error"}

// Callback outcomes (AttrOutcome of videoquota.callbacks).
const (
	cbAccepted  = iota // applied, or acted on
	cbDuplicate        // a repeated delivery, ignored
	cbStale            // older than what was applied, ledger unchanged
	cbRejected         // bad signature, body or fields: 4xx
	cbFailed           // the store failed: 503, Twilio retries
	numCallbackOutcomes
)

var callbackOutcomeNames = [numCallbackOutcomes]string{"accepted", "duplicate", "stale", "rejected", "failed"}

// Deliveries (AttrDelivery).
const (
	deliveryStatus = iota
	deliveryDebugger
	deliveryPoll
	numDeliveries
)

var deliveryNames = [numDeliveries]string{"status_callback", "debugger_webhook", "alert_poll"}

// Retry causes (AttrRetryCause).
const (
	causeThrottled = iota
	causeServer
	causeNetwork
	numCauses
)

var causeNames = [numCauses]string{"throttled", "server_error", "network_error"}

// waitBuckets are the bounds of videoquota.limiter.wait, in seconds: a token
// of a 20/s bucket comes within 50 ms, a slowed-down one within seconds.
var waitBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metricsSettings is what the options say about metrics.
type metricsSettings struct {
	provider metric.MeterProvider
	levels   []float64            // the threshold levels given to WithThresholds
	extra    []attribute.KeyValue // WithMetricAttributes
}

// addLevels records the levels of one WithThresholds, so that threshold
// events are counted at the levels the application watches.
func (s *metricsSettings) addLevels(levels []float64) {
	if len(levels) == 0 {
		levels = []float64{quota.DefaultThresholdLevel}
	}
	s.levels = append(s.levels, levels...)
}

// WithMeterProvider records the Client's metrics through mp, an OpenTelemetry
// MeterProvider (for instance the SDK's, with a Prometheus or OTLP exporter).
// Without it nothing is recorded and nothing is spent. See the package
// documentation's Metrics section for the instruments.
//
// Most instruments are asynchronous: they read, at collection time, the
// counters the Client keeps anyway, so that requests do no extra work. Events
// that are rare (retries, threshold crossings, throttle onsets, reconcile
// drift, callbacks) and waits for a rate token are recorded as they happen.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(s *settings) error {
		if mp == nil {
			return errors.New("video: WithMeterProvider: nil MeterProvider")
		}
		s.metrics.provider = mp
		return nil
	}
}

// WithMetricAttributes adds attrs to every measurement of the Client's
// metrics, to tell apart several Clients recording into one MeterProvider
// (one per account, say: use a name, not the Account SID). Keep the values
// few and free of secrets. Keys must be valid and must not start with
// "videoquota.", which the library's own attributes use.
func WithMetricAttributes(attrs ...attribute.KeyValue) Option {
	return func(s *settings) error {
		for _, kv := range attrs {
			if !kv.Valid() {
				return fmt.Errorf("video: WithMetricAttributes: invalid attribute %q", string(kv.Key))
			}
			if strings.HasPrefix(string(kv.Key), "videoquota.") {
				return fmt.Errorf("video: WithMetricAttributes: key %q uses the library's prefix", string(kv.Key))
			}
		}
		s.metrics.extra = append(s.metrics.extra, attrs...)
		return nil
	}
}

// clientMetrics are a Client's instruments. A nil *clientMetrics records
// nothing: every method checks.
type clientMetrics struct {
	c     *Client // set by register
	meter metric.Meter
	extra []attribute.KeyValue // WithMetricAttributes, on every measurement

	// attempts counts HTTP attempts by class and outcome; read by observe.
	attempts [2][numOutcomes]atomic.Int64

	// Synchronous instruments.
	wait       metric.Float64Histogram
	retries    metric.Int64Counter
	throttles  metric.Int64Counter
	thresholds metric.Int64Counter
	drift      metric.Int64Counter
	reconciles metric.Int64Counter
	callbacks  metric.Int64Counter

	// Asynchronous instruments, observed by observe.
	usage       metric.Int64ObservableUpDownCounter
	limit       metric.Int64ObservableUpDownCounter
	utilization metric.Float64ObservableGauge
	full        metric.Int64ObservableGauge
	rateLimit   metric.Float64ObservableGauge
	rateFactor  metric.Float64ObservableGauge
	rateEst     metric.Float64ObservableGauge
	rateTokens  metric.Float64ObservableGauge
	requests    metric.Int64ObservableCounter
	refusals    metric.Int64ObservableCounter
	pending     metric.Int64ObservableUpDownCounter
	forecast    metric.Float64ObservableGauge // status.go's forecast
	sched       schedMetrics                  // metrics_sched.go

	reg metric.Registration

	// Attribute sets, built once.
	baseAttr     metric.MeasurementOption // the extra attributes alone
	resAttr      [2]metric.MeasurementOption
	classAttr    [2]metric.MeasurementOption
	outcomeAttr  [2][numOutcomes + 1]metric.MeasurementOption // + "refused"
	causeAttr    [2][numCauses]metric.MeasurementOption
	refusalAttr  [2][2]metric.MeasurementOption // resource, local/twilio
	callbackAttr [numDeliveries][numCallbackOutcomes]metric.MeasurementOption
	driftAttr    [2][2]metric.MeasurementOption // resource, added/removed
	boundAttr    [2][2]metric.MeasurementOption // resource, earliest/latest
}

// attrs returns the option for the attribute set kv plus the extra attributes.
func (m *clientMetrics) attrs(kv ...attribute.KeyValue) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(append(slices.Clip(m.extra), kv...)...))
}

// newClientMetrics makes the instruments of s.provider, or returns nil
// when no provider was given.
func newClientMetrics(s *metricsSettings) (*clientMetrics, error) {
	if s.provider == nil {
		return nil, nil
	}
	mt := s.provider.Meter(MeterName)
	m := &clientMetrics{meter: mt, extra: slices.Clone(s.extra)}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	m.wait, err = mt.Float64Histogram("videoquota.limiter.wait", metric.WithUnit("s"),
		metric.WithDescription("Time a request waited for a rate token, for requests that waited."),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	add(err)
	m.retries, err = mt.Int64Counter("videoquota.retries", metric.WithUnit("{retry}"),
		metric.WithDescription("Requests sent again, by cause: a 20429, a 5xx or a network error."))
	add(err)
	m.throttles, err = mt.Int64Counter("videoquota.throttles", metric.WithUnit("{episode}"),
		metric.WithDescription("Onsets of throttling by Twilio: a 429 after a quiet spell."))
	add(err)
	m.thresholds, err = mt.Int64Counter("videoquota.threshold.events", metric.WithUnit("{event}"),
		metric.WithDescription("Threshold events of the concurrency quotas (crossings, Twilio's 53121, 53119, 53206)."))
	add(err)
	m.drift, err = mt.Int64Counter("videoquota.reconcile.drift", metric.WithUnit("{slot}"),
		metric.WithDescription("Ledger holdings added or removed by reconciliation with Twilio."))
	add(err)
	m.reconciles, err = mt.Int64Counter("videoquota.reconcile.runs", metric.WithUnit("{run}"),
		metric.WithDescription("Reconciliations completed."))
	add(err)
	m.callbacks, err = mt.Int64Counter("videoquota.callbacks", metric.WithUnit("{callback}"),
		metric.WithDescription("Twilio events received (status callbacks, Debugger webhooks, polled alerts), by outcome."))
	add(err)

	m.usage, err = mt.Int64ObservableUpDownCounter("videoquota.concurrency.usage", metric.WithUnit("{slot}"),
		metric.WithDescription("Concurrent Rooms or Participants in use: held plus reserved slots."))
	add(err)
	m.limit, err = mt.Int64ObservableUpDownCounter("videoquota.concurrency.limit", metric.WithUnit("{slot}"),
		metric.WithDescription("Concurrency quota of Rooms or Participants (absent when unlimited)."))
	add(err)
	m.utilization, err = mt.Float64ObservableGauge("videoquota.concurrency.utilization", metric.WithUnit("1"),
		metric.WithDescription("Concurrency usage as a share of the quota (Twilio warns at 0.7)."))
	add(err)
	m.full, err = mt.Int64ObservableGauge("videoquota.concurrency.full", metric.WithUnit("1"),
		metric.WithDescription("1 while the resource is marked full after Twilio refused for its quota, else 0."))
	add(err)
	m.rateLimit, err = mt.Float64ObservableGauge("videoquota.rate.limit", metric.WithUnit("{request}/s"),
		metric.WithDescription("Configured request rate quota per class (absent when unlimited)."))
	add(err)
	m.rateFactor, err = mt.Float64ObservableGauge("videoquota.rate.factor", metric.WithUnit("1"),
		metric.WithDescription("Adaptive rate factor: the bucket runs at rate.limit times this (1 = not slowed down)."))
	add(err)
	m.rateEst, err = mt.Float64ObservableGauge("videoquota.rate.estimate", metric.WithUnit("{request}/s"),
		metric.WithDescription("Request rate the account appears to allow per class: rate.limit times rate.factor, learned from Twilio's 429s (absent when unlimited)."))
	add(err)
	m.rateTokens, err = mt.Float64ObservableGauge("videoquota.rate.tokens", metric.WithUnit("{request}"),
		metric.WithDescription("Tokens available now in the request bucket per class, for the whole account when the store is shared; negative while tokens granted with a wait are owed (absent when unlimited, or when the store does not implement backend.Inspector)."))
	add(err)
	m.requests, err = mt.Int64ObservableCounter("videoquota.requests", metric.WithUnit("{request}"),
		metric.WithDescription("HTTP requests by class and outcome (each page and retry counts; refused = not sent, no token in time)."))
	add(err)
	m.pending, err = mt.Int64ObservableUpDownCounter("videoquota.reservations.pending", metric.WithUnit("{reservation}"),
		metric.WithDescription("Reservations pending in the store: reserved and neither committed, released nor lapsed, by every client of a shared store. With a store that does not implement backend.Inspector, the slots this Client reserved by JoinToken and no status callback confirmed yet."))
	add(err)
	m.refusals, err = mt.Int64ObservableCounter("videoquota.concurrency.refusals", metric.WithUnit("{refusal}"),
		metric.WithDescription("Calls refused for a concurrency quota: locally without a request, or by Twilio (53119, 53206)."))
	add(err)
	m.forecast, err = mt.Float64ObservableGauge("videoquota.concurrency.forecast", metric.WithUnit("s"),
		metric.WithDescription("Time until the concurrency quota is reached at the recent usage trend, the earliest and latest of the range (videoquota.forecast.bound); absent on a flat or falling trend."))
	add(err)
	if len(errs) > 0 {
		return nil, fmt.Errorf("video: WithMeterProvider: %w", errors.Join(errs...))
	}

	m.baseAttr = m.attrs()
	for _, r := range [...]quota.Resource{quota.Rooms, quota.Participants} {
		m.resAttr[r] = m.attrs(AttrResource.String(r.String()))
		for i, src := range [...]quota.Source{quota.SourceLocal, quota.SourceTwilio} {
			m.refusalAttr[r][i] = m.attrs(AttrResource.String(r.String()), AttrSource.String(src.String()))
		}
		for i, dir := range [...]string{"added", "removed"} {
			m.driftAttr[r][i] = m.attrs(AttrResource.String(r.String()), AttrDirection.String(dir))
		}
		for i, b := range [...]string{"earliest", "latest"} {
			m.boundAttr[r][i] = m.attrs(AttrResource.String(r.String()), AttrForecastBound.String(b))
		}
	}
	for _, cl := range [...]quota.Class{quota.Read, quota.Write} {
		m.classAttr[cl] = m.attrs(AttrClass.String(cl.String()))
		for o := range numOutcomes + 1 {
			name := "refused"
			if o < numOutcomes {
				name = outcomeNames[o]
			}
			m.outcomeAttr[cl][o] = m.attrs(AttrClass.String(cl.String()), AttrOutcome.String(name))
		}
		for k := range numCauses {
			m.causeAttr[cl][k] = m.attrs(AttrClass.String(cl.String()), AttrRetryCause.String(causeNames[k]))
		}
	}
	for d := range numDeliveries {
		for o := range numCallbackOutcomes {
			m.callbackAttr[d][o] = m.attrs(AttrDelivery.String(deliveryNames[d]), AttrOutcome.String(callbackOutcomeNames[o]))
		}
	}
	return m, nil
}

// ledgerOptions returns the ledger subscription that counts threshold
// events, at the levels the application registered (0.7 when none).
func (m *clientMetrics) ledgerOptions(s *metricsSettings) []quota.Option {
	if m == nil {
		return nil
	}
	return []quota.Option{quota.WithThresholds(m.threshold, s.levels...)}
}

// limiterStore returns the store the Limiter should use: st itself, or,
// when metrics are on, st with TakeToken recording the waits it imposes.
func (m *clientMetrics) limiterStore(st backend.Store) backend.Store {
	if m == nil {
		return st
	}
	if fs, ok := st.(backend.FairStore); ok {
		return fairWaitRecorder{waitRecorder{Store: st, m: m}, fs}
	}
	return waitRecorder{Store: st, m: m}
}

// fairWaitRecorder is a waitRecorder of a FairStore.
type fairWaitRecorder struct {
	waitRecorder
	fs backend.FairStore
}

func (w fairWaitRecorder) TakeTokenAs(ctx context.Context, account string, class backend.Class, r backend.Rate, maxWait time.Duration, t backend.Taker) (time.Duration, time.Duration, bool, error) {
	wait, lead, ok, err := w.fs.TakeTokenAs(ctx, account, class, r, maxWait, t)
	if ok && err == nil && wait > 0 {
		w.m.wait.Record(ctx, wait.Seconds(), w.m.classAttr[class&1])
	}
	return wait, lead, ok, err
}

// waitRecorder records in videoquota.limiter.wait each wait TakeToken
// imposes; a request that waits for nothing records nothing.
type waitRecorder struct {
	backend.Store
	m *clientMetrics
}

func (w waitRecorder) TakeToken(ctx context.Context, account string, class backend.Class, r backend.Rate, maxWait time.Duration) (time.Duration, bool, error) {
	wait, ok, err := w.Store.TakeToken(ctx, account, class, r, maxWait)
	if ok && err == nil && wait > 0 {
		w.m.wait.Record(ctx, wait.Seconds(), w.m.classAttr[class&1])
	}
	return wait, ok, err
}

// register starts observing c once its ledger and limiter exist.
func (m *clientMetrics) register(c *Client) error {
	if m == nil {
		return nil
	}
	m.c = c
	reg, err := m.meter.RegisterCallback(m.observe, m.usage, m.limit, m.utilization, m.full,
		m.rateLimit, m.rateFactor, m.rateEst, m.rateTokens, m.requests, m.refusals, m.pending, m.forecast)
	if err != nil {
		return fmt.Errorf("video: WithMeterProvider: %w", err)
	}
	m.reg = reg
	if err := m.registerSched(c); err != nil {
		_ = reg.Unregister()
		return err
	}
	return nil
}

// close stops observing.
func (m *clientMetrics) close() {
	if m == nil || m.reg == nil {
		return
	}
	_ = m.reg.Unregister()
	if m.sched.reg != nil {
		_ = m.sched.reg.Unregister()
	}
}

// observe reports the asynchronous instruments. Store reads (usage, the
// shared adaptive factor, tokens and pending reservations) are bounded like
// [Client.Usage]; a figure the store cannot report is left out of this
// collection.
func (m *clientMetrics) observe(ctx context.Context, o metric.Observer) error {
	c := m.c
	ctx, cancel := context.WithTimeout(ctx, usageTimeout)
	defer cancel()
	in, _ := c.store.(backend.Inspector)
	for _, r := range [...]quota.Resource{quota.Rooms, quota.Participants} {
		limit := c.ledger.Limit(r)
		if limit >= 0 {
			o.ObserveInt64(m.limit, int64(limit), m.resAttr[r])
		}
		if used, full, err := c.ledger.Used(ctx, r); err == nil {
			now := c.now()
			c.status.observe(ctx, r, used, now)
			if f := c.status.trend[r].Forecast(now, limit); f.Rising {
				o.ObserveFloat64(m.forecast, f.Earliest.Seconds(), m.boundAttr[r][0])
				if f.Latest != forecast.Unbounded {
					o.ObserveFloat64(m.forecast, f.Latest.Seconds(), m.boundAttr[r][1])
				}
			}
			o.ObserveInt64(m.usage, int64(used), m.resAttr[r])
			if limit > 0 {
				o.ObserveFloat64(m.utilization, float64(used)/float64(limit), m.resAttr[r])
			}
			var f int64
			if full {
				f = 1
			}
			o.ObserveInt64(m.full, f, m.resAttr[r])
		}
		rs := &c.stats.res[r]
		o.ObserveInt64(m.refusals, rs.refused.Load(), m.refusalAttr[r][0])
		o.ObserveInt64(m.refusals, rs.twilioRefused.Load(), m.refusalAttr[r][1])
	}
	for _, cl := range [...]quota.Class{quota.Read, quota.Write} {
		if rt := c.limiter.Rate(cl); rt.PerSecond >= 0 {
			o.ObserveFloat64(m.rateLimit, rt.PerSecond, m.classAttr[cl])
			if in != nil {
				if n, err := in.Tokens(ctx, c.accountSID, backend.Class(cl), backend.Rate(rt)); err == nil && !math.IsInf(n, 0) {
					o.ObserveFloat64(m.rateTokens, n, m.classAttr[cl])
				}
			}
		}
		f := c.limiter.Factor(cl)
		if sf, err := c.store.RateFactor(ctx, c.accountSID, backend.Class(cl)); err == nil {
			f = sf // shared with the store's other clients
		}
		o.ObserveFloat64(m.rateFactor, f, m.classAttr[cl])
		if rt := c.limiter.Rate(cl); rt.PerSecond >= 0 {
			o.ObserveFloat64(m.rateEst, rt.PerSecond*f, m.classAttr[cl])
		}
		for k := range numOutcomes {
			o.ObserveInt64(m.requests, m.attempts[cl][k].Load(), m.outcomeAttr[cl][k])
		}
		o.ObserveInt64(m.requests, c.stats.class[cl].refused.Load(), m.outcomeAttr[cl][numOutcomes])
	}
	if in != nil {
		for _, r := range [...]quota.Resource{quota.Rooms, quota.Participants} {
			if n, err := in.Pending(ctx, c.accountSID, backend.Resource(r)); err == nil {
				o.ObserveInt64(m.pending, int64(n), m.resAttr[r])
			}
		}
		return nil
	}
	var pending [2]int64
	st := c.model()
	now := c.now()
	st.mu.Lock()
	for _, t := range st.roomToks {
		if now.Before(t.exp) {
			pending[quota.Rooms]++
		}
	}
	pending[quota.Rooms] += int64(c.rooms().creates())
	for _, t := range st.partToks {
		if now.Before(t.exp) {
			pending[quota.Participants]++
		}
	}
	st.mu.Unlock()
	for r, n := range pending {
		o.ObserveInt64(m.pending, n, m.resAttr[r])
	}
	return nil
}

// attempt counts one HTTP attempt of class by its outcome.
func (m *clientMetrics) attempt(class quota.Class, resp *http.Response, err error) {
	if m == nil {
		return
	}
	o := outcomeNetwork
	if err == nil && resp != nil {
		switch {
		case resp.StatusCode < 400:
			o = outcomeSuccess
		case resp.StatusCode == http.StatusTooManyRequests:
			o = outcomeThrottled
		default:
			o = outcomeError
		}
	}
	m.attempts[class&1][o].Add(1)
}

// retried counts a retry of class decided after out.
func (m *clientMetrics) retried(ctx context.Context, class quota.Class, out backoff.Outcome) {
	if m == nil {
		return
	}
	k := causeNetwork
	switch {
	case out.StatusCode == http.StatusTooManyRequests || out.Code == quota.CodeTooManyRequests:
		k = causeThrottled
	case out.StatusCode >= 500:
		k = causeServer
	}
	m.retries.Add(ctx, 1, m.causeAttr[class&1][k])
}

// threshold counts a threshold event; it runs on the ledger's event goroutine.
func (m *clientMetrics) threshold(e quota.Event) {
	dir := "falling"
	if e.Rising {
		dir = "rising"
	}
	m.thresholds.Add(context.Background(), 1, m.attrs(
		AttrResource.String(e.Resource.String()), AttrLevel.Float64(e.Level), AttrDirection.String(dir),
		AttrSource.String(e.Source.String()), AttrCode.Int(e.Code)))
}

// reconciled counts a completed reconciliation and its drift. Every drift
// series is recorded, 0 included, so that a dashboard sees all four from
// the first reconciliation, not only once some drift happened.
func (m *clientMetrics) reconciled(ctx context.Context, d Drift) {
	if m == nil {
		return
	}
	m.reconciles.Add(ctx, 1, m.baseAttr)
	for r, rd := range [...]ResourceDrift{d.Rooms, d.Participants} {
		m.drift.Add(ctx, int64(rd.Added), m.driftAttr[r][0])
		m.drift.Add(ctx, int64(rd.Removed), m.driftAttr[r][1])
	}
}

// callback counts a Twilio event received through delivery with outcome.
func (m *clientMetrics) callback(ctx context.Context, delivery, outcome int) {
	if m == nil {
		return
	}
	m.callbacks.Add(ctx, 1, m.callbackAttr[delivery][outcome])
}

// rejected counts a webhook rejected by rejectWebhook, by its kind.
func (m *clientMetrics) rejected(ctx context.Context, kind string) {
	d := deliveryDebugger
	if kind == "status callback" {
		d = deliveryStatus
	}
	m.callback(ctx, d, cbRejected)
}

// statusCallback counts a status callback the handler answered 200.
func (m *clientMetrics) statusCallback(ctx context.Context, applied, stale bool) {
	switch {
	case !applied:
		m.callback(ctx, deliveryStatus, cbDuplicate)
	case stale:
		m.callback(ctx, deliveryStatus, cbStale)
	default:
		m.callback(ctx, deliveryStatus, cbAccepted)
	}
}

// alert counts a Debugger event or polled alert, acted on or a duplicate.
func (m *clientMetrics) alert(ctx context.Context, ev *AlertEvent, acted bool) {
	d := deliveryDebugger
	if ev.Polled {
		d = deliveryPoll
	}
	o := cbAccepted
	if !acted {
		o = cbDuplicate
	}
	m.callback(ctx, d, o)
}

// throttleEpisode is one request class's throttling state, for the one log
// line per onset and per recovery.
type throttleEpisode struct {
	active atomic.Bool
	start  atomic.Int64 // unix ns of the onset
	last   atomic.Int64 // unix ns of the last 429
	base   atomic.Int64 // the class's 429 count before the onset
}

// throttleSeen is called for each 429 (code 20429) of class. The first one
// after a recovery logs the onset at Warn and counts it; the others only
// move the episode's end.
func (c *Client) throttleSeen(ctx context.Context, class quota.Class, cl *call) {
	cs := &c.stats.class[class&1]
	ep := &cs.episode
	now := time.Now().UnixNano()
	ep.last.Store(now)
	if ep.active.Load() || !ep.active.CompareAndSwap(false, true) {
		return
	}
	ep.start.Store(now)
	ep.base.Store(cs.throttled.Load() - 1)
	c.status.throttle(class, true, c.now())
	if m := c.metrics; m != nil {
		m.throttles.Add(ctx, 1, m.classAttr[class&1])
	}
	attrs := []slog.Attr{slog.String("class", class.String()), slog.String("cause", cl.cause().String())}
	if cl.retryAfter > 0 {
		attrs = append(attrs, slog.Duration("retry_after", cl.retryAfter))
	}
	if cl.concurrent > 0 {
		attrs = append(attrs, slog.Int("concurrent_requests", cl.concurrent))
	}
	c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: Twilio is throttling requests (20429)", attrs...)
}

// probeQuiet is how long no 429 must come before a throttling episode is
// logged as over: one probe interval of the quota Limiter's adaptive rate.
const probeQuiet = time.Second

// throttleEnded is called after a success of class. When the class is
// throttled, no 429 came for a recovery interval and the adaptive rate is
// back to the configured one, it logs the recovery at Info, once.
func (c *Client) throttleEnded(class quota.Class) {
	cs := &c.stats.class[class&1]
	ep := &cs.episode
	if !ep.active.Load() {
		return
	}
	now := time.Now().UnixNano()
	if now-ep.last.Load() < int64(probeQuiet) || c.limiter.Factor(class) < 1 {
		return
	}
	if !ep.active.CompareAndSwap(true, false) {
		return
	}
	c.status.throttle(class, false, c.now())
	c.logger.LogAttrs(context.Background(), slog.LevelInfo, "videoquota: Twilio stopped throttling requests",
		slog.String("class", class.String()),
		slog.Duration("duration", time.Duration(ep.last.Load()-ep.start.Load())),
		slog.Int64("throttled", cs.throttled.Load()-ep.base.Load()))
}
