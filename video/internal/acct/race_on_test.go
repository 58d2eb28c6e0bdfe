//go:build race

package acct

// raceEnabled: the race detector slows the exploration several times over;
// it then visits the scenarios of -short only.
const raceEnabled = true
