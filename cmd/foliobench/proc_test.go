package main

import (
	"os"
	"testing"
)

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       procStatus
	}{
		{"both", "Name:\tingest\nVmPeak:\t 1318328 kB\nVmHWM:\t   25256 kB\nVmRSS:\t   24248 kB\nRssAnon:\t   10436 kB\nRssFile:\t   13812 kB\n",
			procStatus{hwm: 25256 << 10, anon: 10436 << 10}},
		{"no anon line", "VmHWM:\t 100 kB\n", procStatus{hwm: 100 << 10}},
		{"garbled", "VmHWM:\t lots kB\nRssAnon: 7 kB", procStatus{anon: 7 << 10}},
		{"empty", "", procStatus{}},
	} {
		if got := parseStatus(tc.text); got != tc.want {
			t.Errorf("%s: parseStatus = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestReadStatusSelf reads this process's own status: the resident set
// includes the anonymous part, and both are non-zero on Linux.
func TestReadStatusSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	st, ok := readStatus("/proc/self/status")
	if !ok {
		t.Fatal("cannot read /proc/self/status")
	}
	if st.anon <= 0 || st.hwm < st.anon {
		t.Fatalf("VmHWM %d, RssAnon %d: want 0 < RssAnon <= VmHWM", st.hwm, st.anon)
	}
	if _, ok := readStatus("/proc/self/no-such-file"); ok {
		t.Fatal("readStatus of a missing file reported ok")
	}
}
