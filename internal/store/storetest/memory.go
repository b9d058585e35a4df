package storetest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/projections"
	"github.com/foliostream/foliostream/internal/store"
)

// Memory is an in-memory [store.Store] for tests of the store's users (the
// projector). It passes [Run] like every real store. Fail makes it fail
// writes on demand, to exercise a store outage.
type Memory struct {
	mu        sync.Mutex
	movements map[string]events.Movement
	kept      map[string][2]string // movement ID → (session, zero-padded line) it was kept from
	chunks    map[string]map[string]bool
	sessions  map[string]store.Session
	results   map[string]*projections.Result
	failing   error
	writes    int
}

var _ store.Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		movements: map[string]events.Movement{},
		kept:      map[string][2]string{},
		chunks:    map[string]map[string]bool{},
		sessions:  map[string]store.Session{},
		results:   map[string]*projections.Result{},
	}
}

// Fail makes every following write (WriteBatch, ReplaceProjections) return
// err, until Fail(nil).
func (m *Memory) Fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failing = err
}

// Writes counts successful writes.
func (m *Memory) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// WriteBatch implements [store.Store].
func (m *Memory) WriteBatch(ctx context.Context, b *store.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing != nil {
		return fmt.Errorf("memory store: write batch: %w", m.failing)
	}
	for _, c := range b.Chunks {
		for _, mv := range c.Movements {
			key := [2]string{c.Session, fmt.Sprintf("%012d", mv.Line)}
			if k, ok := m.kept[mv.ID]; ok && (k[0] < key[0] || k[0] == key[0] && k[1] <= key[1]) {
				continue
			}
			m.movements[mv.ID] = mv
			m.kept[mv.ID] = key
		}
		if m.chunks[c.Session] == nil {
			m.chunks[c.Session] = map[string]bool{}
		}
		m.chunks[c.Session][c.ID] = true
	}
	for _, s := range b.Sessions {
		m.sessions[s.ID] = s
	}
	m.writes++
	return nil
}

// StoredChunks implements [store.Store].
func (m *Memory) StoredChunks(ctx context.Context, session string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.chunks[session]), nil
}

// Session implements [store.Store].
func (m *Memory) Session(ctx context.Context, id string) (store.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return store.Session{}, fmt.Errorf("session %s: %w", id, store.ErrNotFound)
	}
	return s, nil
}

// Sessions implements [store.Store].
func (m *Memory) Sessions(ctx context.Context, account string) ([]store.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Session
	for _, s := range m.sessions {
		if account == "" || s.Account == account {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b store.Session) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// ScanMovements implements [store.Store].
// It delivers only the fields q asks for, so that a caller that reads a
// field its query does not name fails its tests.
func (m *Memory) ScanMovements(ctx context.Context, account string, q projections.Query, fn func(*events.Movement) error) error {
	m.mu.Lock()
	var out []events.Movement
	for _, mv := range m.movements {
		if mv.Account == account && (len(q.Kinds) == 0 || slices.Contains(q.Kinds, mv.Kind)) {
			q.Fields.Trim(&mv)
			out = append(out, mv)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b events.Movement) int { return events.Compare(&a, &b) })
	for i := range out {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(&out[i]); err != nil {
			return err
		}
	}
	return nil
}

// WriteProjections implements [store.Store].
func (m *Memory) WriteProjections(ctx context.Context, account string, emit func(projections.Sink) error, completed []string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	failing := m.failing
	m.mu.Unlock()
	if failing != nil {
		return fmt.Errorf("memory store: replace projections: %w", failing)
	}
	c := projections.NewCollector(account)
	if err := emit(c); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.results[account] = c.Result()
	for _, id := range completed {
		if s, ok := m.sessions[id]; ok {
			s.Phase = store.PhaseCompleted
			if s.CompletedAt.IsZero() {
				s.CompletedAt = at
			}
			m.sessions[id] = s
		}
	}
	m.writes++
	return nil
}

// Projections implements [store.Store].
func (m *Memory) Projections(ctx context.Context, account string) (*projections.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.results[account]; ok {
		return cloneResult(r), nil
	}
	return &projections.Result{Account: account, Broker: []projections.BrokerSnapshot{},
		Tickers: []projections.TickerSnapshot{}, Operations: []projections.Operation{}}, nil
}

// Accounts implements [store.Store].
func (m *Memory) Accounts(ctx context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for _, mv := range m.movements {
		seen[mv.Account] = true
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, nil
}

// Close implements [store.Store].
func (m *Memory) Close() error { return nil }

func cloneResult(r *projections.Result) *projections.Result {
	return &projections.Result{
		Account:    r.Account,
		Broker:     append([]projections.BrokerSnapshot{}, r.Broker...),
		Tickers:    append([]projections.TickerSnapshot{}, r.Tickers...),
		Operations: append([]projections.Operation{}, r.Operations...),
	}
}
