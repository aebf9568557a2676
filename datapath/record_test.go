package datapath

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"testing"
	"time"
)

// testDeadline bounds every blocking step of a test: a bug fails instead of
// hanging until the go test timeout.
const testDeadline = 20 * time.Second

func sampleHeaders() map[string]FileHeader {
	return map[string]FileHeader{
		"regular": {
			Path: []byte("home/u/file.txt"), Type: TypeRegular, Mode: 0o644,
			UID: 1000, GID: 1000, Mtime: 1_700_000_000_123_456_789, Atime: 1_700_000_001_000_000_000,
			Size: 3 << 20,
		},
		"invalid utf8 path": {
			Path: []byte{'d', 0xff, 0xfe, '/', 0xc3, 0x28, 'x'}, Type: TypeRegular, Mode: 0o600,
		},
		"symlink invalid utf8 target": {
			Path: []byte("lnk"), Type: TypeSymlink, Mode: 0o777, LinkTarget: []byte{'/', 0x80, 0xbf, 'z'},
		},
		"empty link target and path": {
			Type: TypeDir, Mode: 0o7755,
		},
		"extremes": {
			Path: bytes.Repeat([]byte("a/"), 2048), Type: TypeBlockDev, Mode: 0o7777,
			UID: math.MaxUint32, GID: math.MaxUint32, Mtime: math.MinInt64, Atime: math.MaxInt64,
			Size: -1, Rdev: math.MaxUint64,
		},
		"unknown type kept": {
			Path: []byte("x"), Type: FileType(200),
		},
		"several ext with unknown tags": {
			Path: []byte("f"), Type: TypeRegular, Mode: 0o640, Size: 7,
			Ext: []Ext{
				{Tag: 1, Data: []byte("user.comment\x00hello")},
				{Tag: 0, Data: nil},
				{Tag: 1 << 40, Data: []byte{0, 1, 2, 0xff}},
				{Tag: math.MaxUint64, Data: bytes.Repeat([]byte{0xaa}, 300)},
				{Tag: 999, Data: []byte{}},
			},
		},
	}
}

// equalHeader compares headers treating nil and empty slices as equal (the
// decoder returns empty, non-nil slices aliasing its input).
func equalHeader(a, b FileHeader) bool {
	if !bytes.Equal(a.Path, b.Path) || !bytes.Equal(a.LinkTarget, b.LinkTarget) || len(a.Ext) != len(b.Ext) {
		return false
	}
	for i := range a.Ext {
		if a.Ext[i].Tag != b.Ext[i].Tag || !bytes.Equal(a.Ext[i].Data, b.Ext[i].Data) {
			return false
		}
	}
	return a.Type == b.Type && a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID &&
		a.Mtime == b.Mtime && a.Atime == b.Atime && a.Size == b.Size && a.Rdev == b.Rdev
}

func equalTrailer(a, b FileTrailer) bool {
	return a.Algo == b.Algo && bytes.Equal(a.Sum, b.Sum) && a.Flags == b.Flags && a.Bytes == b.Bytes
}

// checkPrefixesAndTrailing checks that every strict prefix of enc and enc
// plus a trailing byte are rejected with ErrBadRecord.
func checkPrefixesAndTrailing(t *testing.T, enc []byte, decode func([]byte) error) {
	t.Helper()
	for n := 0; n < len(enc); n++ {
		// A fresh copy with no spare capacity, so a decoder reading past
		// len would be caught by the race/bounds checks.
		p := bytes.Clone(enc[:n])
		if err := decode(p); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("truncated to %d of %d bytes: err = %v, want ErrBadRecord", n, len(enc), err)
		}
	}
	for _, extra := range [][]byte{{0}, {0xff}, {1, 2, 3}} {
		p := append(bytes.Clone(enc), extra...)
		if err := decode(p); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("with trailing %x: err = %v, want ErrBadRecord", extra, err)
		}
	}
}

func TestFileHeaderRoundTrip(t *testing.T) {
	for name, h := range sampleHeaders() {
		t.Run(name, func(t *testing.T) {
			enc := AppendFileHeader([]byte("prefix"), &h)
			if !bytes.HasPrefix(enc, []byte("prefix")) {
				t.Fatal("AppendFileHeader clobbered dst")
			}
			enc = enc[len("prefix"):]
			got, err := DecodeFileHeader(enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !equalHeader(got, h) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, h)
			}
			if len(h.LinkTarget) == 0 && len(got.LinkTarget) != 0 {
				t.Fatalf("empty link target decoded as %q", got.LinkTarget)
			}
			if again := AppendFileHeader(nil, &got); !bytes.Equal(again, enc) {
				t.Fatal("re-encoding the decoded header differs")
			}
			// Decoded slices must not be able to grow into the rest of p.
			if len(got.Path) > 0 && cap(got.Path) != len(got.Path) {
				t.Fatalf("Path cap %d > len %d: appending would overwrite the record", cap(got.Path), len(got.Path))
			}
			checkPrefixesAndTrailing(t, enc, func(p []byte) error { _, err := DecodeFileHeader(p); return err })
		})
	}
}

func TestFileHeaderMalformed(t *testing.T) {
	valid := AppendFileHeader(nil, &FileHeader{Path: []byte("p"), Type: TypeRegular})
	tests := []struct {
		name string
		p    []byte
	}{
		{"nil", nil},
		{"path length beyond input", append(binary.AppendUvarint(nil, 1<<40), valid[2:]...)},
		{"overlong varint", append(bytes.Repeat([]byte{0x80}, 11), 0)},
		{"huge ext count", append(bytes.Clone(valid[:len(valid)-1]), binary.AppendUvarint(nil, math.MaxUint64)...)},
		{"ext count exceeds bytes", append(bytes.Clone(valid[:len(valid)-1]), 3, 1, 0)},
		{"ext data length beyond input", append(bytes.Clone(valid[:len(valid)-1]), 1, 7, 5, 'a')},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeFileHeader(tc.p); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("err = %v, want ErrBadRecord", err)
			}
		})
	}
}

func TestFileTrailerRoundTrip(t *testing.T) {
	tests := map[string]FileTrailer{
		"blake3":      {Algo: AlgoBLAKE3, Sum: bytes.Repeat([]byte{0x5a}, 32), Flags: FlagChanged | FlagTruncated, Bytes: 3 << 20},
		"no checksum": {Algo: AlgoNone},
		"unknown algo long sum": {
			Algo: 250, Sum: bytes.Repeat([]byte{1, 2}, 200), Flags: math.MaxUint32, Bytes: math.MinInt64,
		},
	}
	for name, tr := range tests {
		t.Run(name, func(t *testing.T) {
			enc := AppendFileTrailer(nil, &tr)
			got, err := DecodeFileTrailer(enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !equalTrailer(got, tr) {
				t.Fatalf("round trip: got %+v want %+v", got, tr)
			}
			checkPrefixesAndTrailing(t, enc, func(p []byte) error { _, err := DecodeFileTrailer(p); return err })
		})
	}
}

func TestStreamEndRoundTrip(t *testing.T) {
	tests := map[string]StreamEnd{
		"zero":    {},
		"typical": {Files: 12345, Bytes: 1 << 40, Warnings: 3},
		"extreme": {Files: math.MaxInt64, Bytes: math.MinInt64, Warnings: -1},
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			enc := AppendStreamEnd(nil, &e)
			got, err := DecodeStreamEnd(enc)
			if err != nil || got != e {
				t.Fatalf("round trip: got %+v, %v; want %+v", got, err, e)
			}
			checkPrefixesAndTrailing(t, enc, func(p []byte) error { _, err := DecodeStreamEnd(p); return err })
		})
	}
}

func TestHoleRoundTrip(t *testing.T) {
	tests := []struct {
		name        string
		off, length int64
	}{
		{"zero", 0, 0},
		{"typical", 4096, 1 << 30},
		{"extreme", math.MaxInt64, math.MinInt64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := AppendHole(nil, tc.off, tc.length)
			off, n, err := DecodeHole(enc)
			if err != nil || off != tc.off || n != tc.length {
				t.Fatalf("round trip: got %d,%d,%v", off, n, err)
			}
			checkPrefixesAndTrailing(t, enc, func(p []byte) error { _, _, err := DecodeHole(p); return err })
		})
	}
}

type rec struct {
	kind    Kind
	payload []byte
}

func frame(recs ...rec) []byte {
	var b []byte
	for _, r := range recs {
		b = AppendPrefix(b, r.kind, len(r.payload))
		b = append(b, r.payload...)
	}
	return b
}

func collectSplit(buf []byte) ([]rec, error) {
	var out []rec
	err := SplitRecords(buf, func(k Kind, payload, raw []byte) error {
		if len(raw) != PrefixLen+len(payload) || Kind(raw[0]) != k || !bytes.Equal(raw[PrefixLen:], payload) {
			return fmt.Errorf("raw %x inconsistent with kind %v payload %x", raw, k, payload)
		}
		out = append(out, rec{k, bytes.Clone(payload)})
		return nil
	})
	return out, err
}

func equalRecs(a, b []rec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].kind != b[i].kind || !bytes.Equal(a[i].payload, b[i].payload) {
			return false
		}
	}
	return true
}

func TestSplitRecords(t *testing.T) {
	h := sampleHeaders()["several ext with unknown tags"]
	recs := []rec{
		{KindFileHeader, AppendFileHeader(nil, &h)},
		{KindData, []byte("hello")},
		{KindHole, AppendHole(nil, 5, 100)},
		{KindData, nil},
		{KindHeartbeat, nil},
		{KindFileTrailer, AppendFileTrailer(nil, &FileTrailer{Algo: AlgoBLAKE3, Sum: make([]byte, 32), Bytes: 5})},
		{Kind(99), []byte("unknown kinds are split, not judged")},
		{KindStreamEnd, AppendStreamEnd(nil, &StreamEnd{Files: 1, Bytes: 5})},
	}
	full := frame(recs...)

	t.Run("empty", func(t *testing.T) {
		got, err := collectSplit(nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("concatenation", func(t *testing.T) {
		got, err := collectSplit(full)
		if err != nil || !equalRecs(got, recs) {
			t.Fatalf("got %d records, %v", len(got), err)
		}
	})
	t.Run("concatenation of blocks", func(t *testing.T) {
		// Two block payloads joined are still whole records.
		both := append(frame(recs[:3]...), frame(recs[3:]...)...)
		got, err := collectSplit(both)
		if err != nil || !equalRecs(got, recs) {
			t.Fatalf("got %d records, %v", len(got), err)
		}
	})
	t.Run("max body accepted", func(t *testing.T) {
		big := rec{KindData, make([]byte, MaxRecordBody)}
		got, err := collectSplit(frame(big))
		if err != nil || len(got) != 1 {
			t.Fatalf("got %d records, %v", len(got), err)
		}
	})
	t.Run("oversize rejected", func(t *testing.T) {
		b := AppendPrefix(nil, KindData, MaxRecordBody+1) // no payload: must not be needed
		if _, err := collectSplit(b); !errors.Is(err, ErrRecordSize) {
			t.Fatalf("err = %v, want ErrRecordSize", err)
		}
	})
	t.Run("truncated everywhere", func(t *testing.T) {
		// Record boundaries: a cut there is fine, anywhere else is short.
		bounds := map[int]int{0: 0}
		off := 0
		for i, r := range recs {
			off += PrefixLen + len(r.payload)
			bounds[off] = i + 1
		}
		for n := 0; n < len(full); n++ {
			got, err := collectSplit(full[:n])
			if whole, ok := bounds[n]; ok {
				if err != nil || !equalRecs(got, recs[:whole]) {
					t.Fatalf("cut at boundary %d: %d records, %v", n, len(got), err)
				}
				continue
			}
			if !errors.Is(err, ErrShortRecord) {
				t.Fatalf("cut at %d: err = %v, want ErrShortRecord", n, err)
			}
		}
	})
	t.Run("callback error stops", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := SplitRecords(full, func(Kind, []byte, []byte) error { calls++; return stop })
		if err != stop || calls != 1 {
			t.Fatalf("err = %v after %d calls", err, calls)
		}
	})
}

// pattern returns n deterministic, non-repeating-at-1MiB bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func TestWriterReaderRoundTrip(t *testing.T) {
	big := pattern(3<<20 + 12345) // 3 MiB and a bit: 4 records
	h1 := sampleHeaders()["invalid utf8 path"]
	h2 := sampleHeaders()["several ext with unknown tags"]
	tr := FileTrailer{Algo: AlgoBLAKE3, Sum: bytes.Repeat([]byte{7}, 32), Flags: FlagChanged, Bytes: int64(len(big))}
	rawRec := frame(rec{KindData, []byte("raw, as stored in a volume")})
	end := StreamEnd{Files: 2, Bytes: int64(len(big)) + 3, Warnings: 1}

	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		w := NewWriter(pw)
		steps := []func() error{
			func() error { return w.Header(&h1) },
			func() error { return w.Data(big) },
			func() error { return w.Hole(int64(len(big)), 1<<20) },
			func() error { return w.Data(nil) }, // writes nothing
			func() error { return w.Trailer(&tr) },
			func() error { return w.Heartbeat() },
			func() error { return w.Header(&h2) },
			func() error { return w.Raw(rawRec) },
			func() error { return w.Data([]byte("abc")) },
			func() error { return w.Flush() },
			func() error { return w.End(&end) },
		}
		for _, s := range steps {
			if err := s(); err != nil {
				pw.CloseWithError(err)
				werr <- err
				return
			}
		}
		werr <- pw.Close()
	}()

	type want struct {
		kind  Kind
		check func(t *testing.T, p []byte)
	}
	data := func(b []byte) want {
		return want{KindData, func(t *testing.T, p []byte) {
			if !bytes.Equal(p, b) {
				t.Fatalf("data record of %d bytes differs from the %d sent", len(p), len(b))
			}
		}}
	}
	header := func(h FileHeader) want {
		return want{KindFileHeader, func(t *testing.T, p []byte) {
			got, err := DecodeFileHeader(p)
			if err != nil || !equalHeader(got, h) {
				t.Fatalf("header: %+v, %v", got, err)
			}
		}}
	}
	wants := []want{
		header(h1),
		data(big[:MaxChunk]), data(big[MaxChunk : 2*MaxChunk]), data(big[2*MaxChunk : 3*MaxChunk]), data(big[3*MaxChunk:]),
		{KindHole, func(t *testing.T, p []byte) {
			off, n, err := DecodeHole(p)
			if err != nil || off != int64(len(big)) || n != 1<<20 {
				t.Fatalf("hole %d %d %v", off, n, err)
			}
		}},
		{KindFileTrailer, func(t *testing.T, p []byte) {
			got, err := DecodeFileTrailer(p)
			if err != nil || !equalTrailer(got, tr) {
				t.Fatalf("trailer %+v %v", got, err)
			}
		}},
		{KindHeartbeat, func(t *testing.T, p []byte) {
			if len(p) != 0 {
				t.Fatalf("heartbeat payload %x", p)
			}
		}},
		header(h2),
		data([]byte("raw, as stored in a volume")),
		data([]byte("abc")),
		{KindStreamEnd, func(t *testing.T, p []byte) {
			got, err := DecodeStreamEnd(p)
			if err != nil || got != end {
				t.Fatalf("end %+v %v", got, err)
			}
		}},
	}

	done := make(chan struct{})
	defer close(done)
	timer := time.AfterFunc(testDeadline, func() { pr.CloseWithError(errors.New("test deadline")) })
	defer timer.Stop()

	r := NewReader(pr)
	var rebuilt bytes.Buffer
	for i, w := range wants {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if got.Kind != w.kind {
			t.Fatalf("record %d: kind %v, want %v", i, got.Kind, w.kind)
		}
		if len(got.Raw) != PrefixLen+len(got.Payload) || !bytes.Equal(got.Raw[PrefixLen:], got.Payload) {
			t.Fatalf("record %d: Raw inconsistent with Payload", i)
		}
		if got.Kind == KindData && len(got.Payload) > MaxChunk {
			t.Fatalf("record %d: data record of %d bytes > MaxChunk", i, len(got.Payload))
		}
		w.check(t, got.Payload)
		rebuilt.Write(got.Raw)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after stream end: err = %v, want io.EOF", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	// The raw records, replayed through SplitRecords (as a volume would),
	// give the same sequence.
	n := 0
	if err := SplitRecords(rebuilt.Bytes(), func(k Kind, _, _ []byte) error {
		if k != wants[n].kind {
			return fmt.Errorf("record %d: kind %v", n, k)
		}
		n++
		return nil
	}); err != nil || n != len(wants) {
		t.Fatalf("split of raw records: %d records, %v", n, err)
	}
}

// allocatedBytes reports the bytes allocated while fn runs.
func allocatedBytes(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestReaderRejectsOversize(t *testing.T) {
	tests := []struct {
		name string
		n    uint32
	}{
		{"max body plus one", MaxRecordBody + 1},
		{"4 GiB", math.MaxUint32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Only the prefix: the announced body is never sent.
			prefix := AppendPrefix(nil, KindData, int(tc.n))
			r := NewReader(bytes.NewReader(prefix))
			before := len(r.buf)
			var err error
			allocated := allocatedBytes(func() { _, err = r.Next() })
			if !errors.Is(err, ErrRecordSize) {
				t.Fatalf("err = %v, want ErrRecordSize", err)
			}
			if len(r.buf) != before {
				t.Fatalf("reader buffer grew from %d to %d for a rejected record", before, len(r.buf))
			}
			if allocated > 64<<10 {
				t.Fatalf("Next allocated %d bytes for a rejected %d-byte record", allocated, tc.n)
			}
		})
	}
	t.Run("max body accepted", func(t *testing.T) {
		body := pattern(MaxRecordBody)
		r := NewReader(bytes.NewReader(frame(rec{KindData, body}, rec{KindHeartbeat, nil})))
		got, err := r.Next()
		if err != nil || !bytes.Equal(got.Payload, body) {
			t.Fatalf("got %d bytes, %v", len(got.Payload), err)
		}
		if got, err := r.Next(); err != nil || got.Kind != KindHeartbeat {
			t.Fatalf("after a grown buffer: %v, %v", got.Kind, err)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("err = %v, want io.EOF", err)
		}
	})
}

func TestReaderEOF(t *testing.T) {
	stream := frame(rec{KindData, []byte("0123456789")}, rec{KindHeartbeat, nil}, rec{KindData, []byte("x")})
	boundaries := map[int]bool{0: true, 15: true, 20: true, len(stream): true}
	for n := 0; n <= len(stream); n++ {
		t.Run(fmt.Sprintf("cut at %d", n), func(t *testing.T) {
			r := NewReader(bytes.NewReader(stream[:n]))
			var err error
			for err == nil {
				_, err = r.Next()
			}
			if boundaries[n] {
				if err != io.EOF {
					t.Fatalf("clean boundary: err = %v, want io.EOF", err)
				}
				return
			}
			if errors.Is(err, io.EOF) || !errors.Is(err, ErrShortRecord) {
				t.Fatalf("mid-record: err = %v, want ErrShortRecord and not io.EOF", err)
			}
		})
	}
	t.Run("underlying error passes through", func(t *testing.T) {
		boom := errors.New("boom")
		r := NewReader(io.MultiReader(bytes.NewReader(stream[:3]), &errReader{boom}))
		if _, err := r.Next(); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

func TestWriterRejectsOversizeRecord(t *testing.T) {
	// A header the reader would refuse must be refused when written, or a
	// backup stores a stream no restore can read.
	h := FileHeader{Path: []byte("big-xattrs"), Type: TypeRegular, Ext: []Ext{{Tag: 7, Data: make([]byte, MaxRecordBody)}}}
	var out bytes.Buffer
	w := NewWriter(&out)
	if err := w.Header(&h); !errors.Is(err, ErrRecordSize) {
		t.Fatalf("Header: err = %v, want ErrRecordSize", err)
	}
	if err := w.Header(&FileHeader{Path: []byte("ok"), Type: TypeRegular}); err != nil {
		t.Fatalf("next header: %v", err)
	}
	if err := w.End(&StreamEnd{Files: 1}); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&out)
	for _, k := range []Kind{KindFileHeader, KindStreamEnd} {
		got, err := r.Next()
		if err != nil || got.Kind != k {
			t.Fatalf("got %v, %v; want %v (nothing of the refused header written)", got.Kind, err, k)
		}
	}
}
