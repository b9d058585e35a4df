package parsers_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/foliostream/foliostream/events"
	"github.com/foliostream/foliostream/internal/parsers"
)

// FuzzIBKR scans arbitrary bytes. Properties: no panic; a file the parser
// refuses is refused with a file-level sentinel, exactly when it does not
// start with a Header row; otherwise every data row (counted by a plain
// encoding/csv pass) yields exactly one record with one outcome, in line
// order (checked by ibScanAll); movement IDs are unique; and the movements
// survive the wire encoding unchanged.
func FuzzIBKR(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(ibSampleDir, "*.csv"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no IBKR samples in %s: %v", ibSampleDir, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		ibStatement + ibTradesHeader + `Trades,Data,Order,Equity and Index Options,USD,AAPL 17MAR23 150 C,"2023-03-01, 10:00:00",-2,2.5,,500,-2.1,,,,,O` + "\n",
		ibStatement + ibForexHeader + `Trades,Data,Order,Forex,USD,EUR.USD,"2023-03-01, 10:00:00",500,1.0576,,-528.8,-2,,,,,` + "\n" +
			`Trades,Data,Order,Stocks,GBP,LLOY,"2023-03-01, 10:00:00",1000,0.485,,-485,-2.5,,,,,O` + "\n",
		ibStatement + ibDivHeader + "Dividends,Data,USD,2023-03-10,AAPL(US0378331005) Cash Dividend,2.3\n" +
			ibWHTHeader + "Withholding Tax,Data,USD,2023-03-10,AAPL(US0378331005) Tax,-0.35,\n" +
			ibIntHeader + "Interest,Data,USD,2023-03-03,Credit Interest,-1.23\n" +
			ibFeesHeader + "Fees,Data,Other Fees,USD,2023-03-03,Fee,-10\nFees,Data,Total,,,,-10\n",
		"\xef\xbb\xbfStatement,Header,A\r\nStatement,Data,\"multi\r\nline\"\r\nX,Y\r\nZ\r\n",
		"Statement,Header\n\"unterminated,Data\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ibScanAll(t, string(data), ibAccount)
		rows, ok := ibDataRows(t, data)
		if err != nil {
			if !errors.Is(err, parsers.ErrEmpty) && !errors.Is(err, parsers.ErrBadHeader) {
				t.Fatalf("Scan error without a file-level sentinel: %v", err)
			}
			if ok {
				t.Fatalf("refused a file that starts with a Header row: %v", err)
			}
			return
		}
		if !ok {
			t.Fatalf("accepted a file that does not start with a Header row (%d records)", len(got.lines))
		}
		if len(got.lines) != rows {
			t.Fatalf("%d records for %d data rows (lines %v)", len(got.lines), rows, got.lines)
		}
		ids := make(map[string]bool, len(got.movements))
		for _, m := range got.movements {
			if ids[m.ID] {
				t.Fatalf("duplicate movement ID %s", m.ID)
			}
			ids[m.ID] = true
		}
		if len(got.movements) == 0 {
			return
		}
		c := &events.Chunk{Session: "s", Account: ibAccount, ID: "w.1", Movements: got.movements}
		b, err := events.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		e, err := events.Unmarshal(string(events.TypeChunk), events.SchemaHeader, b)
		if err != nil {
			t.Fatalf("Unmarshal: %v\n%s", err, b)
		}
		back := e.(*events.Chunk).Movements
		if len(back) != len(got.movements) {
			t.Fatalf("%d movements after the round trip, want %d", len(back), len(got.movements))
		}
		for i := range back {
			if !back[i].Equal(&got.movements[i]) {
				t.Fatalf("movement %d changed on the wire:\n%+v\n%+v", i, got.movements[i], back[i])
			}
		}
		if !bytes.Equal(b, ibMustMarshal(t, e)) {
			t.Fatal("encoding is not a fixed point")
		}
	})
}

func ibMustMarshal(t *testing.T, e events.Event) []byte {
	t.Helper()
	b, err := events.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
