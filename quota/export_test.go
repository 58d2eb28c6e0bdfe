package quota

// The adaptive rate's tuning, exported to the tests that check it.
const (
	DecreaseFactor = decreaseFactor
	FactorTTL      = factorTTL
	MinFactor      = minFactor
	DecisionGap    = decisionGap
	MinSamples     = minSamples
	ReserveHorizon = reserveHorizon
)

var (
	HealTime       = healTime
	ErrZeroLimiter = errZeroLimiter
)

// Stopped returns a channel closed when l's event goroutine has ended: every
// event decided before Close has then been delivered. Close itself returns
// at once when a ThresholdFunc is running; tests that count events after
// Close wait on this too.
func Stopped(l *Ledger) <-chan struct{} { return l.stopped }
