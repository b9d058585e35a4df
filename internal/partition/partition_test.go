package partition_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/natsembed"
	"github.com/foliostream/foliostream/internal/natsembed/natstest"
	"github.com/foliostream/foliostream/internal/partition"
	"github.com/foliostream/foliostream/internal/streams"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    partition.Spec
		wantErr bool
	}{
		{"", partition.Spec{}, false},
		{"0/1", partition.Spec{Index: 0, Count: 1}, false},
		{"0/2", partition.Spec{Index: 0, Count: 2}, false},
		{"1/2", partition.Spec{Index: 1, Count: 2}, false},
		{" 2 / 3 ", partition.Spec{Index: 2, Count: 3}, false},
		{"63/64", partition.Spec{Index: 63, Count: 64}, false},
		{"2/2", partition.Spec{}, true},
		{"-1/2", partition.Spec{}, true},
		{"0/0", partition.Spec{}, true},
		{"0/65", partition.Spec{}, true},
		{"1", partition.Spec{}, true},
		{"a/b", partition.Spec{}, true},
		{"1/2/3", partition.Spec{}, true},
	}
	for _, tt := range tests {
		got, err := partition.Parse(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("Parse(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil && !errors.Is(err, partition.ErrSpec) {
			t.Errorf("Parse(%q) error %v does not wrap ErrSpec", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if err == nil && got.String() != strings.ReplaceAll(tt.in, " ", "") {
			t.Errorf("Parse(%q).String() = %q", tt.in, got.String())
		}
	}
}

// TestEverySlotOwnedOnce: for every partition count, each slot (so each
// account) belongs to exactly one partition, the filters list exactly the
// owned slots, and the split is as even as 64 slots allow.
func TestEverySlotOwnedOnce(t *testing.T) {
	for n := 1; n <= partition.Slots; n++ {
		owners := make([]int, partition.Slots)
		sizes := make([]int, n)
		for i := range n {
			spec := partition.Spec{Index: i, Count: n}
			filters := spec.FilterSubjects()
			if n == 1 && filters != nil {
				t.Fatalf("1/1: filters %v, want none (read everything)", filters)
			}
			for slot := range partition.Slots {
				if spec.OwnsSlot(slot) {
					owners[slot]++
					sizes[i]++
					if n > 1 && !slices.Contains(filters, "folio.*.*."+strconv.Itoa(slot)) {
						t.Errorf("%s owns slot %d but filters %v miss it", spec, slot, filters)
					}
				}
			}
			if n > 1 && len(filters) != sizes[i] {
				t.Errorf("%s: %d filters for %d slots", spec, len(filters), sizes[i])
			}
		}
		for slot, k := range owners {
			if k != 1 {
				t.Fatalf("N=%d: slot %d owned by %d partitions", n, slot, k)
			}
		}
		if lo, hi := slices.Min(sizes), slices.Max(sizes); hi-lo > 1 {
			t.Errorf("N=%d: partitions own between %d and %d slots", n, lo, hi)
		}
	}
}

func TestBaseSubject(t *testing.T) {
	tests := []struct{ in, want string }{
		{"folio.chunk.acct.17", "folio.chunk.acct"},
		{"folio.session.a-b_c.0", "folio.session.a-b_c"},
		{"folio.chunk.acct.63", "folio.chunk.acct"},
		{"folio.chunk.acct", "folio.chunk.acct"},
		{"folio.chunk.acct.64", "folio.chunk.acct.64"},   // not a slot
		{"folio.chunk.acct.017", "folio.chunk.acct.017"}, // not canonical
		{"folio.chunk.acct.x", "folio.chunk.acct.x"},
		{"folio.chunk.acct.1.2", "folio.chunk.acct.1.2"},
		{"foliodlq.poison", "foliodlq.poison"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := partition.BaseSubject(tt.in); got != tt.want {
			t.Errorf("BaseSubject(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTransformUsesSlots(t *testing.T) {
	if want := fmt.Sprintf("{{partition(%d,2)}}", partition.Slots); !strings.Contains(partition.TransformDestination, want) {
		t.Errorf("destination %q does not partition into %d slots", partition.TransformDestination, partition.Slots)
	}
	if err := server.ValidateMapping(partition.TransformSource, partition.TransformDestination); err != nil {
		t.Errorf("the server refuses the transform: %v", err)
	}
}

// accounts returns n distinct valid account names.
func accounts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("acct-%03d", i)
	}
	return out
}

// TestSlotMatchesServer publishes to a partitioned stream on a real server
// and checks that it stores every account's chunk and session subjects under
// the slot Slot computes, that the partition filters select exactly the
// owned accounts, and that the account filters match on it.
func TestSlotMatchesServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	env := natstest.Run(t, natsembed.Config{})
	s, err := streams.EnsureStream(ctx, env.JS, streams.Config{Partitioned: true, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	names := accounts(200)
	for _, a := range names {
		for _, subj := range []string{events.ChunkSubject(a), events.SessionSubject(a)} {
			if _, err := env.JS.Publish(ctx, subj, []byte(a)); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := map[int]bool{}
	for _, a := range names {
		slot := partition.Slot(a)
		seen[slot] = true
		for _, subj := range []string{events.ChunkSubject(a), events.SessionSubject(a)} {
			stored := subj + "." + strconv.Itoa(slot)
			m, err := s.GetLastMsgForSubject(ctx, stored)
			if err != nil {
				t.Fatalf("%s: no message on %s (Slot says %d): %v", a, stored, slot, err)
			}
			if string(m.Data) != a || partition.BaseSubject(m.Subject) != subj {
				t.Errorf("%s: %q on %s", a, m.Data, m.Subject)
			}
		}
	}
	if len(seen) < partition.Slots/2 {
		t.Errorf("200 accounts fell in only %d slots", len(seen))
	}

	// A consumer of partition 1/3 gets exactly the owned accounts.
	spec := partition.Spec{Index: 1, Count: 3}
	got := consumeAll(t, ctx, env.JS, spec.FilterSubjects())
	var want []string
	for _, a := range names {
		if spec.Owns(a) {
			want = append(want, a, a)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("partition %s consumed %d messages, want %d", spec, len(got), len(want))
	}
	// One account's filters match its partitioned subjects.
	if got := consumeAll(t, ctx, env.JS, partition.AccountSubjects(names[7])); !slices.Equal(got, []string{names[7], names[7]}) {
		t.Errorf("account filters consumed %v", got)
	}
}

// TestAccountSubjectsPlainStream: the account filters also match an
// unpartitioned stream.
func TestAccountSubjectsPlainStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	env := natstest.Run(t, natsembed.Config{})
	if _, err := streams.EnsureStream(ctx, env.JS, streams.Config{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"a", "b"} {
		for _, subj := range []string{events.ChunkSubject(a), events.SessionSubject(a)} {
			if _, err := env.JS.Publish(ctx, subj, []byte(a)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := consumeAll(t, ctx, env.JS, partition.AccountSubjects("b")); !slices.Equal(got, []string{"b", "b"}) {
		t.Errorf("account filters consumed %v", got)
	}
}

// consumeAll reads every message the filters select, with an ordered
// consumer, and returns their bodies.
func consumeAll(t *testing.T, ctx context.Context, js jetstream.JetStream, filters []string) []string {
	t.Helper()
	cons, err := js.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{FilterSubjects: filters})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for range info.NumPending {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(m.Data()))
	}
	return out
}
