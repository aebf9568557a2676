package sd

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/backup"
	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/datapath"
)

const testJob = 42

// storeBackup backs src up and stores the stream in a new volume as the sd
// does (after a session of another job), returning the volume file and
// the session's start.
func storeBackup(t *testing.T, src string) (string, int64) {
	t.Helper()
	var stream bytes.Buffer
	if _, err := backup.Send(context.Background(), datapath.NewWriter(&stream), fileset.Spec{Include: []string{src}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	v, err := volume.Create(dir, "vol1")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	other, err := v.BeginSession(7, []byte("job=7"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 { // another job's records before ours
		if _, err := other.Add(bytes.Repeat([]byte{byte(i)}, 30_000)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := other.End(volume.SessionOK, volume.Totals{}, nil); err != nil {
		t.Fatal(err)
	}
	vs, err := v.BeginSession(testJob, []byte("job=42"))
	if err != nil {
		t.Fatal(err)
	}
	r := datapath.NewReader(&stream)
	for {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if rec.Kind == datapath.KindStreamEnd {
			break
		}
		if _, err := vs.Add(rec.Raw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := vs.End(volume.SessionOK, volume.Totals{}, nil); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "vol1"), vs.StartOffset()
}

// sentEntry is one entry of a replayed stream.
type sentEntry struct {
	hdr  datapath.FileHeader
	link *datapath.Hardlink
	data int64
}

// decodeStream returns the entries of a stream and its end.
func decodeStream(t *testing.T, stream []byte) ([]sentEntry, datapath.StreamEnd) {
	t.Helper()
	var out []sentEntry
	r := datapath.NewReader(bytes.NewReader(stream))
	for {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch rec.Kind {
		case datapath.KindFileHeader:
			h, err := datapath.DecodeFileHeader(bytes.Clone(rec.Payload))
			if err != nil {
				t.Fatal(err)
			}
			ext, err := datapath.DecodeExts(h.Ext)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, sentEntry{hdr: h, link: ext.Hardlink})
		case datapath.KindData:
			out[len(out)-1].data += int64(len(rec.Payload))
		case datapath.KindStreamEnd:
			e, err := datapath.DecodeStreamEnd(rec.Payload)
			if err != nil {
				t.Fatal(err)
			}
			return out, e
		}
	}
}

// TestReplaySelectedHardlinks replays a stored job with path selections
// from a real volume: a selected later name of a hardlink group whose
// first entry is left out gets the content, re-read from the volume, and
// the restore makes one inode of the selected names.
func TestReplaySelectedHardlinks(t *testing.T) {
	base := t.TempDir()
	src := base + "/src"
	for _, d := range []string{"/a", "/keep", "/other"} {
		if err := os.MkdirAll(src+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 3<<20+8192) // spans several volume blocks; ends on a file system block
	for i := range big {
		big[i] = byte(i * 7)
	}
	write := func(p string, b []byte) {
		if err := os.WriteFile(src+"/"+p, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 { // small files first: the group's header lies inside a block
		write("a/small"+string(rune('a'+i)), bytes.Repeat([]byte{byte(i)}, 5000))
	}
	write("a/big", big)
	f, err := os.OpenFile(src+"/a/big", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil { // and a trailing hole
		t.Fatal(err)
	}
	f.Close()
	for _, l := range []string{"keep/l1", "keep/l2", "other/l3"} {
		if err := os.Link(src+"/a/big", src+"/"+l); err != nil {
			t.Fatal(err)
		}
	}
	write("keep/plain", []byte("plain"))
	vol, start := storeBackup(t, src)
	rel := src[1:]
	bigData := int64(len(big))

	tests := []struct {
		name  string
		paths []string
		// names restored as one inode, the first being the one sent with data
		group []string
		refs  map[string]string // later name -> the path it refers to in the stream
	}{
		{"no selection", nil, []string{"a/big", "keep/l1", "keep/l2", "other/l3"},
			map[string]string{"keep/l1": "a/big", "keep/l2": "a/big", "other/l3": "a/big"}},
		{"first entry left out", []string{rel + "/keep"}, []string{"keep/l1", "keep/l2"},
			map[string]string{"keep/l2": "keep/l1"}},
		{"first entry selected", []string{rel + "/a/big", rel + "/keep/"}, []string{"a/big", "keep/l1", "keep/l2"},
			map[string]string{"keep/l1": "a/big", "keep/l2": "a/big"}},
		{"only the last name", []string{"/" + rel + "/other/l3"}, []string{"other/l3"}, nil},
		{"two later names apart", []string{rel + "/keep/l2", rel + "/other"}, []string{"keep/l2", "other/l3"},
			map[string]string{"other/l3": "keep/l2"}},
		{"no name of the group", []string{rel + "/keep/plain"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var paths [][]byte
			for _, p := range tc.paths {
				paths = append(paths, []byte(p))
			}
			var out bytes.Buffer
			w := datapath.NewWriter(&out)
			rp := newReplayer(context.Background(), w, testJob, "client", paths)
			if err := rp.replay(vol, start); err != nil {
				t.Fatal(err)
			}
			rp.close()
			if tc.group == nil { // the group's first entry is remembered where it lies: inside a block
				if len(rp.sel.unsent) != 1 {
					t.Fatalf("%d first entries remembered, want 1", len(rp.sel.unsent))
				}
				for _, st := range rp.sel.unsent {
					if st.pos.Within == 0 || st.volume != vol || string(st.path) != rel+"/a/big" {
						t.Errorf("remembered %+v", st)
					}
				}
			}
			if err := w.End(&datapath.StreamEnd{Files: rp.sel.files, Bytes: rp.sel.bytes}); err != nil {
				t.Fatal(err)
			}
			entries, _ := decodeStream(t, out.Bytes())
			var files, data int64
			byPath := map[string]sentEntry{}
			for _, e := range entries {
				files++
				data += e.data
				byPath[strings.TrimPrefix(string(e.hdr.Path), rel+"/")] = e
			}
			if files != rp.sel.files || data != rp.sel.bytes {
				t.Errorf("counted %d files %d bytes, sent %d and %d", rp.sel.files, rp.sel.bytes, files, data)
			}
			for i, name := range tc.group {
				e, ok := byPath[name]
				if !ok {
					t.Fatalf("%q not sent", name)
				}
				if e.link == nil {
					t.Fatalf("%q sent without its hardlink extension", name)
				}
				if i == 0 {
					if !e.link.First() || e.data != bigData || e.hdr.Size != 64<<20 {
						t.Errorf("%q: first entry refers to %q, %d data bytes, size %d", name, e.link.Path, e.data, e.hdr.Size)
					}
					continue
				}
				if want := rel + "/" + tc.refs[name]; string(e.link.Path) != want || e.data != 0 {
					t.Errorf("%q refers to %q with %d data bytes, want %q and none", name, e.link.Path, e.data, want)
				}
			}
			for name := range byPath {
				if name == "a/big" && !contains(tc.group, name) {
					t.Errorf("left-out first entry sent")
				}
			}

			// The fd restores what was sent: the selected names are one inode.
			target := t.TempDir()
			var warn warns
			got, end, err := restore.Receive(context.Background(), datapath.NewReader(&out), target, restore.Options{}, &warn, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(warn) != 0 || got.Received != files || end.Files != files {
				t.Errorf("restore: %+v, warnings %q", got, warn)
			}
			var ino uint64
			for i, name := range tc.group {
				var st unix.Stat_t
				if err := unix.Lstat(target+src+"/"+name, &st); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					ino = st.Ino
				} else if st.Ino != ino {
					t.Errorf("%q is not a name of the same inode as %q", name, tc.group[0])
				}
				if st.Nlink != uint64(len(tc.group)) || st.Size != 64<<20 || st.Blocks*512 > 8<<20 {
					t.Errorf("%q: %d names, size %d, %d blocks", name, st.Nlink, st.Size, st.Blocks)
				}
			}
			if len(tc.group) > 0 {
				b, err := os.ReadFile(target + src + "/" + tc.group[0])
				if err != nil || !bytes.Equal(b[:len(big)], big) || !allZero(b[len(big):]) {
					t.Errorf("content differs (%v)", err)
				}
			}
		})
	}
}

// TestReplayResendRefusesWrongPosition: a position that does not hold the
// remembered header is an error, not a wrong file under the link's name.
func TestReplayResendRefusesWrongPosition(t *testing.T) {
	src := t.TempDir() + "/src"
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src+"/f", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	vol, start := storeBackup(t, src)
	rp := newReplayer(context.Background(), datapath.NewWriter(io.Discard), testJob, "client", nil)
	defer rp.close()
	tests := []struct {
		name string
		st   storedEntry
	}{
		{"other session's block", storedEntry{volume: vol, pos: volume.Position{Block: start - 1}, path: []byte("x")}},
		{"session start block", storedEntry{volume: vol, pos: volume.Position{Block: start}, path: []byte("x")}},
		{"the label", storedEntry{volume: vol, pos: volume.Position{Block: 0}, path: []byte("x")}},
		{"another entry's header", storedEntry{volume: vol, pos: volume.Position{Block: start + volume.HeaderSize + int64(len("job=42"))}, path: []byte("x")}},
		{"not a record boundary", storedEntry{volume: vol, pos: volume.Position{Block: start + volume.HeaderSize + int64(len("job=42")), Within: 3}, path: []byte("x")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := rp.resend(tc.st, []byte("link"), 1); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

type warns []string

func (w *warns) Warn(path []byte, msg string) { *w = append(*w, string(path)+": "+msg) }

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
