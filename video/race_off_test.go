//go:build !race

package video_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
