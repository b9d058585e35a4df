// Package watch is the drop folder in front of ingest: it polls a directory,
// takes each file once it is completely written, hands it to an import
// function and files it under done/ or failed/ with a report beside it.
//
// A file is taken when it is a regular file whose size and modification
// time did not change between two polls, and whose name is not a dotfile or
// a temporary name (*.tmp, *.part, *.partial, *.crdownload, *.swp, *~).
// So both ways of dropping a file work: copy it in place (it is taken once
// the copy stopped growing), or write it under a temporary or hidden name
// and rename it into place (it is taken on the poll after next).
//
// Symbolic links and anything else that is not a regular file are refused
// (moved to failed/ with a report, never followed), as is any path that
// resolves outside the directory. Files left over from a previous run are
// taken on start-up like new ones, and importing the same content twice is
// the import function's business (ingest names the second one "already
// imported" and files it under done/).
//
// Run polls in the calling goroutine (the command's errgroup owns it) and
// returns when its context ends; an import in progress sees the same
// context, and a file whose import was interrupted stays in place for the
// next run.
package watch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Subdirectories of the watched directory.
const (
	DoneDir   = "done"
	FailedDir = "failed"
)

// Defaults.
const (
	DefaultInterval   = time.Second
	DefaultRetryAfter = 10 * time.Second
)

// Errors recorded in refusal reports.
var (
	ErrSymlink    = errors.New("watch: symbolic links are refused")
	ErrNotRegular = errors.New("watch: not a regular file")
	ErrOutsideDir = errors.New("watch: path resolves outside the watched directory")
)

// Result is what an import made of a file.
type Result struct {
	// Rejected files go to failed/, the others to done/.
	Rejected bool
	// Note is a one-line summary ("imported", "already imported", …).
	Note string
	// Text is written to <name>.report.txt; JSON (when not nil) is encoded
	// to <name>.report.json.
	Text string
	JSON any
}

// ImportFunc imports the file at path. It returns an error only for
// transient failures (the file stays and is retried after
// Config.RetryAfter); a file that can never be imported is a Result with
// Rejected set.
type ImportFunc func(ctx context.Context, path string) (Result, error)

// Config configures a watcher.
type Config struct {
	// Dir is the watched directory (required); done/ and failed/ are
	// created inside it.
	Dir string
	// Import handles one file (required).
	Import ImportFunc
	// Interval between polls; 0 means DefaultInterval.
	Interval time.Duration
	// RetryAfter is the wait before retrying a file after a transient
	// error; 0 means DefaultRetryAfter.
	RetryAfter time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock (report timestamps, retry times); nil means
	// time.Now.
	Now func() time.Time
	// OnFiled, when set, is called after a file was moved to done/ or
	// failed/ (dest is its new path).
	OnFiled func(name, dest string, r Result)
}

// Watcher is a drop folder being watched. Use it from one goroutine.
type Watcher struct {
	cfg   Config
	root  string // Dir with symlinks resolved
	log   *slog.Logger
	seen  map[string]observation
	retry map[string]time.Time
}

type observation struct {
	size  int64
	mtime time.Time
}

// New checks the directory, creates done/ and failed/ in it and returns a
// watcher that has not looked at any file yet.
func New(cfg Config) (*Watcher, error) {
	if cfg.Dir == "" || cfg.Import == nil {
		return nil, errors.New("watch: Dir and Import are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("watch: %s is not a directory", cfg.Dir)
	}
	for _, d := range []string{DoneDir, FailedDir} {
		if err := ensureSubdir(root, d); err != nil {
			return nil, err
		}
	}
	return &Watcher{cfg: cfg, root: root, log: log.With("dir", root), seen: map[string]observation{}, retry: map[string]time.Time{}}, nil
}

// Run watches cfg.Dir until ctx ends; it returns nil then. It returns an
// error only when the directory cannot be used at all.
func Run(ctx context.Context, cfg Config) error {
	w, err := New(cfg)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// Run polls every Interval until ctx ends (then it returns nil).
func (w *Watcher) Run(ctx context.Context) error {
	w.log.Info("watching for statement files", "interval", w.cfg.Interval)
	ticker := time.NewTicker(w.cfg.Interval)
	defer ticker.Stop()
	for {
		if err := w.Poll(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			w.log.Info("watch stopped")
			return nil
		case <-ticker.C:
		}
	}
}

// Skipped reports whether a name is never taken: hidden and temporary
// names (a writer's file before its rename into place).
func Skipped(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
		return true
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".tmp", ".temp", ".part", ".partial", ".crdownload", ".swp", ".download":
		return true
	}
	return false
}

// Poll looks at the directory once and imports and files the entries that
// are ready. A file is ready when it looked the same on the previous Poll
// and was last modified at least Interval ago.
func (w *Watcher) Poll(ctx context.Context) error {
	entries, err := os.ReadDir(w.root)
	if err != nil {
		return fmt.Errorf("watch: read %s: %w", w.root, err)
	}
	present := make(map[string]bool, len(entries))
	for _, e := range entries {
		if ctx.Err() != nil {
			return nil
		}
		name := e.Name()
		present[name] = true
		if Skipped(name) || (e.IsDir() && (name == DoneDir || name == FailedDir)) {
			continue
		}
		path := filepath.Join(w.root, name)
		fi, err := os.Lstat(path)
		if err != nil {
			continue // gone meanwhile
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			w.refuse(name, ErrSymlink)
			continue
		case fi.IsDir():
			continue // subdirectories are not watched
		case !fi.Mode().IsRegular():
			w.refuse(name, ErrNotRegular)
			continue
		}
		if !w.stable(name, fi) || w.cfg.Now().Sub(fi.ModTime()) < w.cfg.Interval {
			continue
		}
		if at, ok := w.retry[name]; ok && w.cfg.Now().Before(at) {
			continue
		}
		if err := w.within(path); err != nil {
			w.refuse(name, err)
			continue
		}
		w.take(ctx, name, path)
	}
	for name := range w.seen {
		if !present[name] {
			delete(w.seen, name)
			delete(w.retry, name)
		}
	}
	return nil
}

// stable records fi and reports whether the file looked the same on the
// previous poll.
func (w *Watcher) stable(name string, fi fs.FileInfo) bool {
	now := observation{size: fi.Size(), mtime: fi.ModTime()}
	prev, ok := w.seen[name]
	w.seen[name] = now
	return ok && prev == now
}

// within checks that path resolves inside the watched directory.
func (w *Watcher) within(path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	rel, err := filepath.Rel(w.root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) || strings.Contains(rel, string(filepath.Separator)) {
		return fmt.Errorf("%w: %s", ErrOutsideDir, real)
	}
	return nil
}

// take imports one ready file and files it.
func (w *Watcher) take(ctx context.Context, name, path string) {
	log := w.log.With("file", name)
	log.Info("importing dropped file")
	res, err := w.cfg.Import(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			log.Warn("import interrupted; the file stays for the next run", "err", err)
			return
		}
		delete(w.seen, name) // must look stable again before the retry
		w.retry[name] = w.cfg.Now().Add(w.cfg.RetryAfter)
		log.Error("import failed; will retry", "err", err, "retry_after", w.cfg.RetryAfter)
		return
	}
	sub := DoneDir
	if res.Rejected {
		sub = FailedDir
	}
	dest, err := w.file(name, sub, res)
	if err != nil {
		w.retry[name] = w.cfg.Now().Add(w.cfg.RetryAfter)
		log.Error("could not file the imported file", "err", err)
		return
	}
	delete(w.seen, name)
	delete(w.retry, name)
	log.Info("filed", "to", dest, "note", res.Note, "rejected", res.Rejected)
	if w.cfg.OnFiled != nil {
		w.cfg.OnFiled(name, dest, res)
	}
}

// refuse files something that is not taken, with a report saying why.
func (w *Watcher) refuse(name string, why error) {
	res := Result{
		Rejected: true,
		Note:     "refused",
		Text:     fmt.Sprintf("file: %s\nrefused: %v\nat: %s\n", name, why, w.cfg.Now().UTC().Format(time.RFC3339)),
		JSON:     map[string]string{"file": name, "status": "refused", "error": why.Error()},
	}
	dest, err := w.file(name, FailedDir, res)
	if err != nil {
		w.log.Error("could not file a refused entry", "file", name, "err", err)
		return
	}
	delete(w.seen, name)
	w.log.Warn("refused", "file", name, "reason", why, "to", dest)
	if w.cfg.OnFiled != nil {
		w.cfg.OnFiled(name, dest, res)
	}
}

// file writes the reports and moves the entry (never following a link)
// into sub/, under a free name. It returns the new path.
func (w *Watcher) file(name, sub string, res Result) (string, error) {
	if err := ensureSubdir(w.root, sub); err != nil {
		return "", err
	}
	dir := filepath.Join(w.root, sub)
	dest := freeName(dir, fileableName(name))
	base := filepath.Base(dest)
	if err := writeAtomic(filepath.Join(dir, base+".report.txt"), []byte(res.Text)); err != nil {
		return "", err
	}
	if res.JSON != nil {
		b, err := json.MarshalIndent(res.JSON, "", "  ")
		if err != nil {
			return "", fmt.Errorf("watch: encode report: %w", err)
		}
		if err := writeAtomic(filepath.Join(dir, base+".report.json"), append(b, '\n')); err != nil {
			return "", err
		}
	}
	if err := os.Rename(filepath.Join(w.root, name), dest); err != nil {
		return "", fmt.Errorf("watch: move %s to %s: %w", name, sub, err)
	}
	return dest, nil
}

// maxNameBytes is the longest file name the file systems we run on take.
const maxNameBytes = 255

// fileableName returns name, or a shorter one when name plus a report
// suffix and a collision counter would not fit in a file name: the
// beginning of name, a digest of the whole, and its extension.
func fileableName(name string) string {
	const room = len(".report.json") + len(".99999")
	if len(name)+room <= maxNameBytes {
		return name
	}
	ext := filepath.Ext(name)
	if len(ext) > 16 {
		ext = ""
	}
	sum := sha256.Sum256([]byte(name))
	keep := maxNameBytes - room - len(ext) - 17
	return strings.ToValidUTF8(name[:keep], "_") + "~" + hex.EncodeToString(sum[:8]) + ext
}

// freeName returns dir/name, or dir/<stem>.N<ext> for the first N ≥ 2 that
// neither a file nor its report uses.
func freeName(dir, name string) string {
	taken := func(p string) bool {
		for _, q := range []string{p, p + ".report.txt", p + ".report.json"} {
			if _, err := os.Lstat(q); err == nil {
				return true
			}
		}
		return false
	}
	p := filepath.Join(dir, name)
	if !taken(p) {
		return p
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for n := 2; ; n++ {
		p = filepath.Join(dir, stem+"."+strconv.Itoa(n)+ext)
		if !taken(p) {
			return p
		}
	}
}

// ensureSubdir creates root/name as a directory if it is missing, and
// refuses one that is not a real directory inside root (a symbolic link
// could send files and reports outside the watched directory).
func ensureSubdir(root, name string) error {
	p := filepath.Join(root, name)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("watch: %w", err)
		}
		fi, err = os.Lstat(p)
	}
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symbolic link; move it away", ErrOutsideDir, p)
	}
	if !fi.IsDir() {
		return fmt.Errorf("watch: %s is not a directory; move it away", p)
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("watch: %w", err)
	}
	return nil
}
