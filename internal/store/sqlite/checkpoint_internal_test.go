package sqlite

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/proctest"
)

// The writer leaves checkpoints to the checkpointer: its automatic
// checkpoint is only the backstop, and after a commit the checkpointer
// copies the WAL into the database file by itself. The writes here are far
// below the backstop (and below SQLite's default of 1,000 pages), so the
// file grows only if the checkpointer ran.
func TestCheckpointerCopiesWAL(t *testing.T) {
	s := openTemp(t)
	var auto int
	if err := s.w.QueryRowContext(t.Context(), `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != walBackstop {
		t.Fatalf("writer's wal_autocheckpoint = %d, want %d", auto, walBackstop)
	}
	size := func() int64 {
		fi, err := os.Stat(s.path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	// A first write, checkpointed with the migrations' pages, so that the
	// file's size counts only the next write's.
	checkpointed := func(write func()) int64 {
		runs := s.ck.runs.Load()
		write()
		proctest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			if s.ck.runs.Load() == runs {
				return fmt.Errorf("no checkpoint after the write")
			}
			return nil
		})
		return size()
	}
	before := checkpointed(func() { writeMovements(t, s, "s1", randomHistory(rnd, "acct", 10, []string{"+0000"})) })
	after := checkpointed(func() { writeMovements(t, s, "s2", randomHistory(rnd, "acct", 2000, []string{"+0000"})) })
	// Well over 50 bytes per movement (these are small: ~150), in the file
	// only if the WAL was copied into it.
	if after < before+100<<10 {
		t.Fatalf("database file %d bytes after writing 2,000 movements, %d before: the WAL was not checkpointed", after, before)
	}
}

// Close stops the checkpointer: its goroutine is gone, and a commit
// reported after it would not block.
func TestCheckpointerStops(t *testing.T) {
	s := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.ck.done:
	default:
		t.Fatal("checkpointer still running after Close")
	}
	s.ck.committed()
	s.ck.committed()
}
