package main

import (
	"os"
	"strings"
	"testing"

	"github.com/videoquota/videoquota/quota/redisstore/redistest"
)

// TestMain lets the test binary serve as the child processes the program
// starts (it re-executes itself).
func TestMain(m *testing.M) {
	if conf := os.Getenv(envChild); conf != "" {
		if err := child(conf); err != nil {
			os.Stderr.WriteString("multiinstance child: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestMultiInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several processes")
	}
	srv := redistest.Start(t)
	var out strings.Builder
	err := parent([]string{"-processes", "3", "-rooms", "5", "-attempts", "4", "-redis", srv.Addr}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"together: 5 Rooms created, 7 refused locally", "(peak 5) and answered 0 requests with 53119"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(out.String(), "reached 70% of the quota"); n != 1 {
		t.Errorf("the 70%% threshold was reported %d times, want exactly once", n)
	}
}
