// Package proctest is the kit of the tests that run the project's binaries
// as child processes: polling a condition with a deadline (CheckFor), a
// buffer a child writes while the test reads it (SyncBuffer), building a
// main package once per test binary run (Build, with Main in TestMain),
// starting a child with its output captured and waiting for a log line
// (Start, StartCmd, Proc.WaitFor), and free loopback ports (FreePort,
// FreeAddr).
//
// It is used only by tests; it is not test code itself so that every
// package's tests share one kit. Helpers about one package's domain (which
// flags a projector starts with, what a session looks like) stay in that
// package's tests.
package proctest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CheckFor calls f every `every` until it returns nil; it fails the test
// with f's last error when total has passed, or when the test's context
// ends first. Tests poll with it instead of sleeping.
func CheckFor(t testing.TB, total, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", total, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting: %v", err)
		case <-time.After(every):
		}
	}
}

// SyncBuffer is a bytes.Buffer safe for a writer (a child process, a
// logger's goroutines) and a reading test. The zero value is ready.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreePort returns a loopback TCP port nobody listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreeAddr returns a loopback address ("127.0.0.1:port") nobody listens on
// now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// The binaries Build made, in one directory per test binary run that Main
// removes.
var (
	buildMu  sync.Mutex
	buildDir string
	inMain   bool
	builds   = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Main runs the tests of m and then removes the binaries Build made. A
// package whose tests call Build calls it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }
func Main(m *testing.M) int {
	buildMu.Lock()
	inMain = true
	buildMu.Unlock()
	code := m.Run()
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// Build builds the main package pkg (an import path, such as
// "github.com/foliostream/foliostream/cmd/projector" or a module's command
// named in go.mod) once per test binary run, and returns the binary's
// path. Concurrent callers share one build; a failed build fails every
// caller. The test binary must run its tests through Main.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	if !inMain {
		buildMu.Unlock()
		t.Fatal("proctest.Build: TestMain must run the tests through proctest.Main")
	}
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "proctest-bin-")
		if err != nil {
			buildMu.Unlock()
			t.Fatal(err)
		}
		buildDir = dir
	}
	b := builds[pkg]
	if b == nil {
		// One directory per package, so that the binary keeps its name.
		b = &build{path: filepath.Join(buildDir, fmt.Sprint(len(builds)), commandName(pkg))}
		builds[pkg] = b
	}
	buildMu.Unlock()
	b.once.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			b.err = fmt.Errorf("build %s: the go command is needed: %w", pkg, err)
			return
		}
		out, err := exec.Command(gobin, "build", "-o", b.path, pkg).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("build %s: %w\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// commandName is the name go install gives the binary of pkg: its last
// path element, or the one before a major version suffix (".../v2").
func commandName(pkg string) string {
	name := path.Base(pkg)
	if len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
		return path.Base(path.Dir(pkg))
	}
	return name
}

// Proc is a running child process whose standard output and error are
// captured.
type Proc struct {
	Cmd    *exec.Cmd
	Stdout SyncBuffer
	Stderr SyncBuffer
	done   chan struct{}
	err    error
}

// Start starts bin with args; see StartCmd.
func Start(t testing.TB, bin string, args ...string) *Proc {
	t.Helper()
	return StartCmd(t, exec.Command(bin, args...))
}

// StartCmd starts cmd (set its Env or Dir first) with its output captured
// in the Proc's buffers. When the test ends the process is killed if it
// still runs, and its standard error is logged if the test failed.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.Stdout, &p.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", p.name(), p.Stderr.String())
		}
	})
	return p
}

func (p *Proc) name() string { return filepath.Base(p.Cmd.Path) }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error (nil for a clean exit) once Done is
// closed.
func (p *Proc) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitTimeout bounds WaitFor, WaitMatch, Stop and ExitCode.
const waitTimeout = 30 * time.Second

// WaitFor waits until the process printed any of marks on its standard
// error or output and returns the first one found. It fails the test when
// the process exits first or nothing shows within 30 seconds.
func (p *Proc) WaitFor(t testing.TB, marks ...string) string {
	t.Helper()
	var found string
	CheckFor(t, waitTimeout, 5*time.Millisecond, func() error {
		exited := p.Exited()
		out := p.Stderr.String() + p.Stdout.String()
		for _, m := range marks {
			if strings.Contains(out, m) {
				found = m
				return nil
			}
		}
		if exited {
			t.Fatalf("%s exited (%v) before printing %q:\n%s", p.name(), p.err, marks, p.Stderr.String())
		}
		return fmt.Errorf("%s has printed none of %q", p.name(), marks)
	})
	return found
}

// WaitMatch waits until the process's standard error or output matches re
// and returns the submatches (as regexp.FindStringSubmatch). It fails the
// test as WaitFor does.
func (p *Proc) WaitMatch(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	CheckFor(t, waitTimeout, 5*time.Millisecond, func() error {
		exited := p.Exited()
		if m = re.FindStringSubmatch(p.Stderr.String() + p.Stdout.String()); m != nil {
			return nil
		}
		if exited {
			t.Fatalf("%s exited (%v) before printing %s:\n%s", p.name(), p.err, re, p.Stderr.String())
		}
		return fmt.Errorf("%s has printed nothing matching %s", p.name(), re)
	})
	return m
}

// Stop sends SIGTERM and requires a clean exit within 30 seconds.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not stop within %s of SIGTERM", p.name(), waitTimeout)
	}
	if p.err != nil {
		t.Fatalf("%s exited with %v:\n%s", p.name(), p.err, p.Stderr.String())
	}
}

// Kill kills the process with SIGKILL, as a crash would, if it still runs,
// and waits for it.
func (p *Proc) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// ExitCode waits for the process to exit (at most two minutes) and returns
// its exit status, -1 when a signal ended it.
func (p *Proc) ExitCode(t testing.TB) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(4 * waitTimeout):
		t.Fatalf("%s still running after %s:\n%s", p.name(), 4*waitTimeout, p.Stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(p.err)
	return 0
}

// Get fetches url, an endpoint a child serves (/healthz, /metrics, …), and
// returns the status code and body; a transport error fails the test.
func Get(t testing.TB, url string) (status int, body string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// MetricValue returns the value of one sample of a Prometheus text
// exposition (body, as /metrics serves it); sample is the line's name with
// its labels as printed, e.g. `folio_chunks_total{outcome="published"}`.
func MetricValue(body, sample string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}
