package parsers

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/foliostream/foliostream/internal/synth"
)

// csvCompare reads data with encoding/csv (configured as the parsers use
// it) and with csvReader, and fails at the first difference in a record, an
// error, a field position or the input offset. newReader wraps the input of
// both (a reader that returns a few bytes at a time, or an error).
func csvCompare(t *testing.T, data []byte, bufSize int, newReader func([]byte) io.Reader) {
	t.Helper()
	want := csv.NewReader(newReader(data))
	want.FieldsPerRecord = -1
	want.ReuseRecord = true
	got := newCSVReader(newReader(data))
	got.buf = make([]byte, bufSize)
	for n := 0; ; n++ {
		if n > len(data)+2 {
			t.Fatalf("%q: more records than bytes", data)
		}
		wrec, werr := want.Read()
		grec, gerr := got.Read()
		if !slices.Equal(wrec, grec) {
			t.Fatalf("%q: record %d is %q, encoding/csv %q", data, n, grec, wrec)
		}
		if !csvSameError(werr, gerr) {
			t.Fatalf("%q: record %d: error %v, encoding/csv %v", data, n, gerr, werr)
		}
		if w, g := want.InputOffset(), got.InputOffset(); w != g {
			t.Fatalf("%q: record %d: offset %d, encoding/csv %d", data, n, g, w)
		}
		if werr == io.EOF {
			return
		}
		if len(wrec) != got.nfields() {
			t.Fatalf("%q: record %d: %d fields with positions, encoding/csv %d", data, n, got.nfields(), len(wrec))
		}
		for i := range wrec {
			wl, wc := want.FieldPos(i)
			gl, gc := got.FieldPos(i)
			if wl != gl || wc != gc {
				t.Fatalf("%q: record %d field %d at %d:%d, encoding/csv %d:%d", data, n, i, gl, gc, wl, wc)
			}
		}
		if werr != nil {
			var pe *csv.ParseError
			if !errors.As(werr, &pe) {
				return // a read error: the scanners stop there
			}
		}
	}
}

func csvSameError(want, got error) bool {
	var wpe, gpe *csv.ParseError
	if errors.As(want, &wpe) {
		return errors.As(got, &gpe) && *wpe == *gpe
	}
	return want == got
}

var errCSVTest = errors.New("test read error")

// csvErrReader returns data, then errCSVTest for ever.
type csvErrReader struct{ r io.Reader }

func (e csvErrReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		err = errCSVTest
	}
	return n, err
}

var csvReaders = []struct {
	name string
	new  func([]byte) io.Reader
}{
	{"bytes", func(b []byte) io.Reader { return bytes.NewReader(b) }},
	{"one-byte", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
	{"half", func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
	{"data-err", func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) }},
	{"error", func(b []byte) io.Reader { return csvErrReader{bytes.NewReader(b)} }},
	{"error-after-3", func(b []byte) io.Reader {
		return io.MultiReader(bytes.NewReader(b[:min(3, len(b))]), iotest.ErrReader(errCSVTest))
	}},
}

var csvInputs = []string{
	"",
	"\n",
	"\n\n\r\n",
	"a",
	"a\n",
	"a,b,c\n1,2,3\n",
	"a,b,c\r\n1,2,3\r\n",
	"a,b,c\r\n1,2,3\r",
	"a,b,\n,,\n,\n",
	"a\rb,c\r\r\n\r",
	"\r",
	"\r\r\n\r\n",
	`"a","b,c","d""e",f` + "\n",
	`"a,b",1,"2,345.00"` + "\n",
	`"",""` + "\n" + `""` + "\n",
	`"multi` + "\nline\",x\n" + `"three` + "\n\n" + `lines"` + "\n",
	`"multi` + "\r\nline\"\r\n",
	`"unterminated`,
	`"unterminated` + "\n",
	`"unterminated` + "\nmore\n",
	`a"b,c` + "\n" + `d,e` + "\n",
	`"a"b,c` + "\n" + `d` + "\n",
	`"a" ,b` + "\n",
	`"a"` + "\r\r\n",
	`"a"` + "\r",
	`x,"a"` + "\n" + `"b` + "\n",
	"é,\"ü\",\xff\n",
	"a,\"b\n\"\"c\",d\ne\n",
	" \"a\",b\n",
	"\"a\"\"\n",
	"a,b\n\"",
	"\"\n",
	"\"\"\"\n",
	",\n",
	"\"a\",\n",
	"\"a\",\"\n",
}

func TestCSVReaderMatchesEncodingCSV(t *testing.T) {
	for _, rd := range csvReaders {
		for _, in := range csvInputs {
			for _, size := range []int{1, 2, 3, 7, 64, csvReadBufferSize} {
				t.Run(fmt.Sprintf("%s/%d/%q", rd.name, size, in), func(t *testing.T) {
					csvCompare(t, []byte(in), size, rd.new)
				})
			}
		}
	}
}

// TestCSVReaderLongLines crosses the read buffer's growth with lines and
// quoted fields longer than the buffer.
func TestCSVReaderLongLines(t *testing.T) {
	long := strings.Repeat("x", 3*csvReadBufferSize+17)
	in := "a," + long + "\n\"" + long + "\n" + long + "\",b\n" + long + "\"" + long + "\n" + long
	for _, rd := range csvReaders {
		t.Run(rd.name, func(t *testing.T) {
			csvCompare(t, []byte(in), csvReadBufferSize, rd.new)
		})
	}
}

// TestCSVReaderSamples reads every shared sample and bad-corpus file both
// ways.
func TestCSVReaderSamples(t *testing.T) {
	bad, err := filepath.Glob(filepath.Join("testdata", "bad", "*"))
	if err != nil || len(bad) < 20 {
		t.Fatalf("bad corpus: %d files, %v", len(bad), err)
	}
	for _, p := range bad {
		csvCompare(t, ttReadFile(t, p), csvReadBufferSize, csvReaders[0].new)
	}
	for _, name := range []string{"MPWImportTest.csv", "TastytradeOptionsTest.csv"} {
		header, lines := ttSplitSample(t, name)
		data := []byte(header + "\n" + strings.Join(lines, "\n") + "\n")
		for _, rd := range csvReaders {
			csvCompare(t, data, 64, rd.new)
		}
	}
}

// FuzzCSVReader checks that csvReader reads any input exactly as
// encoding/csv does.
func FuzzCSVReader(f *testing.F) {
	for _, in := range csvInputs {
		f.Add([]byte(in), uint8(0), uint8(0))
	}
	f.Add([]byte(ttHeader21+"\n"+`2024-05-31T14:42:13+0100,Money Movement,Deposit,,,,"a""b",1,0,,--,0.00,,,,,,,,1,USD`+"\n\"open"), uint8(1), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, reader, size uint8) {
		rd := csvReaders[int(reader)%len(csvReaders)]
		csvCompare(t, data, 1+int(size), rd.new)
	})
}

// BenchmarkCSVReader reads a synthetic Tastytrade statement of 20,000 rows
// with csvReader and with encoding/csv.
func BenchmarkCSVReader(b *testing.B) {
	var buf bytes.Buffer
	if _, err := synth.Tastytrade(&buf, synth.Config{Seed: 1, Rows: 20000}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.Run("csvReader", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			r := newCSVReader(bytes.NewReader(data))
			for {
				if err := r.next(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("encoding-csv", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			r := csv.NewReader(bytes.NewReader(data))
			r.FieldsPerRecord = -1
			r.ReuseRecord = true
			for {
				if _, err := r.Read(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
