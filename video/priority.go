package video

import (
	"bytes"
	"context"
	"errors"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/video/internal/sched"
)

// Priority is the level a request waits at for its rate token when tokens
// are scarce; see [WithPriority].
type Priority uint8

// The priority levels, highest first.
const (
	// PriorityCritical is served before every other level. Requests that
	// free quota are critical unless their ctx says otherwise: completing a
	// Room (UpdateRoom with Status=completed) and disconnecting a
	// Participant (UpdateRoomParticipant with Status=disconnected).
	PriorityCritical Priority = Priority(sched.Critical)
	// PriorityNormal is the default.
	PriorityNormal Priority = Priority(sched.Normal)
	// PriorityBackground is served last; the Client's own reconciler
	// ([Client.RunReconciler]) and alert poller ([Client.PollAlerts]) run at
	// this level unless their ctx says otherwise.
	PriorityBackground Priority = Priority(sched.Background)
)

// String returns "critical", "normal" or "background".
func (p Priority) String() string { return sched.Priority(p).String() }

// callTag is what WithPriority and WithTenant put on a ctx.
type callTag struct {
	prio   Priority
	set    bool // prio was set by WithPriority
	tenant string
}

type callTagKey struct{}

func tagOf(ctx context.Context) callTag {
	t, _ := ctx.Value(callTagKey{}).(callTag)
	return t
}

// WithPriority returns a copy of ctx whose Client requests wait for their
// rate token at level p. A level above PriorityBackground reads as
// PriorityBackground.
//
// When tokens are scarce, callers waiting at a higher level are served
// first, except that each lower level that is waiting gets its guaranteed
// share of the tokens granted meanwhile (normal 10% behind critical,
// background 5% behind either); a level with nobody waiting lends its share
// to the others. A caller that finds a token at once and nobody waiting
// takes it whatever its level.
func WithPriority(ctx context.Context, p Priority) context.Context {
	t := tagOf(ctx)
	t.prio, t.set = min(p, PriorityBackground), true
	return context.WithValue(ctx, callTagKey{}, t)
}

// WithTenant returns a copy of ctx whose Client requests belong to tenant:
// inside a priority level, the tenants that wait share the tokens in
// proportion to their weights ([TenantPolicy]), and the Rooms and
// Participants the requests reserve count against the tenant's caps as well
// as the account's. "" is no tenant: callers without one share their
// level as one more tenant of weight 1. A name longer than [MaxTenantName]
// is kept and shown (Usage, the metrics, the store's keys) as its first
// bytes and a hash of the whole, MaxTenantName bytes in all; a tenant with
// a cap must have a name no longer than that (see [MaxTenantName]).
func WithTenant(ctx context.Context, tenant string) context.Context {
	t := tagOf(ctx)
	t.tenant = tenant
	return context.WithValue(ctx, callTagKey{}, t)
}

// TenantPolicy is what a tenant may use; see [WithTenantPolicy].
type TenantPolicy struct {
	// Weight is the tenant's share of tokens relative to the other tenants
	// waiting at the same level; 0 (or less) means 1.
	Weight float64
	// Limits caps the tenant's concurrent Rooms and Participants (its
	// ConcurrentRooms and ConcurrentParticipants; zero or less is no cap),
	// store-wide. A tenant at its cap is refused at once, even when the
	// Client waits for the account's capacity (WithWaitForCapacity). Its
	// rate fields are not used: rates are shared by weight.
	Limits quota.Limits
}

// WithTenantPolicy sets the function that gives each tenant its policy. fn
// is called, on the caller's goroutine, when a tenant's request has to wait
// for a token and when it reserves a Room or Participant; it must be fast
// and safe for simultaneous use. Without it every tenant has weight 1 and no
// cap.
func WithTenantPolicy(fn func(tenant string) TenantPolicy) Option {
	return func(s *settings) error {
		if fn == nil {
			return optErr("WithTenantPolicy", "nil policy function")
		}
		s.tenantPolicy = fn
		return nil
	}
}

// MaxPriorityShares is the most that the guaranteed shares of the lower
// levels ([WithPriorityShares]) may add up to: a lower level never takes the
// last 30% of the tokens that callers of a higher level are waiting for.
const MaxPriorityShares = 0.7

// WithPriorityShares sets the guaranteed shares of the lower levels: while
// callers of higher levels wait, waiting normal callers get at least normal
// of the tokens granted meanwhile and waiting background callers at least
// background (both at least 0, adding up to at most [MaxPriorityShares]);
// the rest goes to the highest level waiting. A level with nobody waiting
// lends its share. The defaults are 0.10 and 0.05: background takes at most
// 5% of the tokens that normal callers wait for. Both 0 is strict priority.
// Out-of-range values are a *ConfigError naming the option.
func WithPriorityShares(normal, background float64) Option {
	return func(s *settings) error {
		if !(normal >= 0 && background >= 0 && normal+background <= MaxPriorityShares) {
			return optErr("WithPriorityShares", "shares %v and %v: each must be at least 0 and both add up to at most %v",
				normal, background, MaxPriorityShares)
		}
		s.shares = [sched.Levels]float64{sched.Normal: normal, sched.Background: background}
		if s.shares == ([sched.Levels]float64{}) {
			s.shares = [sched.Levels]float64{sched.Critical: sched.Strict}
		}
		return nil
	}
}

// policy returns tenant's policy.
func (c *Client) policy(tenant string) TenantPolicy {
	if tenant == "" || c.tenantPolicy == nil {
		return TenantPolicy{Weight: 1}
	}
	p := c.tenantPolicy(tenant)
	if !(p.Weight > 0) {
		p.Weight = 1
	}
	return p
}

// takeToken takes a rate token of class for req, waiting in the class's
// scheduler when another caller holds or waits for one. The fast path (the
// scheduler free, nobody waiting) reads nothing of ctx and allocates nothing,
// unless the store orders takers across its clients (a backend.FairStore):
// then the holder tells the store its level and tenant, and while the store
// makes it wait to ask again it yields its turn to a caller of a higher level
// of this Client.
func (c *Client) takeToken(ctx context.Context, class quota.Class, req *http.Request) error {
	s := c.sched[class&1]
	if !s.TryEnter() {
		tag := tagOf(ctx)
		if err := s.Enter(ctx, sched.Priority(tag.level(req)), shortTenant(tag.tenant), c.policy(tag.tenant).Weight); err != nil {
			return err
		}
	}
	var err error
	if c.fair {
		tag := tagOf(ctx)
		p := tag.level(req)
		t := c.taker(tag, p)
		lvl, weight := sched.Priority(p), t.Weight
		if from, ok := s.ShareTurn(); ok {
			// Served for its level's share while a higher level waits:
			// the store serves it as that level, so that the marks of
			// this Client's own waiting callers do not defer it.
			t.Level = backendLevel(Priority(from))
		}
		given := false // the baton was yielded and not had back
		err = c.limiter.WaitAs(ctx, class, t, func(ctx context.Context, d time.Duration) (bool, error) {
			yielded, err := s.Yield(ctx, lvl, t.Tenant, weight, d)
			given = err != nil
			return yielded, err
		})
		if given {
			return err
		}
	} else {
		err = c.limiter.Wait(ctx, class)
	}
	s.Leave()
	if err != nil {
		var rl *quota.RateLimitError
		if errors.As(err, &rl) {
			tag := tagOf(ctx)
			s.Refused(sched.Priority(tag.level(req)), shortTenant(tag.tenant))
		}
	}
	return err
}

// taker is who takes a token at level p for tag's tenant, for a store that
// orders takers across its clients: the level, and the tenant (names longer
// than MaxTenantName cut, with a hash of the whole name) with its weight.
func (c *Client) taker(tag callTag, p Priority) backend.Taker {
	t := backend.Taker{Tenant: tag.tenant, Weight: 1, Level: backendLevel(p)}
	if tag.tenant != "" {
		t.Weight = c.policy(tag.tenant).Weight
		t.Tenant = shortTenant(t.Tenant)
	}
	return t
}

// shortTenant is the name under which the Client keeps and shows a tenant
// (its queues, Usage, the metrics, the store's keys): the name itself, or
// for a name longer than MaxTenantName its first bytes and a hash of the
// whole, MaxTenantName bytes at most.
func shortTenant(name string) string {
	if len(name) <= MaxTenantName {
		return name
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return name[:MaxTenantName-17] + "#" + strconv.FormatUint(h.Sum64(), 16)
}

// backendLevel is the store's level of p.
func backendLevel(p Priority) backend.Level {
	switch p {
	case PriorityCritical:
		return backend.LevelCritical
	case PriorityBackground:
		return backend.LevelBackground
	}
	return backend.LevelNormal
}

// level is the level of req under tag: tag's, or req's default.
func (t callTag) level(req *http.Request) Priority {
	if t.set {
		return t.prio
	}
	return defaultPriority(req)
}

// defaultPriority is the level of a request whose ctx sets none: critical
// for a request that frees quota (a Room completed, a Participant
// disconnected), normal otherwise.
func defaultPriority(req *http.Request) Priority {
	if req == nil || req.Method != http.MethodPost || req.GetBody == nil {
		return PriorityNormal
	}
	path := strings.TrimSuffix(req.URL.Path, "/")
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var want string
	switch {
	case len(parts) == 3 && parts[1] == "Rooms":
		want = "Status=completed"
	case len(parts) == 5 && parts[1] == "Rooms" && parts[3] == "Participants":
		want = "Status=disconnected"
	default:
		return PriorityNormal
	}
	body, err := req.GetBody()
	if err != nil {
		return PriorityNormal
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 4<<10))
	if err != nil {
		return PriorityNormal
	}
	for f := range bytes.SplitSeq(b, []byte("&")) {
		if string(f) == want {
			return PriorityCritical
		}
	}
	return PriorityNormal
}

// backgroundLoop marks ctx of the Client's own loops as background, unless
// the caller set a level.
func backgroundLoop(ctx context.Context) context.Context {
	if tagOf(ctx).set {
		return ctx
	}
	return WithPriority(ctx, PriorityBackground)
}

// PriorityUsage is how the callers of one class and level waited for rate
// tokens in this Client; see [Client.PriorityUsage].
type PriorityUsage struct {
	Queued   int64         // callers that waited behind another caller, then got their turn
	Canceled int64         // callers whose ctx ended (or the Client closed) while they waited
	Waited   time.Duration // total time the Queued callers waited for their turn
	Waiting  int           // callers waiting now
}

// PriorityUsage returns how callers of class at level p waited for their
// turn to take a rate token. Callers that found no one ahead are not
// counted here (they take the token without reading their level); refusals
// of the rate limiter itself (a deadline too near) are counted in
// [Client.Usage].
func (c *Client) PriorityUsage(class quota.Class, p Priority) PriorityUsage {
	st := c.sched[class&1].Stats(sched.Priority(min(p, PriorityBackground)))
	return PriorityUsage{Queued: st.Queued, Canceled: st.Canceled, Waited: st.Waited, Waiting: st.Waiting}
}
