package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/streams"
)

// Report statuses.
const (
	statusImported        = "imported"
	statusAlreadyImported = "already imported"
	statusRejected        = "rejected"
	statusFailed          = "failed"
	statusCancelled       = "cancelled"
)

// importReport is what ingest says about one file: printed after an import,
// and written beside a dropped file as <name>.report.txt / .report.json.
type importReport struct {
	File    string `json:"file"`
	Path    string `json:"path"`
	Status  string `json:"status"`
	Outcome string `json:"outcome,omitempty"`
	Session string `json:"session,omitempty"`
	Account string `json:"account,omitempty"`
	Broker  string `json:"broker,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Phase   string `json:"phase,omitempty"`
	// Rows and movements of the file.
	Rows      int `json:"rows"`
	Movements int `json:"movements"`
	// Chunks of the plan; Published by this run, Resumed before it.
	Chunks    int `json:"chunks"`
	Published int `json:"published"`
	Resumed   int `json:"resumed"`
	// RowErrors counts the rows with errors; Rejects lists them (up to the
	// analysis limit).
	RowErrors  int                `json:"row_errors"`
	Rejects    []events.RowReject `json:"rejects,omitempty"`
	Superseded string             `json:"superseded,omitempty"`
	Error      string             `json:"error,omitempty"`

	invalidRows bool // refused for its row errors
}

// newReport describes the outcome of importing path.
func newReport(path string, res *streams.Result, err error) *importReport {
	r := &importReport{File: filepath.Base(path), Path: path}
	if res != nil {
		if a := res.Analysis; a != nil {
			r.Session, r.Account, r.Broker, r.SHA256 = a.SessionID, a.Account, a.Broker, a.SHA256
			r.Rows, r.Movements, r.Chunks, r.RowErrors = a.Rows, a.Movements, a.Plan.Len(), a.RowErrorCount
			for i := range a.RowErrors {
				r.Rejects = append(r.Rejects, a.RowErrors[i].Reject())
			}
		}
		if s := res.Session; s != nil {
			r.Phase = s.Phase
		}
		r.Outcome, r.Published, r.Resumed, r.Superseded = string(res.Outcome), res.Published, res.Skipped, res.Superseded
	}
	switch {
	case err == nil && res.Outcome.AlreadyImported():
		r.Status = statusAlreadyImported
	case err == nil:
		r.Status = statusImported
	case errors.Is(err, streams.ErrCancelled):
		r.Status = statusCancelled
	case streams.Rejection(err):
		r.Status = statusRejected
	default:
		r.Status = statusFailed
	}
	if err != nil {
		r.Error = err.Error()
		r.invalidRows = errors.Is(err, streams.ErrInvalidRows)
	}
	return r
}

// summary is the one line printed for a file.
func (r *importReport) summary() string {
	switch r.Status {
	case statusImported:
		s := fmt.Sprintf("%s: session %s sealed: %d chunks (%d published now, %d before), %d movements", r.File, r.Session, r.Chunks, r.Published, r.Resumed, r.Movements)
		if r.RowErrors > 0 {
			s += fmt.Sprintf(", %d invalid rows skipped", r.RowErrors)
		}
		if r.Superseded != "" {
			s += fmt.Sprintf("; earlier session %s of this path failed (%s)", r.Superseded, streams.ReasonFileModified)
		}
		return s
	case statusAlreadyImported:
		return fmt.Sprintf("%s: already imported: session %s is %s, nothing published", r.File, r.Session, r.Phase)
	case statusRejected:
		if r.invalidRows {
			return fmt.Sprintf("%s: rejected: %d of %d rows have errors; nothing published (fix them, or use --skip-invalid)", r.File, r.RowErrors, r.Rows)
		}
		return fmt.Sprintf("%s: rejected: %s", r.File, r.Error)
	}
	return fmt.Sprintf("%s: %s: %s", r.File, r.Status, r.Error)
}

// text is the full human report: the summary, the file's identity and every
// listed row error.
func (r *importReport) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", r.summary())
	p := func(k string, v any) { fmt.Fprintf(&b, "%-10s %v\n", k+":", v) }
	p("file", r.Path)
	p("status", r.Status)
	if r.Session != "" {
		p("session", r.Session)
		p("account", r.Account)
		p("broker", r.Broker)
		p("sha256", r.SHA256)
		p("rows", r.Rows)
		p("movements", r.Movements)
		p("chunks", fmt.Sprintf("%d (%d published now, %d before)", r.Chunks, r.Published, r.Resumed))
	}
	if r.Phase != "" {
		p("phase", r.Phase)
	}
	if r.Error != "" {
		p("error", r.Error)
	}
	if r.RowErrors > 0 {
		fmt.Fprintf(&b, "\nrow errors: %d", r.RowErrors)
		if len(r.Rejects) < r.RowErrors {
			fmt.Fprintf(&b, " (first %d listed)", len(r.Rejects))
		}
		b.WriteString("\n")
		for _, rj := range r.Rejects {
			b.WriteString("  " + rejectLine(rj) + "\n")
		}
	}
	return b.String()
}

// rejectLine formats a row error: line, column, value, reason.
func rejectLine(rj events.RowReject) string {
	s := fmt.Sprintf("line %d", rj.Line)
	if rj.Column != "" {
		s += fmt.Sprintf(", column %q", rj.Column)
	}
	if rj.Value != "" {
		s += fmt.Sprintf(", value %q", rj.Value)
	}
	return s + ": " + rj.Reason
}
