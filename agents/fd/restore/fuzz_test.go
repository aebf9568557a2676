package restore_test

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
)

// FuzzReceive restores streams built from a fuzzed program of entries whose
// paths and link targets come from a small hostile vocabulary (.., an
// absolute path, symlinks to the outside, hardlinks to anything): whatever
// the stream, Receive returns, and nothing appears outside the target.
func FuzzReceive(f *testing.F) {
	// Each entry is four bytes: op, two path components, an argument (see
	// fuzzStream).
	f.Add([]byte{2, 5, 0, 0, 1, 5, 7, 4})             // symlink s -> outside, file s/x
	f.Add([]byte{2, 5, 0, 1, 0, 5, 1, 0})             // symlink s -> ../outside, directory s/e
	f.Add([]byte{0, 0, 0, 0, 1, 0, 7, 3})             // directory d, file d/x
	f.Add([]byte{3, 1, 0, 2, 4, 7, 0, 0})             // hardlink group e, later name x linked to the outside
	f.Add([]byte{3, 1, 0, 2, 4, 7, 0, 1})             // the same, to ../outside
	f.Add([]byte{1, 2, 7, 1, 1, 4, 0, 2})             // ../x, the outside as an absolute path
	f.Add([]byte{0, 0, 0, 0, 2, 0, 7, 0, 1, 0, 7, 9}) // directory d, symlink d/x -> outside, file d/x
	f.Add([]byte{5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0}) // stray data, trailer, hole
	f.Fuzz(func(t *testing.T, prog []byte) {
		base := t.TempDir()
		target, outside := base+"/target", base+"/outside"
		must(t, os.Mkdir(outside, 0o700))
		stream := withEnd(t, func(w *datapath.Writer) { fuzzStream(w, prog, outside) })
		opt := restore.Options{Replace: []string{restore.ReplaceNever, restore.ReplaceIfNewer, restore.ReplaceAlways}[len(prog)%3]}
		_, _, _ = restore.Receive(context.Background(), datapath.NewReader(stream), target, opt, nil, nil)
		if got := listing(t, outside); len(got) != 0 {
			t.Fatalf("written outside the target: %q", got)
		}
		if got := listing(t, base); !slices.Contains(got, "outside") || len(onlyOutsideTarget(got)) != 2 {
			t.Fatalf("written beside the target: %q", onlyOutsideTarget(got))
		}
	})
}

// fuzzStream writes the entries prog describes.
func fuzzStream(w *datapath.Writer, prog []byte, outside string) {
	comps := []string{"d", "e", "..", ".", outside, "s", "d/s", "x", "", "d/x"}
	targets := []string{outside, "../outside", "..", "d", "/", "s", "../../..", "x"}
	path := func(a, b byte) string {
		p := comps[int(a)%len(comps)]
		if b != 0 {
			p += "/" + comps[int(b)%len(comps)]
		}
		return p
	}
	link := func(group uint64, to string) []datapath.Ext {
		return []datapath.Ext{{Tag: datapath.ExtHardlink, Data: datapath.AppendHardlink(nil, datapath.Hardlink{Group: group, Path: []byte(to)})}}
	}
	for len(prog) >= 4 {
		op, p1, p2, b := prog[0], prog[1], prog[2], prog[3]
		prog = prog[4:]
		p := []byte(path(p1, p2))
		switch op % 8 {
		case 0:
			dirRecs(w, string(p), 0o755, int64(b))
		case 1:
			fileRecs(w, string(p), string(make([]byte, b%16)), int64(b))
		case 2:
			symlinkRecs(w, string(p), targets[int(b)%len(targets)])
		case 3: // first name of a hardlink group
			content := []byte{b}
			sum := blake3.Sum256(content)
			w.Header(&datapath.FileHeader{Path: p, Type: datapath.TypeRegular, Mode: 0o644, Size: 1, Ext: link(uint64(b%2), "")})
			w.Data(content)
			w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: sum[:], Bytes: 1})
		case 4: // later name of a hardlink group: a link target, or an entry's path
			to := targets[int(b)%len(targets)]
			if b >= 128 {
				to = path(b, b>>4)
			}
			w.Header(&datapath.FileHeader{Path: p, Type: datapath.TypeRegular, Mode: 0o644, Ext: link(uint64(b%2), to)})
			w.Trailer(&datapath.FileTrailer{})
		case 5:
			w.Data(p)
		case 6:
			w.Trailer(&datapath.FileTrailer{Bytes: int64(b)})
		case 7:
			w.Hole(int64(p1), int64(b))
		}
	}
}
