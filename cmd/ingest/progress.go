package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/foliostream/foliostream/internal/streams"
)

// progressBar draws an import's progress on one terminal line:
//
//	statement.csv [=========>          ] 12/40 chunks  3400/12000 movements  85.2 chunks/s  ETA 3s
type progressBar struct {
	w     io.Writer
	now   func() time.Time
	last  time.Time
	width int
	drawn bool
}

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{w: w, now: time.Now, width: 24}
}

// update redraws at most ten times a second, and always for the last chunk.
func (b *progressBar) update(p streams.Progress) {
	now := b.now()
	if p.ChunksDone < p.ChunksTotal && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	fmt.Fprintf(b.w, "\r\033[K%s", renderProgress(p, now, b.width))
	b.drawn = true
}

// finish ends the bar's line.
func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}

// renderProgress formats one progress line (no control characters).
func renderProgress(p streams.Progress, now time.Time, width int) string {
	frac := 1.0
	if p.ChunksTotal > 0 {
		frac = float64(p.ChunksDone) / float64(p.ChunksTotal)
	}
	filled := int(frac * float64(width))
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	line := fmt.Sprintf("%s [%s] %d/%d chunks  %d/%d movements", p.File, bar, p.ChunksDone, p.ChunksTotal, p.MovementsDone, p.MovementsTotal)
	elapsed := now.Sub(p.Started)
	doneNow := p.ChunksDone - p.ChunksResumed
	if elapsed > 0 && doneNow > 0 {
		rate := float64(doneNow) / elapsed.Seconds()
		line += fmt.Sprintf("  %.1f chunks/s", rate)
		if left := p.ChunksTotal - p.ChunksDone; left > 0 {
			eta := time.Duration(float64(left) / rate * float64(time.Second))
			line += "  ETA " + eta.Round(time.Second).String()
		}
	}
	return line
}
