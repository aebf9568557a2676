package inspect_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/ferrybackup/ferry/agents/sd/inspect"
	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/datapath"
)

// tfile is a file a test stores.
type tfile struct {
	hdr     datapath.FileHeader
	content []byte
	flags   uint32
}

// stored is where a tfile's records went.
type stored struct {
	header  volume.Position
	data    []volume.Position
	trailer volume.Position
}

// spec is a session a test writes.
type spec struct {
	id     uint64
	files  []tfile
	status volume.Status // 0: leave the session without end block
	zstd   bool          // data chunks that shrink go as zdata records
}

// wrote is what writeVolume did for one session.
type wrote struct {
	start, end int64 // end is 0 for an unended session
	files      []stored
	totals     volume.Totals
}

const mtime = int64(1767323045123456789) // 2026-01-02T03:04:05.123456789Z

func regular(path string, content []byte) tfile {
	return tfile{hdr: datapath.FileHeader{Path: []byte(path), Type: datapath.TypeRegular, Mode: 0o644,
		UID: 1000, GID: 100, Mtime: mtime, Atime: mtime, Size: int64(len(content))}, content: content}
}

func dir(path string) tfile {
	return tfile{hdr: datapath.FileHeader{Path: []byte(path), Type: datapath.TypeDir, Mode: 0o755, Mtime: mtime, Atime: mtime}}
}

func symlink(path, target string) tfile {
	return tfile{hdr: datapath.FileHeader{Path: []byte(path), Type: datapath.TypeSymlink, Mode: 0o777,
		Mtime: mtime, Atime: mtime, LinkTarget: []byte(target)}}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}

// completeFiles: a complete session's worth, with a symlink, a 2 MiB file
// and a path that is not UTF-8.
func completeFiles() []tfile {
	changed := regular("etc/h\xe9llo\xff", []byte("changed while read\n"))
	changed.flags = datapath.FlagChanged
	return []tfile{
		dir("etc"),
		regular("etc/hosts", []byte("127.0.0.1 localhost\n")),
		symlink("etc/link", "hosts"),
		regular("big.bin", pattern(2<<20, 7)),
		changed,
	}
}

// incompleteFiles: "a" is whole, "b" loses its trailer (and "c" all of
// itself) when the session is left unended: Volume.Close drops the
// records not yet flushed into a block.
func incompleteFiles() []tfile {
	return []tfile{regular("a", []byte("aaaa")), regular("b", pattern(1<<20, 3)), regular("c", []byte("cc"))}
}

// writeVolume writes a volume named v1 with the sessions of specs and
// returns its path.
func writeVolume(t *testing.T, specs ...spec) (string, []wrote) {
	t.Helper()
	dir := t.TempDir()
	v, err := volume.Create(dir, "v1")
	if err != nil {
		t.Fatal(err)
	}
	var out []wrote
	for _, sp := range specs {
		out = append(out, writeSession(t, v, sp))
		if sp.status == 0 {
			if err := v.Close(); !errors.Is(err, volume.ErrBusy) {
				t.Fatalf("Close with open session: %v", err)
			}
			if v, _, err = volume.OpenAppend(dir, "v1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "v1"), out
}

func writeSession(t *testing.T, v *volume.Volume, sp spec) wrote {
	t.Helper()
	s, err := v.BeginSession(sp.id, []byte("job=x client=c1"))
	if err != nil {
		t.Fatal(err)
	}
	w := wrote{start: s.StartOffset()}
	comp, err := datapath.NewCompressor(datapath.CompressionZstd)
	if err != nil {
		t.Fatal(err)
	}
	add := func(k datapath.Kind, payload []byte) volume.Position {
		rec := append(datapath.AppendPrefix(nil, k, len(payload)), payload...)
		pos, err := s.Add(rec)
		if err != nil {
			t.Fatal(err)
		}
		w.totals.Records++
		return pos
	}
	for _, f := range sp.files {
		var st stored
		st.header = add(datapath.KindFileHeader, datapath.AppendFileHeader(nil, &f.hdr))
		for p := f.content; len(p) > 0; {
			n := min(len(p), datapath.MaxChunk)
			if z, ok := comp.AppendZData(nil, p[:n]); sp.zstd && ok {
				st.data = append(st.data, add(datapath.KindZData, z))
			} else {
				st.data = append(st.data, add(datapath.KindData, p[:n]))
			}
			p = p[n:]
		}
		tr := datapath.FileTrailer{Algo: datapath.AlgoNone, Flags: f.flags, Bytes: int64(len(f.content))}
		if f.hdr.Type == datapath.TypeRegular {
			sum := blake3.Sum256(f.content)
			tr.Algo, tr.Sum = datapath.AlgoBLAKE3, sum[:]
		}
		st.trailer = add(datapath.KindFileTrailer, datapath.AppendFileTrailer(nil, &tr))
		w.files = append(w.files, st)
		w.totals.Files++
		w.totals.Bytes += uint64(len(f.content))
	}
	if sp.status != 0 {
		if w.end, err = s.End(sp.status, w.totals, []byte("job=x client=c1")); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// patchBlock lets fn change the payload of the block at off, then fixes
// the block's CRC-32C as volume's format.go lays it out (over the 32-byte
// header with the CRC field zeroed, then the payload).
func patchBlock(t *testing.T, path string, off int64, fn func(payload []byte)) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hdr := make([]byte, volume.HeaderSize)
	if _, err := f.ReadAt(hdr, off); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, binary.LittleEndian.Uint32(hdr[20:]))
	if _, err := f.ReadAt(p, off+volume.HeaderSize); err != nil {
		t.Fatal(err)
	}
	fn(p)
	clear(hdr[28:32])
	c := crc32.Update(0, crc32.MakeTable(crc32.Castagnoli), hdr)
	c = crc32.Update(c, crc32.MakeTable(crc32.Castagnoli), p)
	binary.LittleEndian.PutUint32(hdr[28:], c)
	if _, err := f.WriteAt(append(hdr, p...), off); err != nil {
		t.Fatal(err)
	}
}

// flipByte inverts the byte at off without fixing any CRC.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// listing is what Volume handed out.
type listing struct {
	items []inspect.Item
	sum   inspect.Summary
	err   error
}

func list(t *testing.T, path string, opt inspect.Options) listing {
	t.Helper()
	var l listing
	l.sum, l.err = inspect.Volume(path, opt, func(it inspect.Item) error {
		l.items = append(l.items, it)
		return nil
	})
	return l
}

func (l listing) kinds(k inspect.ItemKind) []inspect.Item {
	var out []inspect.Item
	for _, it := range l.items {
		if it.Kind == k {
			out = append(out, it)
		}
	}
	return out
}

func (l listing) files(session uint64) []*inspect.File {
	var out []*inspect.File
	for _, it := range l.kinds(inspect.ItemFile) {
		if it.File.Session == session {
			out = append(out, it.File)
		}
	}
	return out
}

func (l listing) end(t *testing.T, session uint64) *inspect.SessionEnd {
	t.Helper()
	for _, it := range l.kinds(inspect.ItemSessionEnd) {
		if it.End.ID == session {
			return it.End
		}
	}
	t.Fatalf("no end item for session %d", session)
	return nil
}

func (l listing) file(t *testing.T, session uint64, path string) *inspect.File {
	t.Helper()
	for _, f := range l.files(session) {
		if string(f.Path) == path {
			return f
		}
	}
	t.Fatalf("session %d: no file %q", session, path)
	return nil
}
