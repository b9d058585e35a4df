package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/nats-io/nats.go/jetstream"
)

const statusUsage = `usage: ingest status [flags]

Lists import sessions from the session records (KV bucket FOLIO_SESSIONS):
file, account, broker, SHA-256, phase (publishing, sealed, completed, failed,
cancelled), chunks published / total, movements, rejected rows, timings and
the last error. --session shows one session; --format json prints records.

Flags:
`

// statusConfig is the configuration of `ingest status`.
type statusConfig struct {
	conn connFlags
	// Session shows only this session.
	Session string
	// Account lists only this account's sessions.
	Account string
	// Format is table or json.
	Format string
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := statusConfig{}
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), statusUsage)
		fs.PrintDefaults()
	}
	cfg.conn.register(fs)
	fs.StringVar(&cfg.Session, "session", "", "show only this session ID")
	fs.StringVar(&cfg.Account, "account", "", "list only this account's sessions")
	fs.StringVar(&cfg.Format, "format", "table", "output format: table or json")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{exitBadUsage, err}
	}
	if len(rest) > 0 {
		return &exitError{exitBadUsage, fmt.Errorf("status: unexpected argument %q", rest[0])}
	}
	if cfg.Format != "table" && cfg.Format != "json" {
		return &exitError{exitBadUsage, fmt.Errorf("--format %q: want table or json", cfg.Format)}
	}
	if err := cfg.conn.validate(); err != nil {
		return &exitError{exitBadUsage, err}
	}
	return runStatus(ctx, cfg, stdout, stderr)
}

func runStatus(ctx context.Context, cfg statusConfig, stdout, stderr io.Writer) error {
	log := newLogger(cfg.conn.LogFormat, stderr)
	c, err := connect(ctx, cfg.conn, log, connectOptions{})
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		// Nothing was ever imported here.
		return printSessions(stdout, cfg.Format, nil, time.Now())
	}
	if err != nil {
		return &exitError{exitFailed, err}
	}
	defer c.Close()
	var recs []*streams.SessionRecord
	if cfg.Session != "" {
		r, err := c.sessions.Get(ctx, cfg.Session)
		if err != nil {
			return &exitError{exitFailed, err}
		}
		recs = []*streams.SessionRecord{r}
	} else {
		all, err := c.sessions.List(ctx)
		if err != nil {
			return &exitError{exitFailed, err}
		}
		for _, r := range all {
			if cfg.Account == "" || r.Account == cfg.Account {
				recs = append(recs, r)
			}
		}
	}
	return printSessions(stdout, cfg.Format, recs, time.Now())
}

// printSessions writes session records as JSON (the records themselves) or
// as a table.
func printSessions(w io.Writer, format string, recs []*streams.SessionRecord, now time.Time) error {
	if recs == nil {
		recs = []*streams.SessionRecord{}
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(recs)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tACCOUNT\tBROKER\tFILE\tSHA256\tPHASE\tCHUNKS\tMOVEMENTS\tREJECTED\tSTARTED\tDURATION\tERROR")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%d/%d\t%d\t%s\t%s\t%s\n",
			r.ID, r.Account, r.Broker, r.File, short(r.SHA256, 12), r.Phase,
			r.ChunksDone(), r.TotalChunks, r.PublishedMovements, r.Movements, r.Rejected,
			stamp(r.StartedAt), duration(r, now), r.Error)
	}
	return tw.Flush()
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// duration is how long the session took to its latest milestone (or has
// been running, when it is still publishing).
func duration(r *streams.SessionRecord, now time.Time) string {
	if r.StartedAt.IsZero() {
		return "-"
	}
	end := now
	switch r.Phase {
	case store.PhaseCompleted:
		end = r.CompletedAt
	case store.PhaseSealed:
		end = r.SealedAt
	case store.PhaseFailed:
		end = r.FailedAt
	case store.PhaseCancelled:
		end = r.CancelledAt
	}
	if end.IsZero() {
		return "-"
	}
	return end.Sub(r.StartedAt).Round(time.Millisecond).String()
}
