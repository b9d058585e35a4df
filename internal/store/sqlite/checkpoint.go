package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"sync/atomic"
)

// walBackstop is the writer's wal_autocheckpoint, in pages: the WAL size at
// which a commit checkpoints by itself. The checkpointer keeps the WAL far
// below it; the writer checkpoints only if the checkpointer falls behind
// (SQLite's default, 1,000 pages, is 16 MB with 16 KiB pages: a projector
// batch of ~50,000 movements passes it, so every commit checkpointed).
const walBackstop = 4000

// checkpointer copies committed WAL frames into the database file on a
// connection of its own, after each commit, so that the writer does not:
// with SQLite's automatic checkpoint, the commit that crosses the WAL's
// limit copies the frames and syncs the file before it returns, and the
// projector's next batch waits for it. A PASSIVE checkpoint takes no
// writer lock and copies what no reader still needs; what it leaves, the
// next one copies. Durability is unchanged: a commit is durable in the WAL
// (synchronous=FULL) before the checkpoint copies it.
//
// The Store owns it: Open starts its goroutine, Close stops it (any
// checkpoint in progress is interrupted; the last connection to close
// checkpoints the WAL anyway).
type checkpointer struct {
	db     *sql.DB // one connection, read-write
	log    *slog.Logger
	wake   chan struct{} // capacity 1: a commit since the last checkpoint
	cancel context.CancelFunc
	done   chan struct{}
	runs   atomic.Int64 // checkpoints run, for tests
	failed bool         // the last checkpoint failed (logged once per run of failures)
}

// startCheckpointer opens the checkpointer's connection with dsn and starts
// its goroutine.
func startCheckpointer(dsn string, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	keepOneConn(db)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, log: log, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

// committed tells the checkpointer that a transaction committed. It never
// blocks. A nil checkpointer (the migrations run before it starts) does
// nothing.
func (c *checkpointer) committed() {
	if c == nil {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default: // one is due already
	}
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		_, err := c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		c.runs.Add(1)
		switch {
		case err != nil && ctx.Err() == nil && !c.failed:
			// The WAL keeps growing until one succeeds (the writer's
			// backstop checkpoints too); a write that cannot go on
			// fails by itself.
			c.failed = true
			c.log.Warn("sqlite: background checkpoint failed; the WAL grows until one succeeds", "err", err)
		case err == nil && c.failed:
			c.failed = false
			c.log.Info("sqlite: background checkpoints succeed again")
		}
	}
}

// stop stops the goroutine and closes the connection.
func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
