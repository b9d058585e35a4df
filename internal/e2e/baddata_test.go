package e2e

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/foliostream/foliostream/internal/store"
)

// firstLine is the first "line N" an expected outcome names.
var firstLine = regexp.MustCompile(`\bline [0-9]+\b|first line|empty file`)

// Every malformed statement of the committed corpus
// (internal/parsers/testdata/bad) fed to the real `ingest` binary is
// refused with an error naming the line that internal/parsers pins for it
// (its .want file), exits non-zero, and leaves the stream and the session
// records untouched; the valid variants (BOM, CRLF) import.
func TestBadCorpusThroughIngest(t *testing.T) {
	pl := newPipeline(t)
	entries, err := os.ReadDir(badCorpus)
	if err != nil {
		t.Fatal(err)
	}
	var bad, valid []string
	for _, e := range entries {
		switch name := e.Name(); {
		case strings.HasSuffix(name, ".want"):
		case strings.HasPrefix(name, "valid_"):
			valid = append(valid, name)
		default:
			bad = append(bad, name)
		}
	}
	if len(bad) < 15 || len(valid) < 4 {
		t.Fatalf("corpus: %d bad files, %d valid ones", len(bad), len(valid))
	}
	for _, name := range bad {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(badCorpus, name+".want"))
			if err != nil {
				t.Fatal(err)
			}
			r := runIngest(t, nil, "--nats", pl.env.URL, "--account", "bad", "--log-format", "json", filepath.Join(badCorpus, name))
			if r.code != exitFailed && r.code != exitNotImported {
				t.Fatalf("exit %d, want %d or %d\nstdout: %s\nstderr: %s", r.code, exitFailed, exitNotImported, r.stdout, r.stderr)
			}
			named := firstLine.FindString(string(want))
			if name == "tastytrade_header_only.csv" {
				named = "line 1" // ingest refuses a statement without data rows
			}
			if named == "" {
				t.Fatalf("test bug: %s.want names no line", name)
			}
			if out := r.stdout + r.stderr; !strings.Contains(out, named) {
				t.Errorf("ingest's output does not name %q:\n%s", named, out)
			}
			t.Logf("exit %d: %s", r.code, lastLine(r.stderr))
		})
	}
	if n := streamCount(t, pl.env.JS); n != 0 {
		t.Fatalf("the malformed files published %d messages", n)
	}
	if recs, err := pl.sessions.List(t.Context()); err != nil || len(recs) != 0 {
		t.Fatalf("the malformed files left %d session records (%v)", len(recs), err)
	}
	for _, name := range valid {
		r := runIngest(t, nil, "--nats", pl.env.URL, "--account", "good", "--log-format", "json", filepath.Join(badCorpus, name))
		if r.code != 0 || !strings.Contains(r.stdout, "sealed") && !strings.Contains(r.stdout, "already") {
			t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", name, r.code, r.stdout, r.stderr)
		}
	}
	recs, err := pl.sessions.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Account != "good" || r.Phase != store.PhaseSealed {
			t.Errorf("session %s of %s: account %s, phase %s", r.ID, r.File, r.Account, r.Phase)
		}
	}
	requireNoDuplicates(t, pl.env.JS)
}

// exit statuses of ingest (cmd/ingest/conn.go).
const (
	exitFailed      = 1
	exitNotImported = 3
)

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// A statement with a 1 GiB line, streamed to `ingest` through a named pipe
// (never written to disk), is refused with "line 3: line too long" and
// nothing is published, and ingest's peak memory stays far below the
// line's size.
func TestOneGigabyteLineThroughIngest(t *testing.T) {
	pl := newPipeline(t)
	fifo := filepath.Join(t.TempDir(), "huge.csv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	const size = 1 << 30
	written := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			written <- err
			return
		}
		defer f.Close()
		header := "Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,Call or Put,Order #,Total,Currency\n" +
			"2025-02-01T15:00:00+0000,Money Movement,Deposit,,,,ACH DEPOSIT,100.00,0,,--,0.00,,,,,,,,100.00,USD\n" +
			"2025-01-31T15:00:00+0000,Money Movement,Deposit,,,,ACH "
		if _, err := io.WriteString(f, header); err != nil {
			written <- err
			return
		}
		chunk := []byte(strings.Repeat("x", 1<<20))
		for n := 0; n < size; n += len(chunk) {
			if _, err := f.Write(chunk); err != nil {
				written <- err
				return
			}
		}
		_, err = io.WriteString(f, ",100.00,0,,--,0.00,,,,,,,,100.00,USD\n")
		written <- err
	}()
	r := runIngest(t, nil, "--nats", pl.env.URL, "--account", "huge", "--log-format", "json", fifo)
	if err := <-written; err != nil && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("writing the pipe: %v", err)
	}
	if r.code != exitFailed || !strings.Contains(r.stderr, "line 3") || !strings.Contains(r.stderr, "line too long") {
		t.Fatalf("exit %d, want %d naming line 3 as too long\nstdout: %s\nstderr: %s", r.code, exitFailed, r.stdout, r.stderr)
	}
	t.Logf("ingest read a %d MiB line with a peak RSS of %d MiB", size>>20, r.maxRSSKiB>>10)
	if r.maxRSSKiB > 200<<10 {
		t.Errorf("ingest peak RSS %d MiB for a 1 GiB line: it holds the line", r.maxRSSKiB>>10)
	}
	if n := streamCount(t, pl.env.JS); n != 0 {
		t.Fatalf("%d messages published", n)
	}
}
