package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projector"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	_ "modernc.org/sqlite" // the bare driver baseline
)

// rawPublish publishes every chunk body of the statements, unchanged, to a
// stream of its own on the benchmark's server with the bare client:
// PublishAsync with at most maxInFlight unacknowledged (ingest's default
// bound), no headers, no session records. It returns the elapsed time.
func rawPublish(ctx context.Context, url string, sts []*statement, maxInFlight int) (time.Duration, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(maxInFlight))
	if err != nil {
		return 0, err
	}
	const name = "BENCHRAW"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{"benchraw.>"}, Storage: jetstream.FileStorage,
		MaxMsgs: -1, MaxBytes: -1, MaxMsgSize: -1, Retention: jetstream.LimitsPolicy,
	}); err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), name)
	start := time.Now()
	for _, st := range sts {
		subject := "benchraw." + st.Account
		err := readBodies(st.Bodies, func(body []byte) error {
			// The client keeps the slice until the ack: give it its own.
			// With maxInFlight unacknowledged, PublishAsync waits for
			// an ack, by default 200 ms, then fails ("stalled"): a slow
			// fsync on the server is not a failure of the baseline.
			_, err := js.PublishAsync(subject, append([]byte(nil), body...), jetstream.WithStallWait(time.Minute))
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return time.Since(start), nil
}

// rawMovementsDDL is the store's movements table (internal/store/sqlite,
// schema version 5: movement_docs, one narrow row per movement keyed by
// account, UTC instant and id, its other fields as one JSON document, and
// the partial index of strike adjustments), the one the bare inserts write.
const rawMovementsDDL = `CREATE TABLE movement_docs (
	account TEXT NOT NULL, utc INTEGER NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL,
	session TEXT NOT NULL, line INTEGER NOT NULL, doc TEXT NOT NULL,
	PRIMARY KEY (account, utc, id)
) WITHOUT ROWID;
CREATE INDEX movement_docs_adjustments ON movement_docs (account, utc, id) WHERE kind = 'strike_adjustment';`

const rawInsert = `INSERT INTO movement_docs VALUES (?,?,?,?,?,?,?)`

// rawOmit are the members the store's document leaves out (its columns).
const rawOmit = events.OmitID | events.OmitAccount | events.OmitKind | events.OmitLine

// rawSQLite inserts every movement of the statements into a fresh SQLite
// file with the bare driver: the store's pragmas (WAL, synchronous=FULL,
// the writer's cache size and temp_store, the page size), one transaction per batchSize
// chunks or 8 MiB of bodies (the projector's batch), one prepared one-row
// INSERT. Decoding the bodies is not timed. It returns the time spent in
// the inserts and commits.
func rawSQLite(ctx context.Context, dir string, sts []*statement, batchSize int) (time.Duration, error) {
	path := filepath.Join(dir, "raw.db")
	db, err := sql.Open("sqlite", path+fmt.Sprintf("?_pragma=page_size(%d)", sqlite.PageSize)+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=cache_size(-16384)&_pragma=temp_store(MEMORY)&_txlock=immediate")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, rawMovementsDDL); err != nil {
		return 0, err
	}
	return inBatches(sts, batchSize, func(batch []*events.Chunk) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, rawInsert)
		if err != nil {
			tx.Rollback()
			return err
		}
		var doc []byte
		for _, c := range batch {
			for i := range c.Movements {
				m := &c.Movements[i]
				doc = events.AppendMovementJSON(doc[:0], m, rawOmit)
				if _, err := stmt.ExecContext(ctx, m.Account, int64(m.Time)-offsetSeconds(m.Offset), m.ID,
					string(m.Kind), c.Session, m.Line, string(doc)); err != nil {
					tx.Rollback()
					return err
				}
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
		return nil
	})
}

// offsetSeconds reads an offset as the store does: "+HHMM", "-HHMM",
// "+HH:MM" or "-HH:MM", anything else zero.
func offsetSeconds(o string) int64 {
	var d string
	switch {
	case len(o) == 5:
		d = o[1:5]
	case len(o) == 6 && o[3] == ':':
		d = o[1:3] + o[4:6]
	default:
		return 0
	}
	if o[0] != '+' && o[0] != '-' {
		return 0
	}
	var n [4]int64
	for i := range n {
		if d[i] < '0' || d[i] > '9' {
			return 0
		}
		n[i] = int64(d[i] - '0')
	}
	sec := (n[0]*10+n[1])*3600 + (n[2]*10+n[3])*60
	if o[0] == '-' {
		return -sec
	}
	return sec
}

// inBatches decodes the chunk bodies of sts and hands them to insert in
// batches cut as the projector cuts them (batchSize chunks or
// projector.DefaultBatchBytes), and returns the time insert took in all.
func inBatches(sts []*statement, batchSize int, insert func(batch []*events.Chunk) error) (time.Duration, error) {
	var took time.Duration
	var batch []*events.Chunk
	bytes := 0
	flush := func() error {
		bytes = 0
		if len(batch) == 0 {
			return nil
		}
		start := time.Now()
		if err := insert(batch); err != nil {
			return err
		}
		took += time.Since(start)
		batch = batch[:0]
		return nil
	}
	for _, st := range sts {
		err := readBodies(st.Bodies, func(body []byte) error {
			e, err := events.Unmarshal(string(events.TypeChunk), events.SchemaHeader, body)
			if err != nil {
				return err
			}
			batch = append(batch, e.(*events.Chunk))
			bytes += len(body)
			if len(batch) >= batchSize || bytes >= projector.DefaultBatchBytes {
				return flush()
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return took, nil
}
