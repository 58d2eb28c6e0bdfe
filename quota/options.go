package quota

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Clock tells the time. Every package of the module that reads the time
// takes one ([WithClock], memstore.WithClock, video.WithClock), so that a
// test drives them all with one fake clock. A nil Clock given to any
// of them is an error naming the option.
type Clock interface {
	Now() time.Time
}

// systemClock is the default Clock: time.Now.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Option configures a [Ledger] ([NewLedger]) or a [Limiter] ([NewLimiter]).
// An option that does not apply to what it
// is given, or whose value is invalid, makes the constructor fail with an
// error naming the option.
type Option func(*options) error

// options is what the options set; each constructor reads what applies.
type options struct {
	clock      Clock
	log        *slog.Logger
	logSet     bool
	subs       []subscription
	thresholds bool
}

// build applies opts over the defaults (the system clock).
func build(opts []Option) (options, error) {
	o := options{clock: systemClock{}}
	for _, opt := range opts {
		if opt == nil {
			return o, errors.New("quota: nil Option")
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// WithClock sets the clock (default the system's) that a [Ledger] stamps
// events with and that a [Limiter] times its adaptive rate by. Tests inject
// a fake one, the same they give the store (memstore.WithClock).
func WithClock(c Clock) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("quota: WithClock: nil Clock")
		}
		o.clock = c
		return nil
	}
}

// WithLogger sets the logger of a [Limiter], which reports at Warn what the
// account appears to allow once the estimate settles well under the
// configured rate (under 80% of it, held for one probe interval after a
// cut), and again only when it settles 25% away from the figure logged; and
// of a [Ledger], which reports at Warn the account's limits in force when
// they differ from its configured ones (see [NewLedger]). Nil (the default)
// is silent.
func WithLogger(log *slog.Logger) Option {
	return func(o *options) error {
		o.log, o.logSet = log, true
		return nil
	}
}

// WithThresholds registers fn, for a [Ledger], for levels (shares of each
// quota, in (0, 1]); with no levels, fn gets [DefaultThresholdLevel]. fn is
// told once when usage rises to a level and once when it falls back under
// it by 2% of the quota (at least one slot), so that it does not flap;
// Twilio's own reports reach it through [Ledger.Notify]. It may be given
// several times. Given to NewLimiter it is an error.
func WithThresholds(fn ThresholdFunc, levels ...float64) Option {
	return func(o *options) error {
		if fn == nil {
			return errors.New("quota: WithThresholds: nil ThresholdFunc")
		}
		if len(levels) == 0 {
			levels = []float64{DefaultThresholdLevel}
		}
		for _, lv := range levels {
			if !(lv > 0 && lv <= 1) {
				return fmt.Errorf("quota: WithThresholds: level %v outside (0, 1]", lv)
			}
		}
		o.subs = append(o.subs, subscription{fn: fn, levels: slices.Clone(levels)})
		o.thresholds = true
		return nil
	}
}

// only refuses the options set that do not apply to what ctor builds.
func (o *options) only(ctor string, logger, thresholds bool) error {
	if o.logSet && !logger {
		return fmt.Errorf("quota: %s: WithLogger does not apply", ctor)
	}
	if o.thresholds && !thresholds {
		return fmt.Errorf("quota: %s: WithThresholds does not apply (only a Ledger has thresholds)", ctor)
	}
	return nil
}
