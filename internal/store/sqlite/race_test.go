//go:build race

package sqlite_test

// raceEnabled: the race detector makes the memory tests slow (and its
// bookkeeping is no part of what they measure); they run without it.
const raceEnabled = true
