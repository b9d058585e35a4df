package streams

import (
	"errors"
	"time"
)

// Metrics receives the Importer's measurements (Importer.Metrics);
// *metrics.Ingest implements it with Prometheus collectors. The methods must
// not block.
type Metrics interface {
	// File: one Import call ended with outcome (File*).
	File(outcome string)
	// Session: a session went through a transition (Session*).
	Session(outcome string)
	// ChunkPublished: a chunk of movements was acknowledged by the stream
	// took after it was sent (as the publisher observes it: at most the
	// time until the publisher looked).
	ChunkPublished(movements int, took time.Duration)
}

// Outcomes reported to Metrics.File.
const (
	FileImported        = "imported"         // published and sealed in this run
	FileAlreadyImported = "already_imported" // sealed or completed before
	FileRejected        = "rejected"         // Rejection(err): nothing published
	FileFailed          = "failed"           // ErrFileModified: the session failed
	FileCancelled       = "cancelled"        // ErrCancelled: resumable
	FileError           = "error"            // transient: retry
)

// Transitions reported to Metrics.Session.
const (
	SessionStarted   = "started"   // a new session starts publishing
	SessionResumed   = "resumed"   // an existing session publishes the rest
	SessionSealed    = "sealed"    // session.sealed published
	SessionCancelled = "cancelled" // interrupted, marked cancelled
	SessionFailed    = "failed"    // marked failed (file modified)
)

func (im *Importer) session(outcome string) {
	if im.Metrics != nil {
		im.Metrics.Session(outcome)
	}
}

// observeFile reports the outcome of one Import call.
func (im *Importer) observeFile(res *Result, err error) {
	if im.Metrics == nil {
		return
	}
	im.Metrics.File(FileOutcome(res, err))
}

// FileOutcome classifies what Import returned (File*).
func FileOutcome(res *Result, err error) string {
	switch {
	case err == nil && res != nil && res.Outcome.AlreadyImported():
		return FileAlreadyImported
	case err == nil:
		return FileImported
	case errors.Is(err, ErrCancelled):
		return FileCancelled
	case errors.Is(err, ErrFileModified):
		return FileFailed
	case Rejection(err):
		return FileRejected
	}
	return FileError
}
