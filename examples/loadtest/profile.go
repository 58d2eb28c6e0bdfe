package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// profileConfig names the files the profiles of a run go to ("": none).
type profileConfig struct {
	cpu, mutex string
}

func profileFlags(fs *flag.FlagSet, c *profileConfig) {
	fs.StringVar(&c.cpu, "cpuprofile", "", "write a CPU profile of the run (this process: the clients and the emulator) to this file")
	fs.StringVar(&c.mutex, "mutexprofile", "", "write a profile of the time goroutines waited on locks to this file")
}

// start starts the profiles asked for and returns what stops them and
// writes them out.
func (c profileConfig) start() (stop func(), err error) {
	var cpu *os.File
	if c.cpu != "" {
		if cpu, err = os.Create(c.cpu); err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			_ = cpu.Close()
			return nil, err
		}
	}
	if c.mutex != "" {
		runtime.SetMutexProfileFraction(5)
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "loadtest: cpu profile:", err)
			}
		}
		if c.mutex != "" {
			if err := writeProfile("mutex", c.mutex); err != nil {
				fmt.Fprintln(os.Stderr, "loadtest: mutex profile:", err)
			}
		}
	}, nil
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
