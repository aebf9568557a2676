package backup

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/datapath"
)

// extent is a data region [Off, Off+Len) or a hole of a file.
type extent struct {
	Hole     bool
	Off, Len int64
}

// materialize rebuilds a file of size from the data and hole records of
// one file's content (as content writes them), checking that they follow
// each other in offset order, without gap or overlap, up to size. It
// returns the content and the data payloads in order.
func materialize(t *testing.T, stream []byte, size int64) (content, data []byte) {
	t.Helper()
	content = make([]byte, size)
	_, off := layoutOf(t, stream, size, func(off int64, p []byte) {
		copy(content[off:], p)
		data = append(data, p...)
	})
	if off != size {
		t.Fatalf("records cover %d of %d bytes", off, size)
	}
	return content, data
}

// layoutOf returns the extents the data and hole records describe, merging
// adjacent data records, and the offset they reach; onData sees each data
// payload at its offset.
func layoutOf(t *testing.T, stream []byte, size int64, onData func(off int64, p []byte)) ([]extent, int64) {
	t.Helper()
	var ext []extent
	off := int64(0)
	err := datapath.SplitRecords(stream, func(k datapath.Kind, p, raw []byte) error {
		switch k {
		case datapath.KindData:
			if int64(len(p)) > size-off {
				t.Fatalf("data beyond the size at %d", off)
			}
			if onData != nil {
				onData(off, p)
			}
			if n := len(ext); n > 0 && !ext[n-1].Hole {
				ext[n-1].Len += int64(len(p))
			} else {
				ext = append(ext, extent{Off: off, Len: int64(len(p))})
			}
			off += int64(len(p))
		case datapath.KindHole:
			ho, hn, err := datapath.DecodeHole(p)
			if err != nil {
				t.Fatal(err)
			}
			if ho != off || hn <= 0 || hn > size-off {
				t.Fatalf("hole [%d,+%d) at offset %d of %d", ho, hn, off, size)
			}
			ext = append(ext, extent{Hole: true, Off: ho, Len: hn})
			off += hn
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ext, off
}

// seekMap returns the extents of the file at path as SEEK_DATA/SEEK_HOLE
// report them.
func seekMap(t *testing.T, path string) []extent {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	fi, err := f.Stat()
	must(t, err)
	size, fd := fi.Size(), int(f.Fd())
	var ext []extent
	for off := int64(0); off < size; {
		d, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			d = size
		} else {
			must(t, err)
		}
		if d > off {
			ext = append(ext, extent{Hole: true, Off: off, Len: d - off})
		}
		if d >= size {
			break
		}
		h, err := unix.Seek(fd, d, unix.SEEK_HOLE)
		must(t, err)
		ext = append(ext, extent{Off: d, Len: h - d})
		off = h
	}
	return ext
}

// writeAt writes p at off in the file at path, keeping what is there.
func writeAt(t *testing.T, path string, off int64, p []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	must(t, err)
	defer f.Close()
	_, err = f.WriteAt(p, off)
	must(t, err)
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	must(t, err)
	must(t, f.Truncate(size))
	must(t, f.Close())
}

// holesSupported reports whether the file system under dir reports holes.
func holesSupported(t *testing.T, dir string) bool {
	t.Helper()
	p := filepath.Join(dir, "probe")
	truncate(t, p, 1<<20)
	writeAt(t, p, 1<<20-4096, []byte("x"))
	defer os.Remove(p)
	m := seekMap(t, p)
	return len(m) > 1 && m[0].Hole
}

func TestSendSparse(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name      string
		make      func(t *testing.T, p string)
		wantHoles bool
	}{
		{"empty", func(t *testing.T, p string) { truncate(t, p, 0) }, false},
		{"all hole", func(t *testing.T, p string) { truncate(t, p, 5*mib+3) }, true},
		{"leading hole, data, trailing hole", func(t *testing.T, p string) {
			truncate(t, p, 16*mib)
			writeAt(t, p, 4*mib, pattern(3*mib+5, 1))
		}, true},
		{"data, hole, data to the end", func(t *testing.T, p string) {
			writeAt(t, p, 0, pattern(mib/2, 2))
			writeAt(t, p, 8*mib, pattern(2*mib+7, 3))
		}, true},
		{"many small islands", func(t *testing.T, p string) {
			truncate(t, p, 64*mib)
			for i := int64(0); i < 32; i++ {
				writeAt(t, p, i*2*mib+int64(i)*4096, pattern(4096+int(i), byte(i)))
			}
		}, true},
		{"dense zeros stay data", func(t *testing.T, p string) {
			writeAt(t, p, 0, make([]byte, 3*mib))
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			must(t, err)
			must(t, f.Sync())
			must(t, f.Close())
		}, false},
		{"dense data", func(t *testing.T, p string) { writeAt(t, p, 0, pattern(2*mib+1, 9)) }, false},
	}
	dir := t.TempDir()
	if !holesSupported(t, dir) {
		t.Skip("the file system under " + dir + " does not report holes")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "src")
			must(t, os.Mkdir(root, 0o755))
			p := filepath.Join(root, "f")
			tc.make(t, p)
			want, err := os.ReadFile(p)
			must(t, err)
			srcMap := seekMap(t, p)
			var buf bytes.Buffer
			tot, err := Send(context.Background(), datapath.NewWriter(&buf), fileset.Spec{Include: []string{p}}, nil, nil)
			must(t, err)
			sent, _ := decode(t, buf.Bytes())
			f := find(sent, p)
			if f == nil {
				t.Fatal("not sent")
			}
			// The records of the file alone.
			recs := recordsOf(t, buf.Bytes(), f.hdr.Path)
			got, data := materialize(t, recs, f.hdr.Size)
			if !bytes.Equal(got, want) {
				t.Fatal("content differs")
			}
			sum := blake3.Sum256(data)
			if !bytes.Equal(f.trailer.Sum, sum[:]) || f.trailer.Bytes != int64(len(data)) || tot.Bytes != int64(len(data)) {
				t.Errorf("trailer %+v, %d data bytes, totals %+v", f.trailer, len(data), tot)
			}
			sentMap, _ := layoutOf(t, recs, f.hdr.Size, nil)
			if !equalExtents(sentMap, srcMap) {
				t.Errorf("sent layout %+v, file's %+v", sentMap, srcMap)
			}
			holes := false
			for _, e := range sentMap {
				holes = holes || e.Hole
			}
			if holes != tc.wantHoles {
				t.Errorf("holes sent: %v, want %v (%+v)", holes, tc.wantHoles, sentMap)
			}
		})
	}
}

func equalExtents(a, b []extent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// recordsOf returns the data and hole records between the header of path
// and its trailer.
func recordsOf(t *testing.T, stream []byte, path []byte) []byte {
	t.Helper()
	var out []byte
	in := false
	r := datapath.NewReader(bytes.NewReader(stream))
	for {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch rec.Kind {
		case datapath.KindFileHeader:
			h, err := datapath.DecodeFileHeader(rec.Payload)
			must(t, err)
			in = bytes.Equal(h.Path, path)
		case datapath.KindFileTrailer:
			if in {
				return out
			}
		case datapath.KindData, datapath.KindHole:
			if in {
				out = append(out, rec.Raw...)
			}
		}
	}
}

// TestSendSparseMemory: a 1 GiB file that is mostly hole costs no more
// memory (and no more time reading) than a small one.
func TestSendSparseMemory(t *testing.T) {
	dir := t.TempDir()
	if !holesSupported(t, dir) {
		t.Skip("the file system under " + dir + " does not report holes")
	}
	for _, c := range []struct {
		name string
		size int64
	}{{"small", 4 << 20}, {"large", 1 << 30}} {
		d := filepath.Join(dir, c.name)
		must(t, os.Mkdir(d, 0o700))
		p := filepath.Join(d, "f")
		truncate(t, p, c.size)
		writeAt(t, p, 0, pattern(64<<10, 1))
		writeAt(t, p, c.size/2, pattern(64<<10, 2))
		writeAt(t, p, c.size-(1<<20), pattern(64<<10, 3)) // then a trailing hole
	}
	alloc := func(dir string) (uint64, int64) {
		var bytesSent int64
		send := func() {
			tot, err := Send(context.Background(), datapath.NewWriter(io.Discard), fileset.Spec{Include: []string{dir}}, nil, nil)
			must(t, err)
			bytesSent = tot.Bytes
		}
		send() // warm up
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		send()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, bytesSent
	}
	small, sentSmall := alloc(filepath.Join(dir, "small"))
	large, sentLarge := alloc(filepath.Join(dir, "large"))
	t.Logf("allocated: %d bytes for 4 MiB, %d bytes for 1 GiB; data sent %d and %d bytes", small, large, sentSmall, sentLarge)
	if sentLarge != 3*64<<10 {
		t.Errorf("sent %d data bytes of the 1 GiB file, want %d", sentLarge, 3*64<<10)
	}
	if large > small+16<<10 {
		t.Fatalf("allocations grow with the sparse file's size: %d bytes for 4 MiB, %d for 1 GiB", small, large)
	}
}

func TestSendHardlinks(t *testing.T) {
	root := filepath.Join(t.TempDir(), "src")
	must(t, os.Mkdir(root, 0o755))
	must(t, os.Mkdir(root+"/d", 0o755))
	must(t, os.WriteFile(root+"/a", []byte("shared content"), 0o640))
	must(t, os.Link(root+"/a", root+"/d/b"))
	must(t, os.Link(root+"/a", root+"/z"))
	must(t, os.Symlink("target", root+"/s1"))
	must(t, unix.Linkat(unix.AT_FDCWD, root+"/s1", unix.AT_FDCWD, root+"/s2", 0))
	must(t, unix.Mkfifo(root+"/p1", 0o600))
	must(t, os.Link(root+"/p1", root+"/p2"))
	must(t, os.WriteFile(root+"/single", []byte("alone"), 0o600))
	must(t, os.WriteFile(root+"/outside-link", []byte("x"), 0o600))
	must(t, os.Link(root+"/outside-link", filepath.Dir(root)+"/other-name")) // a name outside the fileset

	var buf bytes.Buffer
	w := datapath.NewWriter(&buf)
	s := newSender(context.Background(), w, nil, nil)
	must(t, fileset.Walk(context.Background(), fileset.Spec{Include: []string{root}}, s.entry, s.walkWarning))
	must(t, w.End(&datapath.StreamEnd{Files: s.totals.Files, Bytes: s.totals.Bytes}))
	sent, _ := decode(t, buf.Bytes())
	rel := func(p string) string { return root[1:] + "/" + p }

	tests := []struct {
		path  string
		first string // "" for a group's first entry
		data  string
	}{
		{"a", "", "shared content"},
		{"d/b", "a", ""},
		{"z", "a", ""},
		{"p1", "", ""},
		{"p2", "p1", ""},
		{"s1", "", ""},
		{"s2", "s1", ""},
		{"outside-link", "", "x"},
	}
	groups := map[uint64]string{}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			f := find(sent, "/"+rel(tc.path))
			if f == nil {
				t.Fatal("not sent")
			}
			ext, err := datapath.DecodeExts(f.hdr.Ext)
			must(t, err)
			l := ext.Hardlink
			if l == nil {
				t.Fatal("no hardlink extension")
			}
			if string(f.data) != tc.data {
				t.Errorf("data %q, want %q", f.data, tc.data)
			}
			if tc.first == "" {
				if !l.First() {
					t.Errorf("first entry refers to %q", l.Path)
				}
				if g, dup := groups[l.Group]; dup {
					t.Errorf("group %d already used by %q", l.Group, g)
				}
				groups[l.Group] = tc.path
				return
			}
			if string(l.Path) != rel(tc.first) || groups[l.Group] != tc.first {
				t.Errorf("refers to %q in group %d, want %q in the group of %q", l.Path, l.Group, rel(tc.first), tc.first)
			}
			if f.trailer.Algo != datapath.AlgoNone || f.trailer.Bytes != 0 {
				t.Errorf("later name's trailer %+v", f.trailer)
			}
		})
	}
	if f := find(sent, "/"+rel("single")); f == nil || len(f.hdr.Ext) != 0 {
		t.Errorf("single-name file: %+v", f)
	}
	// Groups whose names were all seen are forgotten; the one with a name
	// outside the fileset stays.
	if len(s.links) != 1 {
		t.Errorf("%d inodes remembered after the walk, want 1", len(s.links))
	}
}
