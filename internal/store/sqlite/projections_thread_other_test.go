//go:build !linux

package sqlite_test

import "time"

// threadCPU is 0: only Linux measures a thread's CPU time here.
func threadCPU() time.Duration { return 0 }
