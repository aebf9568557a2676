package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/datapath"
)

// sentFile is one entry decoded from a stream.
type sentFile struct {
	hdr     datapath.FileHeader
	data    []byte
	trailer datapath.FileTrailer
}

// decode parses a stream, checking that every header is closed by a
// trailer with only data and hole records between.
func decode(t *testing.T, stream []byte) ([]sentFile, datapath.StreamEnd) {
	t.Helper()
	r := datapath.NewReader(bytes.NewReader(stream))
	var files []sentFile
	var cur *sentFile
	for {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("stream without end: %v", err)
		}
		switch rec.Kind {
		case datapath.KindFileHeader:
			if cur != nil {
				t.Fatalf("header before the trailer of %q", cur.hdr.Path)
			}
			h, err := datapath.DecodeFileHeader(bytes.Clone(rec.Payload))
			if err != nil {
				t.Fatal(err)
			}
			cur = &sentFile{hdr: h}
		case datapath.KindData:
			if cur == nil {
				t.Fatal("data outside a file")
			}
			if len(rec.Payload) > datapath.MaxChunk {
				t.Fatalf("data record of %d bytes", len(rec.Payload))
			}
			cur.data = append(cur.data, rec.Payload...)
		case datapath.KindHole:
			if cur == nil || cur.hdr.Type != datapath.TypeRegular {
				t.Fatal("hole outside a regular file")
			}
		case datapath.KindFileTrailer:
			if cur == nil {
				t.Fatal("trailer without header")
			}
			tr, err := datapath.DecodeFileTrailer(bytes.Clone(rec.Payload))
			if err != nil {
				t.Fatal(err)
			}
			cur.trailer = tr
			files = append(files, *cur)
			cur = nil
		case datapath.KindStreamEnd:
			if cur != nil {
				t.Fatalf("stream end inside %q", cur.hdr.Path)
			}
			e, err := datapath.DecodeStreamEnd(rec.Payload)
			if err != nil {
				t.Fatal(err)
			}
			return files, e
		default:
			t.Fatalf("unexpected %s record", rec.Kind)
		}
	}
}

type warnings []string

func (w *warnings) Warn(path []byte, msg string) { *w = append(*w, string(path)+": "+msg) }

func (w *warnings) Note(path []byte, msg string) { *w = append(*w, "note: "+string(path)+": "+msg) }

func find(files []sentFile, path string) *sentFile {
	for i := range files {
		if string(files[i].hdr.Path) == strings.TrimPrefix(path, "/") {
			return &files[i]
		}
	}
	return nil
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

func TestSendStream(t *testing.T) {
	root := t.TempDir()
	big := pattern(3<<20+17, 1)
	files := map[string][]byte{"empty": nil, "small": []byte("hello\n"), "big": big}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), content, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.Mkdir(root+"/dir", 0o750))
	must(t, os.Symlink("../nowhere", root+"/dir/link"))
	must(t, unix.Mkfifo(root+"/fifo", 0o600))
	must(t, unix.Mknod(root+"/sock", unix.S_IFSOCK|0o600, 0))

	var buf bytes.Buffer
	var warn warnings
	var progressCalls int
	tot, err := Send(context.Background(), datapath.NewWriter(&buf), fileset.Spec{Include: []string{root}}, &warn,
		func(files, bytes int64, path []byte) { progressCalls++ })
	if err != nil {
		t.Fatal(err)
	}
	sent, end := decode(t, buf.Bytes())

	wantBytes := int64(len(big) + len("hello\n"))
	if tot.Bytes != wantBytes || end.Bytes != wantBytes || tot.Files != int64(len(sent)) || end.Files != tot.Files || end.Warnings != 0 || tot.Warnings != 0 {
		t.Errorf("totals %+v, end %+v, %d entries sent, want %d bytes and no warning", tot, end, len(sent), wantBytes)
	}
	if len(warn) != 1 || warn[0] != "note: "+root+"/sock: "+SocketNote {
		t.Errorf("notes and warnings %q, want the socket's note only", warn)
	}
	if progressCalls == 0 {
		t.Error("progress never called")
	}
	tests := []struct {
		path    string
		typ     datapath.FileType
		content []byte
	}{
		{"empty", datapath.TypeRegular, nil},
		{"small", datapath.TypeRegular, []byte("hello\n")},
		{"big", datapath.TypeRegular, big},
		{"dir", datapath.TypeDir, nil},
		{"dir/link", datapath.TypeSymlink, nil},
		{"fifo", datapath.TypeFifo, nil},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			f := find(sent, root+"/"+tc.path)
			if f == nil {
				t.Fatal("not sent")
			}
			if f.hdr.Type != tc.typ || !bytes.Equal(f.data, tc.content) {
				t.Fatalf("type %v, %d bytes", f.hdr.Type, len(f.data))
			}
			if tc.typ != datapath.TypeRegular {
				if f.trailer.Algo != datapath.AlgoNone || f.trailer.Bytes != 0 {
					t.Errorf("trailer %+v", f.trailer)
				}
				return
			}
			sum := blake3.Sum256(tc.content)
			if f.trailer.Algo != datapath.AlgoBLAKE3 || !bytes.Equal(f.trailer.Sum, sum[:]) || f.trailer.Bytes != int64(len(tc.content)) || f.trailer.Flags != 0 {
				t.Errorf("trailer %+v", f.trailer)
			}
			if f.hdr.Size != int64(len(tc.content)) || f.hdr.Mode != 0o640 {
				t.Errorf("header size %d mode %#o", f.hdr.Size, f.hdr.Mode)
			}
		})
	}
	if f := find(sent, root+"/sock"); f == nil || f.hdr.Type != datapath.TypeSocket {
		t.Error("socket not recorded")
	}
	if f := find(sent, root+"/dir/link"); f != nil && string(f.hdr.LinkTarget) != "../nowhere" {
		t.Errorf("link target %q", f.hdr.LinkTarget)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSendContent drives the content loop with an announced size that
// differs from the file's, as when the file changes between fstat and
// read.
func TestSendContent(t *testing.T) {
	tests := []struct {
		name      string
		actual    int
		announced int64
		flags     uint32
		warned    bool
	}{
		{"exact multi-chunk", 2*datapath.MaxChunk + 5, 2*datapath.MaxChunk + 5, 0, false},
		{"grew: cut to the announced size", 2*datapath.MaxChunk + 5, datapath.MaxChunk + 3, 0, false},
		{"shrank: zero-padded", 10, 3*datapath.MaxChunk + 1, datapath.FlagTruncated | datapath.FlagChanged, true},
		{"shrank to nothing", 0, 100, datapath.FlagTruncated | datapath.FlagChanged, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content := pattern(tc.actual, 3)
			p := filepath.Join(t.TempDir(), "f")
			must(t, os.WriteFile(p, content, 0o600))
			f, err := os.Open(p)
			must(t, err)
			defer f.Close()
			var buf bytes.Buffer
			w := datapath.NewWriter(&buf)
			s := newSender(context.Background(), w, nil, nil)
			s.layout.reset(int(f.Fd()), tc.announced)
			start, end := s.layout.next(0)
			c, err := s.content(int(f.Fd()), []byte("f"), tc.announced, start, end, 0)
			must(t, err)
			must(t, w.Flush())
			want := make([]byte, tc.announced)
			copy(want, content)
			if c.flags != tc.flags || (c.problem != "") != tc.warned {
				t.Errorf("sent %d flags %b problem %q", c.sent, c.flags, c.problem)
			}
			got, data := materialize(t, buf.Bytes(), tc.announced)
			sum := blake3.Sum256(data)
			if !bytes.Equal(got, want) || c.sent != int64(len(data)) || !bytes.Equal(s.hasher.Sum(nil), sum[:]) {
				t.Errorf("content or sum differs (%d bytes sent)", c.sent)
			}
		})
	}
}

func TestSendChangedWhileRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	must(t, os.WriteFile(p, []byte("abc"), 0o600))
	f, err := os.Open(p)
	must(t, err)
	defer f.Close()
	var before unix.Stat_t
	must(t, unix.Fstat(int(f.Fd()), &before))
	var c sent
	c.checkChanged(int(f.Fd()), &before)
	if c.flags != 0 {
		t.Fatalf("unchanged file flagged %b", c.flags)
	}
	must(t, os.WriteFile(p, []byte("abcd"), 0o600))
	c.checkChanged(int(f.Fd()), &before)
	if c.flags != datapath.FlagChanged || c.problem == "" {
		t.Fatalf("changed file: flags %b problem %q", c.flags, c.problem)
	}
}

func TestSendUnopenable(t *testing.T) {
	var buf bytes.Buffer
	var warn warnings
	w := datapath.NewWriter(&buf)
	s := newSender(context.Background(), w, &warn, nil)
	e := &fileset.Entry{Header: datapath.FileHeader{Path: []byte("gone"), Type: datapath.TypeRegular, Size: 5}}
	err := s.entry(e, func() (*os.File, error) { return nil, unix.ENOENT })
	must(t, err)
	must(t, w.Flush())
	if buf.Len() != 0 || s.totals.Files != 0 || s.totals.Warnings != 1 {
		t.Fatalf("%d bytes written, totals %+v", buf.Len(), s.totals)
	}
	if len(warn) != 1 || !strings.HasPrefix(warn[0], "/gone: ") || !strings.Contains(warn[0], "no such file") {
		t.Fatalf("warnings %q", warn)
	}
}

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errors.New("connection reset") }

func TestSendWriterError(t *testing.T) {
	root := t.TempDir()
	must(t, os.WriteFile(root+"/big", pattern(3<<20, 0), 0o600))
	_, err := Send(context.Background(), datapath.NewWriter(failWriter{}), fileset.Spec{Include: []string{root}}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "connection reset") || !strings.Contains(err.Error(), "big") {
		t.Fatalf("err %v", err)
	}
}

// TestSendMemory checks that what Send allocates does not grow with the
// size of the files it sends.
func TestSendMemory(t *testing.T) {
	root := t.TempDir()
	must(t, os.Mkdir(root+"/small", 0o700))
	must(t, os.Mkdir(root+"/large", 0o700))
	must(t, os.WriteFile(root+"/small/f", pattern(1<<20, 0), 0o600))
	must(t, os.WriteFile(root+"/large/f", pattern(64<<20, 0), 0o600))
	alloc := func(dir string) uint64 {
		send := func() {
			_, err := Send(context.Background(), datapath.NewWriter(io.Discard), fileset.Spec{Include: []string{dir}}, nil, nil)
			must(t, err)
		}
		send() // warm up
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		send()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := alloc(root+"/small"), alloc(root+"/large")
	t.Logf("allocated: %d bytes for 1 MiB, %d bytes for 64 MiB", small, large)
	if large > small+64<<10 {
		t.Fatalf("allocations grow with file size: %d bytes for 1 MiB, %d for 64 MiB", small, large)
	}
}

func BenchmarkSend(b *testing.B) {
	root := b.TempDir()
	var total int64
	for i := range 4 {
		content := pattern(32<<20, byte(i))
		if err := os.WriteFile(fmt.Sprintf("%s/f%d", root, i), content, 0o600); err != nil {
			b.Fatal(err)
		}
		total += int64(len(content))
	}
	b.SetBytes(total)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Send(context.Background(), datapath.NewWriter(io.Discard), fileset.Spec{Include: []string{root}}, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
