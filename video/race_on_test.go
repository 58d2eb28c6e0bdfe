//go:build race

package video_test

// raceEnabled: the race detector slows JSON work several times over, so
// the largest tests pick a cheaper shape of the same check.
const raceEnabled = true
