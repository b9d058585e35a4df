package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/chunker"
	"github.com/foliostream/foliostream/internal/synth"
)

// statement is one generated file of one account.
type statement struct {
	Account string
	Path    string
	Bytes   int64
	// Bodies holds the encoded chunk bodies of the file (length-prefixed),
	// built in process: the bytes the bare publisher and the bare inserts
	// use.
	Bodies    string
	Chunks    int
	Movements int
}

// generate writes a statement of rows rows in broker's format
// (events.BrokerIBKR, else Tastytrade).
func generate(path, broker string, rows int, seed uint64) (synth.Stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return synth.Stats{}, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	gen := synth.Tastytrade
	if broker == events.BrokerIBKR {
		gen = synth.IBKR
	}
	st, err := gen(w, synth.Config{Rows: rows, Seed: seed})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return st, err
}

// splitStatement cuts the Tastytrade statement at path (newest row first,
// one row per line, as the generator writes it) into n files of about the
// same number of rows, cutting only where the day changes, so that every
// file is a statement of its own with whole days. It returns the files
// oldest first (PATH-01.csv holds the oldest days), the order a user
// catching up on a history imports them in.
func splitStatement(path string, n int) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	header, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	lines := bytes.SplitAfter(body, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	day := func(l []byte) []byte { return l[:min(len(l), len("2006-01-02"))] }
	// Cut points, newest first: a part ends at the first day change after
	// its share of the rows.
	var parts [][][]byte
	start := 0
	for k := 1; k < n && start < len(lines); k++ {
		end := max(start+1, k*len(lines)/n)
		for end < len(lines) && bytes.Equal(day(lines[end]), day(lines[end-1])) {
			end++
		}
		parts = append(parts, lines[start:end])
		start = end
	}
	if start < len(lines) {
		parts = append(parts, lines[start:])
	}
	base := strings.TrimSuffix(path, filepath.Ext(path))
	paths := make([]string, len(parts))
	for i, part := range parts {
		// parts[0] is the newest: it becomes the last file.
		p := fmt.Sprintf("%s-%02d.csv", base, len(parts)-i)
		var b bytes.Buffer
		b.Write(header)
		b.WriteByte('\n')
		for _, l := range part {
			b.Write(l)
		}
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return nil, err
		}
		paths[len(parts)-1-i] = p
	}
	return paths, os.Remove(path)
}

// csvBaseline reads and splits the file with encoding/csv (records reused,
// nothing else done): the raw speed a parser is bounded by.
func csvBaseline(path string) (time.Duration, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	start := time.Now()
	r := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	n := 0
	for {
		_, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		n++
	}
	return time.Since(start), n, nil
}

// passTimes are the in-process timings of the ingest passes.
type passTimes struct {
	Analyze time.Duration // pass 1: parse, identify, validate, plan
	Build   time.Duration // pass 2: parse again, cut chunks, encode (events.Marshal)
}

// analyzeAndBuild runs pass 1 and pass 2 in process, as ingest does, and
// writes the encoded chunk bodies to st.Bodies.
func analyzeAndBuild(st *statement) (passTimes, error) {
	var pt passTimes
	f, err := os.Open(st.Path)
	if err != nil {
		return pt, err
	}
	defer f.Close()
	cfg := chunker.Config{Account: st.Account, File: st.Path}
	start := time.Now()
	a, err := chunker.Analyze(f, cfg)
	if err != nil {
		return pt, err
	}
	pt.Analyze = time.Since(start)
	if a.RowErrorCount > 0 {
		return pt, fmt.Errorf("%s: %d row errors", st.Path, a.RowErrorCount)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return pt, err
	}
	out, err := os.Create(st.Bodies)
	if err != nil {
		return pt, err
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	var writeTime time.Duration
	start = time.Now()
	err = chunker.Build(f, a, cfg, nil, func(c *events.Chunk) error {
		// As ingest's publisher: into a buffer of the chunk's planned size.
		body, err := events.AppendMarshal(make([]byte, 0, a.Plan.Bytes(c.Ordinal-1)), c)
		if err != nil {
			return err
		}
		t := time.Now()
		defer func() { writeTime += time.Since(t) }()
		st.Chunks++
		st.Movements += len(c.Movements)
		return writeBody(w, body)
	})
	pt.Build = time.Since(start) - writeTime
	if err != nil {
		return pt, err
	}
	return pt, w.Flush()
}

func writeBody(w io.Writer, body []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(body)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// readBodies calls fn with every body of the file, in order. The slice is
// reused.
func readBodies(path string, fn func(body []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var buf []byte
	for {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		size := int(binary.BigEndian.Uint32(n[:]))
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
}
