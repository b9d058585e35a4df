//go:build unix

package proctest

import (
	"syscall"
	"time"
)

// CPUTime returns the CPU time (user and system, all threads) the process
// has used: benchmarks report it beside the wall time, because on a shared
// machine it measures the work where wall time also measures the
// neighbours.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
