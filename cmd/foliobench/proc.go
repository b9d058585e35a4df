package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is a child process whose stderr goes to a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	log     string
	started time.Time
	done    chan struct{}
	err     error
	wall    time.Duration
	hwm     atomic.Int64 // peak RSS in bytes, sampled
	anon    atomic.Int64 // peak anonymous (private) resident memory in bytes, sampled
}

// startProc starts bin with args; stdout and stderr go to dir/name.log.
// env is added to the benchmark's environment.
func startProc(dir, name, bin string, env []string, args ...string) (*proc, error) {
	path := filepath.Join(dir, name+".log")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	p := &proc{name: name, cmd: cmd, log: path, done: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
		p.wall = time.Since(p.started)
		f.Close()
	}()
	go p.watchHWM()
	return p, nil
}

// watchHWM samples the process's VmHWM (peak resident set) and RssAnon
// every 10 ms until it exits. VmHWM only grows, so the last sample misses at
// most the last 10 ms. The kernel's ru_maxrss cannot be used for a child of
// this process: Go starts children with vfork, and the child's ru_maxrss
// then includes the benchmark's own resident set before the exec. RssAnon,
// the memory the process itself allocated (heap, stacks, the runtime's), has
// no peak counter: its maximum over the samples may miss a peak shorter than
// 10 ms. The rest of the resident set is file pages (RssFile: the
// executable's and libraries' pages, shared and reclaimable) and RssShmem.
func (p *proc) watchHWM() {
	path := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if st, ok := readStatus(path); ok {
			if st.hwm > 0 {
				p.hwm.Store(st.hwm)
			}
			if st.anon > p.anon.Load() {
				p.anon.Store(st.anon)
			}
		}
		select {
		case <-p.done:
			return
		case <-t.C:
		}
	}
}

// procStatus is what watchHWM reads of a /proc/PID/status file, in bytes.
type procStatus struct{ hwm, anon int64 }

// readStatus reads the VmHWM and RssAnon lines of a /proc/PID/status file;
// false when it cannot read the file.
func readStatus(path string) (procStatus, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStatus{}, false
	}
	return parseStatus(string(b)), true
}

// parseStatus reads the VmHWM and RssAnon lines (in kB) of a
// /proc/PID/status text; a missing or unreadable line is 0.
func parseStatus(text string) procStatus {
	kb := func(v string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		return n * 1024
	}
	var st procStatus
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			st.hwm = kb(v)
		} else if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			st.anon = kb(v)
		}
	}
	return st
}

// wait waits for the process to exit (or ctx to end, then kills it).
func (p *proc) wait(ctx context.Context) error {
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cmd.Process.Kill()
		<-p.done
		return ctx.Err()
	}
	if p.err != nil {
		return fmt.Errorf("%s: %w (log %s:\n%s)", p.name, p.err, p.log, tail(p.log, 20))
	}
	return nil
}

// stop sends SIGTERM and waits up to 30 s, then kills.
func (p *proc) stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop on SIGTERM; killed", p.name)
	}
	return p.err
}

// peakRSS is the process's peak resident set size in bytes (VmHWM, see
// watchHWM).
func (p *proc) peakRSS() int64 { return p.hwm.Load() }

// peakAnon is the largest anonymous resident memory sampled, in bytes (see
// watchHWM): what the process allocated, without the file pages of its
// executable and libraries.
func (p *proc) peakAnon() int64 { return p.anon.Load() }

// cpu is the process's user+system CPU time once it exited.
func (p *proc) cpu() time.Duration {
	select {
	case <-p.done:
	default:
		return 0
	}
	return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
}

// waitLine waits until the log file has a line containing want and returns
// it.
func waitLine(ctx context.Context, p *proc, want string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if line := findLine(p.log, want); line != "" {
			return line, nil
		}
		select {
		case <-p.done:
			return "", fmt.Errorf("%s exited before %q: %v\n%s", p.name, want, p.err, tail(p.log, 20))
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s: no %q within %s", p.name, want, timeout)
}

func findLine(path, want string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return sc.Text()
		}
	}
	return ""
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// buildBinaries builds cmd/ingest, cmd/projector and this command into dir
// (from the module root root) and returns their paths.
func buildBinaries(ctx context.Context, root, dir string) (ingest, projector, bench string, err error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", "", "", fmt.Errorf("the go command is needed to build the binaries: %w", err)
	}
	for _, b := range []struct{ out, pkg string }{
		{"ingest", "./cmd/ingest"}, {"projector", "./cmd/projector"}, {"foliobench", "./cmd/foliobench"},
	} {
		cmd := exec.CommandContext(ctx, gobin, "build", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", "", fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	return filepath.Join(dir, "ingest"), filepath.Join(dir, "projector"), filepath.Join(dir, "foliobench"), nil
}

// loadAvg is the 1-minute load average (/proc/loadavg), "" when unknown.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

var errNoURL = errors.New("no NATS_URL line")

// natsURL reads the URL the nats subcommand printed.
func natsURL(ctx context.Context, p *proc) (string, error) {
	line, err := waitLine(ctx, p, "NATS_URL ", 30*time.Second)
	if err != nil {
		return "", err
	}
	_, url, ok := strings.Cut(line, "NATS_URL ")
	if !ok {
		return "", errNoURL
	}
	return strings.TrimSpace(url), nil
}
