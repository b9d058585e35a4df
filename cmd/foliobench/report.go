package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// cmdReport prints the tables of the results in the --json files of earlier
// runs, in the order given.
func cmdReport(files []string, stdout io.Writer) error {
	if len(files) == 0 {
		return errors.New("usage: foliobench report FILE.json...")
	}
	var all []*result
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var rs []*result
		if err := json.Unmarshal(b, &rs); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		all = append(all, rs...)
	}
	printReport(stdout, all)
	return nil
}

// rate is movements per second.
func rate(n int, s float64) float64 {
	if s <= 0 {
		return 0
	}
	return float64(n) / s
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func ms(s float64) string { return fmt.Sprintf("%.1f ms", s*1000) }

// slowestRaw is the rate of the slowest raw component (csv, publish,
// SQLite inserts): the bound of the end-to-end rate.
func (r *result) slowestRaw() (string, float64) {
	name, v := "csv", rate(r.Movements, r.CSV)
	if p := rate(r.Movements, r.RawPublish); p < v {
		name, v = "publish", p
	}
	if s := rate(r.Movements, r.RawSQLite); s < v {
		name, v = "sqlite", s
	}
	return name, v
}

func printResult(w io.Writer, r *result) {
	fmt.Fprintf(w, "  %s: %d movements, %d chunks, end to end %.2fs = %.0f movements/s; ingest %.2fs (rss %s, anonymous %s), projector rss %s (anonymous %s), p99 chunk write %s, phase 2 %s (%d runs), replay %.2fs (load %s)\n",
		r.Scenario, r.Movements, r.Chunks, r.EndToEnd, rate(r.Movements, r.EndToEnd), r.IngestWall, mb(r.IngestRSS), mb(r.IngestAnon),
		mb(r.ProjectorRSS), mb(r.ProjectorAnon), ms(r.ChunkWriteP99), ms(r.Phase2), r.Phase2Runs, r.Replay, r.Load)
}

// printReport writes the results as Markdown tables.
func printReport(w io.Writer, rs []*result) {
	fmt.Fprintln(w, "### End to end (real processes: foliobench nats, projector run, ingest)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | movements | chunks | file | end to end | movements/s (target > 1,000; aim ≥ 100,000) | slowest raw component | ratio to it (aim ≥ 0.5) | load |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|---:|---|")
	for _, r := range rs {
		name, raw := r.slowestRaw()
		e2e := rate(r.Movements, r.EndToEnd)
		fmt.Fprintf(w, "| %s | %d | %d | %s | %.2f s | %.0f | %s %.0f/s | %.2f | %s |\n",
			r.Scenario, r.Movements, r.Chunks, mb(r.FileBytes), r.EndToEnd, e2e, name, raw, e2e/raw, r.Load)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Stages and their raw baselines (ratio = baseline time / stage time; 1.0 = as fast as the bare tool)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | encoding/csv | analyze (parse+ID+plan) | ratio | build (pass 2 + encode) | ingest process | raw: csv ×2 + bare publish | ratio | store writes (projector) | bare SQLite inserts | ratio |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		rawIngest := 2*r.CSV + r.RawPublish
		fmt.Fprintf(w, "| %s | %.2f s | %.2f s | %.2f | %.2f s | %.2f s | %.2f s | %.2f | %.2f s | %.2f s | %.2f |\n",
			r.Scenario, r.CSV, r.Analyze, r.CSV/r.Analyze, r.Build, r.IngestWall, rawIngest, rawIngest/r.IngestWall,
			r.WriteTotal, r.RawSQLite, r.RawSQLite/r.WriteTotal)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Latency, phase 2, replay, memory")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | chunk write p50 / p99 / max (target < 100 ms) | per-chunk cost p50 / p99 | phase 2 (read + compute + replace), runs | replay | peak RSS ingest (target < 20 MB): all / anonymous | projector: all / anonymous | replay | NATS server |")
	fmt.Fprintln(w, "|---|---|---|---|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s / %s / %s | %s / %s | %s (%s + %s + %s), %d | %.2f s | %s | %s | %s | %s |\n",
			r.Scenario, ms(r.ChunkWriteP50), ms(r.ChunkWriteP99), ms(r.ChunkWriteMax), ms(r.PerChunkP50), ms(r.PerChunkP99),
			ms(r.Phase2), ms(r.Phase2Read), ms(r.Phase2Compute), ms(r.Phase2Replace), r.Phase2Runs, r.Replay,
			mb(r.IngestRSS)+" / "+mb(r.IngestAnon), mb(r.ProjectorRSS)+" / "+mb(r.ProjectorAnon), mb(r.ReplayRSS), mb(r.NATSRSS))
	}
	var ch []*result
	for _, r := range rs {
		if r.CHCatchUp > 0 {
			ch = append(ch, r)
		}
	}
	if len(ch) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### ClickHouse (a second projector consumes the complete stream into ClickHouse)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | catch-up | movements/s | store writes | bare clickhouse-go inserts | ratio | chunk write p99 | phase 2, runs | projector peak RSS |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range ch {
		fmt.Fprintf(w, "| %s | %.2f s | %.0f | %.2f s | %.2f s | %.2f | %s | %s, %d | %s |\n",
			r.Scenario, r.CHCatchUp, rate(r.Movements, r.CHCatchUp), r.CHWriteTotal, r.RawClickHouse,
			r.RawClickHouse/r.CHWriteTotal, ms(r.CHChunkP99), ms(r.CHPhase2), r.CHPhase2Runs, mb(r.CHProjectorRSS))
	}
}
