package video

import "time"

// clockFunc is a quota.Clock made of a func.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }
