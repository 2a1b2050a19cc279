package invoicepdf

import (
	"context"
	"time"
)

// Clock is the time Source's gate and cache see.
type Clock = clock

// Hooks tell a test where calls wait.
type Hooks = hooks

// Constants of the rule, for tests to name them.
const (
	ReportWait   = reportWait
	FirstPause   = firstPause
	MaxPause     = maxPause
	BusyAbsolute = busyAbsolute
	RecentTTL    = recentTTL
)

// SetTestDoubles makes s use c instead of real time, probe instead of
// odooweb.Client.Ping, and h; before s's first use.
func SetTestDoubles(s *Source, c Clock, probe func(context.Context) (time.Duration, error), h Hooks) {
	s.clock, s.probe, s.hooks = c, probe, h
}
