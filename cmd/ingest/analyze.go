package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/chunker"
	"github.com/foliostream/foliostream/internal/parsers"
)

// Exit statuses of ingest analyze.
const (
	exitInvalidRows = 1 // the file was read but has row errors: it would be rejected
	exitUsage       = 2 // bad flags or arguments
	exitUnreadable  = 3 // the file cannot be read or is not a statement
)

const analyzeUsage = `usage: ingest analyze [flags] FILE

Reads a broker statement, validates every row and prints the analysis and the
chunk plan an import would publish. Publishes nothing.

Exit status: 0 the file is valid; 1 it has row errors (the analysis is printed,
the errors are summarised on stderr); 2 bad usage; 3 the file cannot be read or
is not a Tastytrade or IBKR statement.

Flags:
`

// analyzeConfig is the configuration of ingest analyze.
type analyzeConfig struct {
	// Path is the statement to read.
	Path string
	// Broker is "auto", "tastytrade" or "ibkr".
	Broker string
	// Account scopes movement and session IDs.
	Account string
	// Format is "json" or "table".
	Format string
	// Movements also prints every movement, chunk by chunk.
	Movements bool
	// Budget is the chunk byte budget.
	Budget int
	// OpenBytes bounds the chunks --movements holds at once, as import's.
	OpenBytes int
}

func (c *analyzeConfig) validate() error {
	switch c.Broker {
	case "auto", events.BrokerTastytrade, events.BrokerIBKR:
	default:
		return fmt.Errorf("--broker %q: want auto, %s or %s", c.Broker, events.BrokerTastytrade, events.BrokerIBKR)
	}
	if err := events.ValidateAccount(c.Account); err != nil {
		return fmt.Errorf("--account: %w", err)
	}
	if c.Format != "json" && c.Format != "table" {
		return fmt.Errorf("--format %q: want json or table", c.Format)
	}
	if c.Budget < chunker.MinByteBudget {
		return fmt.Errorf("--budget %d: want at least %d bytes", c.Budget, chunker.MinByteBudget)
	}
	if c.OpenBytes < minOpenBytes {
		return fmt.Errorf("--open-bytes %d: want at least %d (1 MiB)", c.OpenBytes, minOpenBytes)
	}
	return nil
}

func cmdAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := analyzeConfig{}
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), analyzeUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Broker, "broker", "auto", "statement format: auto, tastytrade or ibkr")
	fs.StringVar(&cfg.Account, "account", "default", "account the movements belong to (letters, digits, '-', '_')")
	fs.StringVar(&cfg.Format, "format", "json", "output format: json or table")
	fs.BoolVar(&cfg.Movements, "movements", false, "also print every movement, chunk by chunk")
	fs.IntVar(&cfg.Budget, "budget", chunker.DefaultByteBudget, "chunk byte budget")
	fs.IntVar(&cfg.OpenBytes, "open-bytes", chunker.DefaultOpenBytes, "bytes of chunks pass 2 may hold at once, as import's: the passes it needs are printed, and --movements reads a statement in sections that needs more once per window of weeks, as import does")

	// Flags may come before or after FILE.
	b := bindConfig(fs)
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return &exitError{exitUsage, err}
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if err := b.Apply(); err != nil {
		return &exitError{exitUsage, fmt.Errorf("analyze: %w", err)}
	}
	if len(files) != 1 {
		fs.Usage()
		return &exitError{exitUsage, fmt.Errorf("analyze: want exactly one FILE, got %d", len(files))}
	}
	cfg.Path = files[0]
	if err := cfg.validate(); err != nil {
		return &exitError{exitUsage, fmt.Errorf("analyze: %w", err)}
	}
	return runAnalyze(ctx, cfg, stdout, stderr)
}

func runAnalyze(ctx context.Context, cfg analyzeConfig, stdout, stderr io.Writer) error {
	ccfg := chunker.Config{Account: cfg.Account, Broker: cfg.Broker, File: filepath.Base(cfg.Path), ByteBudget: cfg.Budget}
	a, err := analyzeFile(ctx, cfg.Path, ccfg)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", cfg.Path, ctx.Err())
		}
		return &exitError{exitUnreadable, readHint(cfg.Path, err)}
	}

	out := bufio.NewWriter(stdout)
	var movements func(each func(m *events.Movement) error) error
	if cfg.Movements {
		windows := func(n int) {
			fmt.Fprintf(stderr, "%s: rows in sections: read %d times, once per window of weeks, to hold at most --open-bytes %d of chunks (one pass: %d)\n",
				cfg.Path, n, cfg.OpenBytes, a.PeakOpenBytes)
		}
		movements = func(each func(m *events.Movement) error) error {
			return buildFile(ctx, cfg.Path, a, ccfg, cfg.OpenBytes, windows, func(c *events.Chunk) error {
				for i := range c.Movements {
					if err := each(&c.Movements[i]); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	if cfg.Format == "json" {
		err = writeJSON(out, cfg.Path, a, cfg.OpenBytes, movements)
	} else {
		err = writeTable(out, cfg.Path, a, cfg.OpenBytes, movements)
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", cfg.Path, ctx.Err())
		}
		if errors.Is(err, chunker.ErrFileChanged) {
			return &exitError{exitUnreadable, fmt.Errorf("%s: %w (was it still being written?)", cfg.Path, err)}
		}
		return &exitError{exitUnreadable, fmt.Errorf("%s: %w", cfg.Path, err)}
	}

	if a.RowErrorCount > 0 {
		writeErrorSummary(stderr, cfg.Path, a)
		return &exitError{exitInvalidRows, fmt.Errorf("%s: %d invalid row(s) of %d; fix them, or import with --skip-invalid to publish only the valid rows",
			cfg.Path, a.RowErrorCount, a.Rows)}
	}
	return nil
}

func analyzeFile(ctx context.Context, path string, cfg chunker.Config) (*chunker.Analysis, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return chunker.Analyze(ctxReadSeeker{ctxReader{ctx, f}, f}, cfg)
}

// ctxReader stops a read when ctx is done, so Ctrl-C interrupts the analysis
// of a large file.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ctxReadSeeker is a ctxReader over a seekable file, so that
// chunker.Analyze can read a file out of time order a second time.
type ctxReadSeeker struct {
	ctxReader
	s io.Seeker
}

func (c ctxReadSeeker) Seek(offset int64, whence int) (int64, error) {
	return c.s.Seek(offset, whence)
}

// buildFile runs pass 2 over path, once per window of a.Windows(openBytes)
// (one for a file in time order; several are first told to notice), and
// hands emit every chunk.
func buildFile(ctx context.Context, path string, a *chunker.Analysis, cfg chunker.Config, openBytes int,
	notice func(windows int), emit func(*events.Chunk) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	windows := a.Windows(openBytes)
	if len(windows) > 1 {
		notice(len(windows))
	}
	for k, w := range windows {
		if k > 0 {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
		}
		err := chunker.BuildWindow(ctxReader{ctx, f}, a, cfg, w, nil, func(c *events.Chunk) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return emit(c)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// readHint explains a file-level failure in terms a person can act on.
func readHint(path string, err error) error {
	var hint string
	switch {
	case errors.Is(err, os.ErrNotExist):
		hint = "check the path"
	case errors.Is(err, parsers.ErrUnrecognized):
		hint = "expected a Tastytrade transaction-history CSV or an IBKR activity statement CSV; if it is one, pass --broker"
	case errors.Is(err, parsers.ErrBadHeader):
		hint = "the header row does not match the broker's format; check --broker and that the file is an unmodified export"
	case errors.Is(err, parsers.ErrEmpty):
		hint = "the file is empty"
	case errors.Is(err, chunker.ErrTooLarge):
		hint = "raise --budget"
	}
	if hint == "" {
		return fmt.Errorf("%s: %w", path, err)
	}
	return fmt.Errorf("%s: %w (%s)", path, err, hint)
}

// maxSummaryErrors bounds the row errors listed on stderr.
const maxSummaryErrors = 20

func writeErrorSummary(w io.Writer, path string, a *chunker.Analysis) {
	fmt.Fprintf(w, "%s: %d row error(s):\n", path, a.RowErrorCount)
	for i := range a.RowErrors {
		if i == maxSummaryErrors {
			fmt.Fprintf(w, "  … and %d more (all %d listed in the analysis, up to %d)\n",
				a.RowErrorCount-maxSummaryErrors, a.RowErrorCount, chunker.DefaultMaxReported)
			break
		}
		fmt.Fprintf(w, "  %v\n", &a.RowErrors[i])
	}
}

// analysisJSON is the JSON form of an analysis. The movements list, when
// asked for, is streamed after it.
type analysisJSON struct {
	File          string              `json:"file"`
	SHA256        string              `json:"sha256"`
	Bytes         int64               `json:"bytes"`
	SessionID     string              `json:"session_id"`
	Broker        string              `json:"broker"`
	Account       string              `json:"account"`
	Rows          int                 `json:"rows"`
	MovementCount int                 `json:"movement_count"`
	Counts        map[events.Kind]int `json:"counts"`
	RowErrors     []rowErrorJSON      `json:"row_errors"`
	RowErrorCount int                 `json:"row_error_count"`
	Ignored       []ignoredJSON       `json:"ignored"`
	IgnoredCount  int                 `json:"ignored_count"`
	MinTime       *events.WallTime    `json:"min_time"`
	MaxTime       *events.WallTime    `json:"max_time"`
	ByteBudget    int                 `json:"byte_budget"`
	// PeakOpenBytes is what one pass 2 would hold at once
	// (chunker.Analysis.PeakOpenBytes): above --open-bytes, an import
	// reads the file once per window of weeks.
	PeakOpenBytes int `json:"peak_open_bytes"`
	// OpenBytes is the --open-bytes the passes are counted for, and
	// Passes the reads of the file an import's pass 2 makes under it
	// (chunker.Analysis.Windows): 1 unless PeakOpenBytes is above it.
	OpenBytes int `json:"open_bytes"`
	Passes    int `json:"passes"`
	// Plan is the plan's events.PlanFingerprint, as session.started and
	// the session record carry it.
	Plan   string            `json:"plan"`
	Chunks []events.ChunkRef `json:"chunks"`
}

type rowErrorJSON struct {
	Line   int    `json:"line"`
	Column string `json:"column"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

type ignoredJSON struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// movementJSON is a movement as events encodes it, plus its day, and with
// the ticker always present (empty for cash).
type movementJSON struct {
	*events.Movement
	Date   events.Date `json:"date"`
	Ticker string      `json:"ticker"`
}

func toJSON(path string, a *chunker.Analysis, openBytes int) *analysisJSON {
	j := &analysisJSON{
		File: path, SHA256: a.SHA256, Bytes: a.Bytes, SessionID: a.SessionID, Broker: a.Broker, Account: a.Account,
		Rows: a.Rows, MovementCount: a.Movements, Counts: make(map[events.Kind]int),
		RowErrors: []rowErrorJSON{}, RowErrorCount: a.RowErrorCount,
		Ignored: []ignoredJSON{}, IgnoredCount: a.IgnoredCount,
		ByteBudget: a.ByteBudget, PeakOpenBytes: a.PeakOpenBytes, Plan: a.Plan.Fingerprint(), Chunks: a.Plan.Refs(),
		OpenBytes: openBytes, Passes: len(a.Windows(openBytes)),
	}
	for _, k := range events.Kinds {
		j.Counts[k] = a.Counts[k]
	}
	for k, n := range a.Counts {
		j.Counts[k] = n
	}
	for i := range a.RowErrors {
		r := a.RowErrors[i].Reject()
		j.RowErrors = append(j.RowErrors, rowErrorJSON{Line: r.Line, Column: r.Column, Value: r.Value, Reason: r.Reason})
	}
	for _, ig := range a.Ignored {
		j.Ignored = append(j.Ignored, ignoredJSON{Line: ig.Line, Reason: ig.Reason})
	}
	if a.Movements > 0 || a.Plan.Len() > 0 {
		j.MinTime, j.MaxTime = &a.MinTime, &a.MaxTime
	}
	if j.Chunks == nil {
		j.Chunks = []events.ChunkRef{}
	}
	return j
}

func writeJSON(w io.Writer, path string, a *chunker.Analysis, openBytes int, movements func(func(*events.Movement) error) error) error {
	b, err := json.MarshalIndent(toJSON(path, a, openBytes), "", "  ")
	if err != nil {
		return err
	}
	if movements == nil {
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	// Stream the movements into the object, one per line, chunk by chunk.
	b = b[:len(b)-len("\n}")]
	if _, err := fmt.Fprintf(w, "%s,\n  \"movements\": [", b); err != nil {
		return err
	}
	first := true
	err = movements(func(m *events.Movement) error {
		mb, err := json.Marshal(movementJSON{Movement: m, Date: m.Time.Day(), Ticker: m.Ticker})
		if err != nil {
			return err
		}
		sep := ",\n    "
		if first {
			sep, first = "\n    ", false
		}
		_, err = fmt.Fprintf(w, "%s%s", sep, mb)
		return err
	})
	// Close the document even after an error, so what was printed parses.
	if _, werr := io.WriteString(w, "\n  ]\n}\n"); err == nil {
		err = werr
	}
	return err
}

func writeTable(w io.Writer, path string, a *chunker.Analysis, openBytes int, movements func(func(*events.Movement) error) error) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	p("file\t%s\n", path)
	p("sha256\t%s\n", a.SHA256)
	p("bytes\t%d\n", a.Bytes)
	p("session\t%s\n", a.SessionID)
	p("broker\t%s\n", a.Broker)
	p("account\t%s\n", a.Account)
	p("rows\t%d (%d ignored, %d with errors)\n", a.Rows, a.IgnoredCount, a.RowErrorCount)
	p("movements\t%d\n", a.Movements)
	for _, k := range events.Kinds {
		if n := a.Counts[k]; n > 0 {
			p("  %s\t%d\n", k, n)
		}
	}
	if a.Movements > 0 || a.Plan.Len() > 0 {
		p("time range\t%s .. %s\n", a.MinTime, a.MaxTime)
	}
	p("chunks\t%d (budget %d bytes)\n", a.Plan.Len(), a.ByteBudget)
	p("open bytes\t%d (the most one pass 2 holds)\n", a.PeakOpenBytes)
	p("passes\t%d (pass 2's reads of the file at --open-bytes %d)\n", len(a.Windows(openBytes)), openBytes)
	if err := tw.Flush(); err != nil {
		return err
	}

	if a.Plan.Len() > 0 {
		fmt.Fprintln(w)
		p("  #\tCHUNK\tMOVEMENTS\tBYTES\n")
		for _, c := range a.Plan.All() {
			p("  %d\t%s\t%d\t%d\n", c.Ordinal, c.ID, c.Movements, c.Bytes)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if a.RowErrorCount > 0 {
		fmt.Fprintf(w, "\nrow errors: %d", a.RowErrorCount)
		if len(a.RowErrors) < a.RowErrorCount {
			fmt.Fprintf(w, " (first %d)", len(a.RowErrors))
		}
		fmt.Fprintln(w)
		p("  LINE\tCOLUMN\tVALUE\tREASON\n")
		for i := range a.RowErrors {
			r := a.RowErrors[i].Reject()
			p("  %d\t%s\t%s\t%s\n", r.Line, dash(r.Column), dash(quoteIf(r.Value)), r.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if a.IgnoredCount > 0 {
		fmt.Fprintf(w, "\nignored rows: %d", a.IgnoredCount)
		if len(a.Ignored) < a.IgnoredCount {
			fmt.Fprintf(w, " (first %d)", len(a.Ignored))
		}
		fmt.Fprintln(w)
		p("  LINE\tREASON\n")
		for _, ig := range a.Ignored {
			p("  %d\t%s\n", ig.Line, ig.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if movements == nil {
		return nil
	}
	fmt.Fprintln(w, "\nmovements (chunk by chunk):")
	p("  TIME\tKIND\tCODE/TYPE\tTICKER\tCURRENCY\tQTY\tPRICE\tAMOUNT\tID\n")
	n := 0
	err := movements(func(m *events.Movement) error {
		what := string(m.Code)
		if m.Kind == events.KindCash {
			what = string(m.CashType)
		}
		if m.Kind == events.KindOption || m.Kind == events.KindStrikeAdjustment {
			what += " " + string(m.OptionType) + " " + m.Strike.String() + " " + m.Expiration.String()
		}
		amount := m.Amount
		if m.Kind == events.KindOption {
			amount = m.Premium
		}
		p("  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Time, m.Kind, dash(strings.TrimSpace(what)), dash(m.Ticker), m.Currency,
			decOrDash(m.Quantity.String(), m.Quantity.IsZero()), decOrDash(m.Price.String(), m.Price.IsZero()),
			decOrDash(amount.String(), amount.IsZero()), m.ID)
		n++
		if n%1000 == 0 { // keep the tabwriter's buffer bounded
			return tw.Flush()
		}
		return nil
	})
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func quoteIf(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf("%q", s)
}

func decOrDash(s string, zero bool) string {
	if zero {
		return "-"
	}
	return s
}
