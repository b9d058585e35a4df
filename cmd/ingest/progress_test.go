package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/streams"
)

func TestRenderProgress(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		p    streams.Progress
		now  time.Time
		want string
	}{
		{"start", streams.Progress{File: "s.csv", ChunksTotal: 10, MovementsTotal: 100, Started: t0}, t0,
			"s.csv [>         ] 0/10 chunks  0/100 movements"},
		{"half, 2 chunks/s", streams.Progress{File: "s.csv", ChunksDone: 5, ChunksTotal: 10, MovementsDone: 50, MovementsTotal: 100, Started: t0}, t0.Add(2500 * time.Millisecond),
			"s.csv [=====>    ] 5/10 chunks  50/100 movements  2.0 chunks/s  ETA 3s"},
		{"resumed chunks do not count in the rate", streams.Progress{File: "s.csv", ChunksDone: 6, ChunksResumed: 4, ChunksTotal: 10, Started: t0}, t0.Add(time.Second),
			"s.csv [======>   ] 6/10 chunks  0/0 movements  2.0 chunks/s  ETA 2s"},
		{"done", streams.Progress{File: "s.csv", ChunksDone: 10, ChunksTotal: 10, MovementsDone: 100, MovementsTotal: 100, Started: t0}, t0.Add(time.Second),
			"s.csv [==========] 10/10 chunks  100/100 movements  10.0 chunks/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderProgress(tt.p, tt.now, 10); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestProgressBarThrottles(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newProgressBar(&buf)
	b.now = func() time.Time { return now }
	for i := range 5 {
		b.update(streams.Progress{File: "f", ChunksDone: i, ChunksTotal: 5, Started: now})
	}
	b.update(streams.Progress{File: "f", ChunksDone: 5, ChunksTotal: 5, Started: now})
	b.finish()
	// The first update and the last (complete) one are drawn; the ones in
	// between came within 100 ms.
	if n := strings.Count(buf.String(), "\r"); n != 2 {
		t.Fatalf("%d redraws, want 2: %q", n, buf.String())
	}
	if !strings.HasSuffix(buf.String(), "5/5 chunks  0/0 movements\n") {
		t.Fatalf("last line %q", buf.String())
	}
}
