package proctest_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/proctest"
)

func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }

const childPkg = "github.com/foliostream/foliostream/internal/proctest/testdata/child"

// fatalTB records a Fatal instead of failing the test, and ends the
// goroutine as t.Fatal does.
type fatalTB struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// fails runs fn with a fatalTB and returns what it failed with ("" when
// it did not).
func fails(t *testing.T, fn func(tb testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.failed
}

func TestCheckFor(t *testing.T) {
	n := 0
	proctest.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Errorf("f called %d times, want 3", n)
	}
	msg := fails(t, func(tb testing.TB) {
		proctest.CheckFor(tb, 20*time.Millisecond, time.Millisecond, func() error { return errors.New("never") })
	})
	if !strings.Contains(msg, "never") {
		t.Errorf("CheckFor past its deadline failed with %q, want f's error", msg)
	}
}

func TestFreePort(t *testing.T) {
	addr := proctest.FreeAddr(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("FreeAddr %s: %v", addr, err)
	}
	ln.Close()
	if p := proctest.FreePort(t); p <= 0 || p > 65535 {
		t.Errorf("FreePort = %d", p)
	}
}

func TestBuildOnce(t *testing.T) {
	a, b := proctest.Build(t, childPkg), proctest.Build(t, childPkg)
	if a != b {
		t.Errorf("two builds: %s and %s", a, b)
	}
	if _, err := os.Stat(a); err != nil {
		t.Error(err)
	}
	if msg := fails(t, func(tb testing.TB) { proctest.Build(tb, childPkg+"/nonexistent") }); msg == "" {
		t.Error("Build of a missing package did not fail")
	}
}

func TestProc(t *testing.T) {
	bin := proctest.Build(t, childPkg)
	p := proctest.Start(t, bin, "wait", "x")
	if got := p.WaitFor(t, "never printed", "ready [wait x]"); got != "ready [wait x]" {
		t.Errorf("WaitFor = %q", got)
	}
	if m := p.WaitMatch(t, regexp.MustCompile(`ready \[wait (\w+)\]`)); m[1] != "x" {
		t.Errorf("WaitMatch = %q", m)
	}
	p.WaitFor(t, "to stdout")
	if p.Exited() {
		t.Fatal("exited while waiting for SIGTERM")
	}
	p.Stop(t)
	if !strings.Contains(p.Stderr.String(), "stopping") || p.Err() != nil {
		t.Errorf("after Stop: err %v, stderr %q", p.Err(), p.Stderr.String())
	}

	if code := proctest.Start(t, bin, "3").ExitCode(t); code != 3 {
		t.Errorf("ExitCode = %d, want 3", code)
	}
	k := proctest.Start(t, bin, "wait")
	k.WaitFor(t, "ready")
	k.Kill()
	if code := k.ExitCode(t); code != -1 {
		t.Errorf("ExitCode after Kill = %d, want -1", code)
	}

	// A process that exits before printing the mark fails WaitFor at once.
	q := proctest.Start(t, bin, "0")
	start := time.Now()
	if msg := fails(t, func(tb testing.TB) { q.WaitFor(tb, "never printed") }); !strings.Contains(msg, "exited") {
		t.Errorf("WaitFor on an exited process failed with %q", msg)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("WaitFor took %s to notice the exit", d)
	}
}

func TestSyncBuffer(t *testing.T) {
	var b proctest.SyncBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprint(&b, "x")
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 400 {
		t.Errorf("%d bytes, want 400", n)
	}
}

func TestGetAndMetricValue(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# HELP x_total x\nx_total 12\nx_total{k=\"v\"} 3.5\n")
	}))
	defer srv.Close()
	code, body := proctest.Get(t, srv.URL)
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	for _, tt := range []struct {
		sample string
		want   float64
		ok     bool
	}{{"x_total", 12, true}, {`x_total{k="v"}`, 3.5, true}, {"x", 0, false}, {"y_total", 0, false}} {
		if got, ok := proctest.MetricValue(body, tt.sample); got != tt.want || ok != tt.ok {
			t.Errorf("MetricValue(%s) = %v, %v; want %v, %v", tt.sample, got, ok, tt.want, tt.ok)
		}
	}
}
