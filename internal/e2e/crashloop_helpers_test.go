package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/proctest"
	"github.com/nats-io/nats.go/jetstream"
)

// Helpers of the fault-injection tests (crashloop, broker, outage,
// security, baddata): the ingest and nats-server binaries, ingest child
// processes, and stream inspection.

var badCorpus = "../parsers/testdata/bad"

// ingestBinary is cmd/ingest built for the tests.
func ingestBinary(t *testing.T) string {
	return proctest.Build(t, "github.com/foliostream/foliostream/cmd/ingest")
}

// natsServerBinary is the real nats-server command (the module the
// project's embedded server comes from), for tests that need the broker
// in a process of its own.
func natsServerBinary(t *testing.T) string {
	return proctest.Build(t, "github.com/nats-io/nats-server/v2")
}

// ingestRun is a finished ingest process.
type ingestRun struct {
	stdout, stderr string
	code           int
	maxRSSKiB      int64
}

// runIngest runs the ingest binary to completion (at most two minutes).
func runIngest(t *testing.T, env []string, args ...string) ingestRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ingestBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := ingestRun{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("ingest %s: %v", strings.Join(args, " "), err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSSKiB = ru.Maxrss
	}
	return r
}

// startIngest starts the ingest binary; it is killed when the test ends if
// it still runs.
func startIngest(t *testing.T, env []string, args ...string) *proctest.Proc {
	t.Helper()
	cmd := exec.Command(ingestBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	return proctest.StartCmd(t, cmd)
}

// streamMsgIDs counts the stream's messages by Nats-Msg-Id.
func streamMsgIDs(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	ctx := t.Context()
	out := map[string]int{}
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[m.Header.Get(events.HeaderMsgID)]++
	}
	return out
}

// streamCount returns the number of messages in the stream.
func streamCount(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(t.Context(), events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// requireNoDuplicates fails if a Nats-Msg-Id is in the stream more than
// once: every retry and resume must have been de-duplicated.
func requireNoDuplicates(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	ids := streamMsgIDs(t, js)
	for id, n := range ids {
		if n != 1 {
			t.Errorf("%s is in the stream %d times", id, n)
		}
	}
	return ids
}

// vmHWM returns a running process's peak resident set size in KiB.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kib)
			return kib, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// startProjectorUntil starts `projector run` like startProjector but
// returns once it printed any of marks: a projector with a pause point
// armed may stop there before it prints that it is consuming.
func startProjectorUntil(t *testing.T, natsURL, dataDir string, env []string, marks ...string) *proctest.Proc {
	t.Helper()
	p := proctest.StartCmd(t, projectorCmd(t, natsURL, dataDir, env))
	p.WaitFor(t, marks...)
	return p
}
