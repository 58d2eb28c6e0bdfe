package video

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video/internal/sched"
)

// AttrPriority is the level a caller waited at: "critical", "normal" or
// "background" (a [Priority]).
const AttrPriority = attribute.Key("videoquota.priority")

// AttrTenant is a tenant. The set of its values is bounded: the
// [TopTenants] tenants that waited (or were refused) most are named, "" is
// the callers without a tenant, and the others are summed under "other"
// (so a tenant that leaves the top moves its counts there).
const AttrTenant = attribute.Key("videoquota.tenant")

// schedMetrics are the instruments of the token queues and tenant caps:
//
//   - videoquota.rate.queued: callers that waited for their turn to take a
//     token, by class, priority and outcome ("granted" or "canceled");
//   - videoquota.rate.queue.wait: their total wait, in seconds;
//   - videoquota.rate.waiting: callers waiting now, by class and priority;
//   - videoquota.rate.refusals: callers refused a token without a request
//     (their deadline came first), by class and priority, counted apart
//     from the waits;
//   - videoquota.tenant.rate.queued, videoquota.tenant.rate.queue.wait and
//     videoquota.tenant.rate.refusals: the same by class and tenant (the top
//     tenants, see [AttrTenant]);
//   - videoquota.tenant.refusals: local refusals at a tenant's cap, by tenant.
type schedMetrics struct {
	queued   metric.Int64ObservableCounter
	wait     metric.Float64ObservableCounter
	waiting  metric.Int64ObservableUpDownCounter
	refused  metric.Int64ObservableCounter
	tQueued  metric.Int64ObservableCounter
	tWait    metric.Float64ObservableCounter
	tRefused metric.Int64ObservableCounter
	refusals metric.Int64ObservableCounter
	reg      metric.Registration
	attr     [2][sched.Levels][2]metric.MeasurementOption // class, level, granted/canceled
	level    [2][sched.Levels]metric.MeasurementOption
}

// registerSched registers the instruments of the token queues.
func (m *clientMetrics) registerSched(c *Client) error {
	s := &m.sched
	var err error
	if s.queued, err = m.meter.Int64ObservableCounter("videoquota.rate.queued", metric.WithUnit("{call}"),
		metric.WithDescription("Calls that waited behind others for a rate token, by priority; outcome granted or canceled.")); err != nil {
		return fmt.Errorf("video: WithMeterProvider: %w", err)
	}
	if s.wait, err = m.meter.Float64ObservableCounter("videoquota.rate.queue.wait", metric.WithUnit("s"),
		metric.WithDescription("Total time granted calls waited behind others for a rate token, by priority.")); err != nil {
		return fmt.Errorf("video: WithMeterProvider: %w", err)
	}
	if s.waiting, err = m.meter.Int64ObservableUpDownCounter("videoquota.rate.waiting", metric.WithUnit("{call}"),
		metric.WithDescription("Calls waiting now behind others for a rate token, by priority.")); err != nil {
		return fmt.Errorf("video: WithMeterProvider: %w", err)
	}
	if s.refused, err = m.meter.Int64ObservableCounter("videoquota.rate.refusals", metric.WithUnit("{call}"),
		metric.WithDescription("Calls refused a rate token without a request (deadline before the token), by priority.")); err != nil {
		return fmt.Errorf("video: WithMeterProvider: %w", err)
	}
	if s.tQueued, err = m.meter.Int64ObservableCounter("videoquota.tenant.rate.queued", metric.WithUnit("{call}"),
		metric.WithDescription("Calls that waited behind others for a rate token, by tenant (the top tenants named, the rest as other); outcome granted or canceled.")); err != nil {
		return fmt.Errorf("video: WithMeterProvider: %w", err)
	}
	if s.tWait, err = m.meter.Float64ObservableCounter("videoquota.tenant.rate.queue.wait", metric.WithUnit("s"),
		metric.WithDescription("Total time granted calls waited behind others for a rate token, by tenant (the top tenants named, the rest as other).")); err != nil {
		return fmt.Errorf("video: WithMeterProvider: %w", err)
	}
	if s.tRefused, err = m.meter.Int64ObservableCounter("videoquota.tenant.rate.refusals", metric.WithUnit("{call}"),
		metric.WithDescription("Calls refused a rate token without a request, by tenant (the top tenants named, the rest as other).")); err != nil {
		return fmt.Errorf("video: WithMeterProvider: %w", err)
	}
	if s.refusals, err = m.meter.Int64ObservableCounter("videoquota.tenant.refusals", metric.WithUnit("{refusal}"),
		metric.WithDescription("Rooms and Participants refused locally at a tenant's cap, by tenant (the top tenants named, the rest as other).")); err != nil {
		return fmt.Errorf("video: WithMeterProvider: %w", err)
	}
	for _, cl := range [...]quota.Class{quota.Read, quota.Write} {
		for p := range sched.Levels {
			pa := AttrPriority.String(Priority(p).String())
			s.level[cl][p] = m.attrs(AttrClass.String(cl.String()), pa)
			s.attr[cl][p][0] = m.attrs(AttrClass.String(cl.String()), pa, AttrOutcome.String("granted"))
			s.attr[cl][p][1] = m.attrs(AttrClass.String(cl.String()), pa, AttrOutcome.String("canceled"))
		}
	}
	s.reg, err = m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, cl := range [...]quota.Class{quota.Read, quota.Write} {
			for p := range sched.Levels {
				st := c.sched[cl].Stats(sched.Priority(p))
				o.ObserveInt64(s.queued, st.Queued, s.attr[cl][p][0])
				o.ObserveInt64(s.queued, st.Canceled, s.attr[cl][p][1])
				o.ObserveFloat64(s.wait, st.Waited.Seconds(), s.level[cl][p])
				o.ObserveInt64(s.waiting, int64(st.Waiting), s.level[cl][p])
				o.ObserveInt64(s.refused, st.Refused, s.level[cl][p])
			}
			for _, t := range c.sched[cl].TenantStats(TopTenants) {
				class, tenant := AttrClass.String(cl.String()), AttrTenant.String(t.Tenant)
				o.ObserveInt64(s.tQueued, t.Queued, m.attrs(class, tenant, AttrOutcome.String("granted")))
				o.ObserveInt64(s.tQueued, t.Canceled, m.attrs(class, tenant, AttrOutcome.String("canceled")))
				o.ObserveFloat64(s.tWait, t.Waited.Seconds(), m.attrs(class, tenant))
				o.ObserveInt64(s.tRefused, t.Refused, m.attrs(class, tenant))
			}
		}
		for _, t := range c.tenants.top(TopTenants) {
			o.ObserveInt64(s.refusals, t.n, m.attrs(AttrTenant.String(t.tenant)))
		}
		return nil
	}, s.queued, s.wait, s.waiting, s.refused, s.tQueued, s.tWait, s.tRefused, s.refusals)
	if err != nil {
		return fmt.Errorf("video: WithMeterProvider: %w", err)
	}
	return nil
}
