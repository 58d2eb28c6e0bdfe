package quota

import "github.com/videoquota/videoquota/quota/backend"

// The value types of a quota, declared in package backend (which store
// implementers import, and which cannot import quota) and named here for
// applications. See each one's documentation in package backend.
type (
	Class         = backend.Class
	ExceededError = backend.ExceededError
	FactorError   = backend.FactorError
	Rate          = backend.Rate
	Resource      = backend.Resource
	Source        = backend.Source
)

// Resources, classes, sources and Twilio codes; see package backend.
const (
	CodeApproachingQuota     = backend.CodeApproachingQuota
	CodeParticipantsExceeded = backend.CodeParticipantsExceeded
	CodeRoomsExceeded        = backend.CodeRoomsExceeded
	CodeTooManyRequests      = backend.CodeTooManyRequests
	Participants             = backend.Participants
	Read                     = backend.Read
	Rooms                    = backend.Rooms
	SourceCallback           = backend.SourceCallback
	SourceLocal              = backend.SourceLocal
	SourceReconcile          = backend.SourceReconcile
	SourceTwilio             = backend.SourceTwilio
	Write                    = backend.Write
)

// ErrExceeded matches every refusal for a concurrency quota with errors.Is.
var (
	ErrExceeded = backend.ErrExceeded
)

// ClassOf is [backend.ClassOf].
func ClassOf(method string) Class { return backend.ClassOf(method) }
