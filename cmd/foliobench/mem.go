package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// memRun is one run of the mem subcommand's command.
type memRun struct {
	peak, anon int64 // bytes: VmHWM, and the largest RssAnon sampled
	user, sys  time.Duration
	wall       time.Duration
}

// cmdMem runs a command --runs times, one after the other, and prints
// each run's peak resident set (VmHWM), largest anonymous resident memory
// sampled (RssAnon, every 10 ms: see watchHWM), user and system CPU and
// wall time, then the medians. "{run}" in an argument becomes the run's
// number, so that every run of an import can use an account of its own.
// It measures one process the way the benchmark measures its processes:
// the figures in BENCHMARKS.md's "ingest's memory" come from it.
func cmdMem(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mem", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("runs", 1, "runs of the command, one after the other")
	logDir := fs.String("log", "", "directory for each run's output (run-N.log); default: a temporary one, removed")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: foliobench mem [--runs N] [--log DIR] COMMAND [ARG...]   ({run} in an ARG is the run's number)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 || *runs < 1 {
		fs.Usage()
		return errors.New("mem: a command and --runs ≥ 1 are needed")
	}
	dir := *logDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "foliobench-mem-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var all []memRun
	for i := 1; i <= *runs; i++ {
		argv := make([]string, fs.NArg())
		for j, a := range fs.Args() {
			argv[j] = strings.ReplaceAll(a, "{run}", strconv.Itoa(i))
		}
		r, err := memOnce(ctx, dir, i, argv)
		if err != nil {
			return err
		}
		all = append(all, r)
		fmt.Fprintf(stdout, "run %d: %s  (load %s)\n", i, r, loadAvg())
	}
	if len(all) > 1 {
		fmt.Fprintf(stdout, "median: %s\n", medianRun(all))
	}
	return nil
}

// memOnce runs argv once, its output to dir/run-N.log.
func memOnce(ctx context.Context, dir string, n int, argv []string) (memRun, error) {
	p, err := startProc(dir, fmt.Sprintf("run-%d", n), argv[0], nil, argv[1:]...)
	if err != nil {
		return memRun{}, err
	}
	if err := p.wait(ctx); err != nil {
		return memRun{}, err
	}
	st := p.cmd.ProcessState
	return memRun{peak: p.peakRSS(), anon: p.peakAnon(), user: st.UserTime(), sys: st.SystemTime(), wall: p.wall}, nil
}

func (r memRun) String() string {
	return fmt.Sprintf("peak RSS %.1f MiB, anonymous %.1f MiB, user %.2f s, sys %.2f s, wall %.2f s",
		mib(r.peak), mib(r.anon), r.user.Seconds(), r.sys.Seconds(), r.wall.Seconds())
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// medianRun is the median of each figure on its own (the lower middle one
// for an even count).
func medianRun(rs []memRun) memRun {
	med := func(f func(memRun) int64) int64 {
		v := make([]int64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[(len(v)-1)/2]
	}
	return memRun{
		peak: med(func(r memRun) int64 { return r.peak }),
		anon: med(func(r memRun) int64 { return r.anon }),
		user: time.Duration(med(func(r memRun) int64 { return int64(r.user) })),
		sys:  time.Duration(med(func(r memRun) int64 { return int64(r.sys) })),
		wall: time.Duration(med(func(r memRun) int64 { return int64(r.wall) })),
	}
}
