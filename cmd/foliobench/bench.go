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
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/store"
	"github.com/foliostream/foliostream/internal/store/sqlite"
	"github.com/foliostream/foliostream/internal/streams"
)

// benchConfig is the configuration of a benchmark run.
type benchConfig struct {
	// Sizes are the movements (synthetic rows) of each scenario.
	Sizes []int
	// Accounts are the account counts of each scenario: each size runs once
	// per account count, its rows spread evenly over the accounts.
	Accounts []int
	// Files is the number of statement files each account's rows are cut
	// into (at day boundaries), imported oldest first by one ingest.
	Files int
	Seed  uint64
	// Broker is the statements' format: tastytrade (time order) or ibkr
	// (in sections).
	Broker string
	// Work is the directory for files, stores and logs; "" means a
	// temporary directory, removed at the end unless Keep.
	Work string
	Keep bool
	// Root is the module root the binaries are built from.
	Root string
	// JSON, when set, receives the results as JSON.
	JSON string
	// BatchSize is the projector's --batch-size (and the raw inserts').
	BatchSize int
	// ClickHouse, when set, is a ClickHouse server DSN: each scenario also
	// runs a projector into a fresh database there, and the bare inserts.
	ClickHouse string
}

type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out []int
	for _, p := range strings.Split(v, ",") {
		p = strings.ReplaceAll(strings.TrimSpace(p), "_", "")
		mult := 1
		switch {
		case strings.HasSuffix(p, "k"):
			p, mult = strings.TrimSuffix(p, "k"), 1000
		case strings.HasSuffix(p, "M"):
			p, mult = strings.TrimSuffix(p, "M"), 1000000
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return fmt.Errorf("%q: want positive integers (10k, 1M allowed)", v)
		}
		out = append(out, n*mult)
	}
	*l = out
	return nil
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := benchConfig{Sizes: []int{10000, 100000, 1000000}, Accounts: []int{1, 8}, BatchSize: 64}
	fs := flag.NewFlagSet("foliobench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var((*intList)(&cfg.Sizes), "sizes", "movements per scenario, comma-separated (10k, 1M allowed)")
	fs.Var((*intList)(&cfg.Accounts), "accounts", "accounts per scenario, comma-separated: each size runs once per value")
	fs.IntVar(&cfg.Files, "files", 1, "statement files per account: each account's statement is cut into this many files at day boundaries, imported oldest first by one ingest")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "synthetic statement seed")
	fs.StringVar(&cfg.Broker, "broker", events.BrokerTastytrade, "synthetic statement format: tastytrade (rows in time order) or ibkr (in sections)")
	fs.StringVar(&cfg.Work, "work", "", "work directory (default: a temporary one, removed at the end)")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the work directory (logs, stores)")
	fs.StringVar(&cfg.Root, "root", ".", "module root to build cmd/ingest and cmd/projector from")
	fs.StringVar(&cfg.JSON, "json", "", "also write the results as JSON to this file")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "projector --batch-size (and chunks per raw SQLite transaction)")
	fs.StringVar(&cfg.ClickHouse, "clickhouse", "", "ClickHouse DSN (clickhouse://host:9000): also project each scenario's stream into a fresh database there, and insert the same rows with the bare driver")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.Files < 1 {
		return fmt.Errorf("--files %d: want at least 1", cfg.Files)
	}
	switch {
	case cfg.Broker != events.BrokerTastytrade && cfg.Broker != events.BrokerIBKR:
		return fmt.Errorf("--broker %q: want %s or %s", cfg.Broker, events.BrokerTastytrade, events.BrokerIBKR)
	case cfg.Broker == events.BrokerIBKR && cfg.Files > 1:
		return fmt.Errorf("--files %d: cutting a statement into files needs --broker %s", cfg.Files, events.BrokerTastytrade)
	}
	work := cfg.Work
	if work == "" {
		d, err := os.MkdirTemp("", "foliobench-")
		if err != nil {
			return err
		}
		work = d
		if !cfg.Keep {
			defer os.RemoveAll(d)
		}
	}
	bin := filepath.Join(work, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "building binaries into %s\n", bin)
	ingestBin, projectorBin, benchBin, err := buildBinaries(ctx, cfg.Root, bin)
	if err != nil {
		return err
	}
	env := runEnv{ingest: ingestBin, projector: projectorBin, bench: benchBin, batchSize: cfg.BatchSize, clickhouse: cfg.ClickHouse}
	var results []*result
	for _, size := range cfg.Sizes {
		for _, accounts := range cfg.Accounts {
			sc := scenario{Movements: size, Accounts: accounts, Files: cfg.Files, Seed: cfg.Seed, Broker: cfg.Broker}
			dir := filepath.Join(work, sc.name())
			fmt.Fprintf(stderr, "scenario %s (load %s)\n", sc.name(), loadAvg())
			r, err := env.run(ctx, sc, dir, stderr)
			if err != nil {
				return fmt.Errorf("scenario %s: %w", sc.name(), err)
			}
			results = append(results, r)
			printResult(stderr, r)
			if !cfg.Keep {
				os.RemoveAll(dir)
			}
		}
	}
	printReport(stdout, results)
	if cfg.JSON != "" {
		b, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.JSON, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// scenario is one benchmark case: Movements rows over Accounts accounts,
// each account's statement in Files files.
type scenario struct {
	Movements int
	Accounts  int
	Files     int
	Seed      uint64
	Broker    string
}

func (s scenario) name() string {
	n := fmt.Sprintf("%d-rows-%d-accounts", s.Movements, s.Accounts)
	if s.Broker == events.BrokerIBKR {
		n += "-ibkr"
	}
	if s.Files > 1 {
		n += fmt.Sprintf("-%d-files", s.Files)
	}
	return n
}

// runEnv holds the binaries.
type runEnv struct {
	ingest, projector, bench string
	batchSize                int
	clickhouse               string
}

// result is everything measured in one scenario. Durations are in seconds,
// sizes in bytes.
type result struct {
	Scenario  string  `json:"scenario"`
	Rows      int     `json:"rows"`
	Accounts  int     `json:"accounts"`
	Files     int     `json:"files_per_account,omitempty"`
	Movements int     `json:"movements"`
	Chunks    int     `json:"chunks"`
	FileBytes int64   `json:"file_bytes"`
	Load      string  `json:"load_average"`
	CPUs      int     `json:"cpus"`
	EndToEnd  float64 `json:"end_to_end_s"`
	// In process.
	CSV     float64 `json:"raw_csv_s"`
	Analyze float64 `json:"analyze_s"`
	Build   float64 `json:"build_s"`
	// Processes.
	IngestWall    float64 `json:"ingest_wall_s"`
	IngestCPU     float64 `json:"ingest_cpu_s"`
	IngestRSS     int64   `json:"ingest_peak_rss"`
	IngestAnon    int64   `json:"ingest_peak_anon"` // RssAnon, the largest sample
	ProjectorRSS  int64   `json:"projector_peak_rss"`
	ProjectorAnon int64   `json:"projector_peak_anon"`
	ProjectorCPU  float64 `json:"projector_cpu_s"`
	NATSRSS       int64   `json:"nats_peak_rss"`
	// Store writes (projector log).
	Writes        int     `json:"store_writes"`
	WriteTotal    float64 `json:"store_write_total_s"`
	ChunkWriteP50 float64 `json:"chunk_write_p50_s"` // latency of the write a chunk was in
	ChunkWriteP99 float64 `json:"chunk_write_p99_s"`
	ChunkWriteMax float64 `json:"chunk_write_max_s"`
	PerChunkP50   float64 `json:"per_chunk_cost_p50_s"` // write time / chunks in it
	PerChunkP99   float64 `json:"per_chunk_cost_p99_s"`
	// Phase 2 (projector log), summed over accounts and runs; Phase2Runs
	// counts the computations (one per account and time it ran).
	Phase2Runs    int     `json:"phase2_runs"`
	Phase2        float64 `json:"phase2_s"`
	Phase2Read    float64 `json:"phase2_read_s"`
	Phase2Compute float64 `json:"phase2_compute_s"`
	Phase2Replace float64 `json:"phase2_replace_s"`
	// Replay.
	Replay    float64 `json:"replay_s"`
	ReplayRSS int64   `json:"replay_peak_rss"`
	// Raw baselines.
	RawPublish float64 `json:"raw_publish_s"`
	RawSQLite  float64 `json:"raw_sqlite_s"`
	// ClickHouse (with --clickhouse): a second projector consumes the
	// whole stream (catch-up) into ClickHouse.
	CHCatchUp      float64 `json:"clickhouse_catch_up_s,omitempty"`
	CHWriteTotal   float64 `json:"clickhouse_store_write_total_s,omitempty"`
	CHChunkP99     float64 `json:"clickhouse_chunk_write_p99_s,omitempty"`
	CHPhase2       float64 `json:"clickhouse_phase2_s,omitempty"`
	CHPhase2Runs   int     `json:"clickhouse_phase2_runs,omitempty"`
	CHProjectorRSS int64   `json:"clickhouse_projector_peak_rss,omitempty"`
	RawClickHouse  float64 `json:"raw_clickhouse_s,omitempty"`
}

func (e runEnv) run(ctx context.Context, sc scenario, dir string, logw io.Writer) (*result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r := &result{Scenario: sc.name(), Rows: sc.Movements, Accounts: sc.Accounts, Files: sc.Files, CPUs: runtime.NumCPU()}
	// Statements, raw csv and the in-process passes.
	var sts []*statement
	for i := range sc.Accounts {
		account := fmt.Sprintf("acct%02d", i+1)
		path := filepath.Join(dir, account+".csv")
		rows := sc.Movements / sc.Accounts
		if i < sc.Movements%sc.Accounts {
			rows++
		}
		if _, err := generate(path, sc.Broker, rows, sc.Seed+uint64(i)); err != nil {
			return nil, err
		}
		paths := []string{path}
		if sc.Files > 1 {
			var err error
			if paths, err = splitStatement(path, sc.Files); err != nil {
				return nil, err
			}
		}
		for j, path := range paths {
			st := &statement{Account: account, Path: path,
				Bodies: filepath.Join(dir, fmt.Sprintf("%s-%02d.bodies", account, j+1))}
			fi, err := os.Stat(st.Path)
			if err != nil {
				return nil, err
			}
			st.Bytes = fi.Size()
			r.FileBytes += st.Bytes
			csvTime, _, err := csvBaseline(st.Path)
			if err != nil {
				return nil, err
			}
			pt, err := analyzeAndBuild(st)
			if err != nil {
				return nil, err
			}
			r.CSV += csvTime.Seconds()
			r.Analyze += pt.Analyze.Seconds()
			r.Build += pt.Build.Seconds()
			r.Movements += st.Movements
			r.Chunks += st.Chunks
			sts = append(sts, st)
		}
	}
	r.Load = loadAvg()

	// The server, the projector, the ingests.
	natsProc, err := startProc(dir, "nats", e.bench, nil, "nats", "--store", filepath.Join(dir, "nats"))
	if err != nil {
		return nil, err
	}
	defer natsProc.stop()
	url, err := natsURL(ctx, natsProc)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	proj, err := startProc(dir, "projector", e.projector, []string{"FOLIO_LOG_LEVEL=debug"},
		"run", "--nats", url, "--data", data, "--log-format", "json", "--listen", "off", "--batch-size", strconv.Itoa(e.batchSize))
	if err != nil {
		return nil, err
	}
	defer proj.stop()
	if _, err := waitLine(ctx, proj, "projector consuming", 60*time.Second); err != nil {
		return nil, err
	}
	start := time.Now()
	// One ingest per account, with its files in the order given.
	var ingests []*proc
	for i := 0; i < len(sts); {
		args := []string{"--nats", url, "--account", sts[i].Account, "--log-format", "json"}
		j := i
		for ; j < len(sts) && sts[j].Account == sts[i].Account; j++ {
			args = append(args, sts[j].Path)
		}
		p, err := startProc(dir, "ingest-"+sts[i].Account, e.ingest, nil, args...)
		if err != nil {
			return nil, err
		}
		ingests = append(ingests, p)
		i = j
	}
	for _, p := range ingests {
		if err := p.wait(ctx); err != nil {
			return nil, err
		}
		r.IngestWall = max(r.IngestWall, time.Since(start).Seconds())
		r.IngestCPU += p.cpu().Seconds()
		r.IngestRSS = max(r.IngestRSS, p.peakRSS())
		r.IngestAnon = max(r.IngestAnon, p.peakAnon())
	}
	r.IngestWall = 0
	for _, p := range ingests {
		r.IngestWall = max(r.IngestWall, p.started.Add(p.wall).Sub(start).Seconds())
	}
	end, err := waitCompleted(ctx, filepath.Join(data, sqlite.FileName), len(sts), proj)
	if err != nil {
		return nil, err
	}
	r.EndToEnd = end.Sub(start).Seconds()
	if err := proj.stop(); err != nil {
		return nil, fmt.Errorf("projector: %w", err)
	}
	r.ProjectorRSS, r.ProjectorAnon, r.ProjectorCPU = proj.peakRSS(), proj.peakAnon(), proj.cpu().Seconds()
	if err := r.readProjectorLog(proj.log); err != nil {
		return nil, err
	}

	// Replay of the whole stream into a new file.
	rp, err := startProc(dir, "replay", e.projector, nil, "replay", "--nats", url, "--data", filepath.Join(dir, "replaydata"),
		"--out", filepath.Join(dir, "replay.db"), "--log-format", "json")
	if err != nil {
		return nil, err
	}
	if err := rp.wait(ctx); err != nil {
		return nil, err
	}
	r.Replay, r.ReplayRSS = rp.wall.Seconds(), rp.peakRSS()

	if e.clickhouse != "" {
		if err := e.runClickHouse(ctx, r, sc, dir, url, sts); err != nil {
			return nil, fmt.Errorf("clickhouse: %w", err)
		}
	}

	// Raw baselines on the same server and the same bytes.
	pub, err := rawPublish(ctx, url, sts, streams.DefaultMaxInFlight)
	if err != nil {
		return nil, fmt.Errorf("raw publish: %w", err)
	}
	r.RawPublish = pub.Seconds()
	if err := natsProc.stop(); err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	r.NATSRSS = natsProc.peakRSS()
	ins, err := rawSQLite(ctx, dir, sts, e.batchSize)
	if err != nil {
		return nil, fmt.Errorf("raw sqlite: %w", err)
	}
	r.RawSQLite = ins.Seconds()
	return r, nil
}

// waitCompleted polls the store until n sessions are completed and returns
// when it saw them.
func waitCompleted(ctx context.Context, path string, n int, proj *proc) (time.Time, error) {
	var st *sqlite.Store
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		if st == nil {
			s, err := sqlite.OpenReadOnly(ctx, path)
			if err == nil {
				st = s
			}
		}
		if st != nil {
			sessions, err := st.Sessions(ctx, "")
			if err == nil {
				done := 0
				for _, s := range sessions {
					if s.Phase == store.PhaseCompleted {
						done++
					}
				}
				if done >= n {
					return time.Now(), nil
				}
			}
		}
		select {
		case <-proj.done:
			return time.Time{}, fmt.Errorf("projector exited: %v\n%s", proj.err, tail(proj.log, 20))
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return time.Time{}, errors.New("sessions not completed within 30 minutes")
}

// readProjectorLog reads the store write latencies and phase-2 times from
// the projector's JSON log.
func (r *result) readProjectorLog(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var chunkLat, perChunk []float64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var l struct {
			Msg       string `json:"msg"`
			Chunks    int    `json:"chunks"`
			TookUS    int64  `json:"took_us"`
			Took      int64  `json:"took"` // nanoseconds (slog JSON of a Duration)
			ReadUS    int64  `json:"read_us"`
			ComputeUS int64  `json:"compute_us"`
			ReplaceUS int64  `json:"replace_us"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch l.Msg {
		case "store batch written":
			t := float64(l.TookUS) / 1e6
			r.Writes++
			r.WriteTotal += t
			for range l.Chunks {
				chunkLat = append(chunkLat, t)
				perChunk = append(perChunk, t/float64(l.Chunks))
			}
		case "projections replaced":
			r.Phase2Runs++
			r.Phase2 += float64(l.Took) / 1e9
			r.Phase2Read += float64(l.ReadUS) / 1e6
			r.Phase2Compute += float64(l.ComputeUS) / 1e6
			r.Phase2Replace += float64(l.ReplaceUS) / 1e6
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(chunkLat) == 0 {
		return fmt.Errorf("no \"store batch written\" lines in %s (a projector without FOLIO_LOG_LEVEL=debug support?)", path)
	}
	r.ChunkWriteP50, r.ChunkWriteP99 = quantile(chunkLat, 0.5), quantile(chunkLat, 0.99)
	r.ChunkWriteMax = quantile(chunkLat, 1)
	r.PerChunkP50, r.PerChunkP99 = quantile(perChunk, 0.5), quantile(perChunk, 0.99)
	return nil
}

// quantile is the nearest-rank q-quantile of xs.
func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// runClickHouse projects the whole stream (already complete) into a fresh
// ClickHouse database with a second projector process, then inserts the
// same rows with the bare driver into another fresh database.
func (e runEnv) runClickHouse(ctx context.Context, r *result, sc scenario, dir, url string, sts []*statement) error {
	dsn, drop, err := chDatabase(e.clickhouse, chName(sc, "store"))
	if err != nil {
		return err
	}
	defer drop()
	proj, err := startProc(dir, "projector-clickhouse", e.projector, []string{"FOLIO_LOG_LEVEL=debug"},
		"run", "--nats", url, "--data", filepath.Join(dir, "chdata"), "--clickhouse", dsn, "--durable", "foliobench_clickhouse",
		"--log-format", "json", "--listen", "off", "--batch-size", strconv.Itoa(e.batchSize))
	if err != nil {
		return err
	}
	defer proj.stop()
	end, err := waitCompletedCH(ctx, dsn, len(sts), proj)
	if err != nil {
		return err
	}
	r.CHCatchUp = end.Sub(proj.started).Seconds()
	if err := proj.stop(); err != nil {
		return err
	}
	r.CHProjectorRSS = proj.peakRSS()
	var cr result
	if err := cr.readProjectorLog(proj.log); err != nil {
		return err
	}
	r.CHWriteTotal, r.CHChunkP99, r.CHPhase2, r.CHPhase2Runs = cr.WriteTotal, cr.ChunkWriteP99, cr.Phase2, cr.Phase2Runs
	rawDSN, dropRaw, err := chDatabase(e.clickhouse, chName(sc, "raw"))
	if err != nil {
		return err
	}
	defer dropRaw()
	took, err := rawClickHouse(ctx, rawDSN, sts, e.batchSize)
	if err != nil {
		return fmt.Errorf("raw insert: %w", err)
	}
	r.RawClickHouse = took.Seconds()
	return nil
}
