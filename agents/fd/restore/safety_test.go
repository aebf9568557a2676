package restore_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
)

func TestRestoreRefusesUnsafePaths(t *testing.T) {
	tests := []struct {
		name   string
		plant  func(t *testing.T, target, outside string) // prepares the target
		stream func(w *datapath.Writer, outside string)
	}{
		{"dot dot", nil, func(w *datapath.Writer, _ string) { fileRecs(w, "../x", "evil", 0) }},
		{"dot dot below the top", nil, func(w *datapath.Writer, _ string) { fileRecs(w, "a/../../x", "evil", 0) }},
		{"absolute", nil, func(w *datapath.Writer, outside string) { fileRecs(w, outside+"/x", "evil", 0) }},
		{"NUL byte", nil, func(w *datapath.Writer, _ string) { fileRecs(w, "a\x00b", "evil", 0) }},
		{"empty", nil, func(w *datapath.Writer, _ string) { fileRecs(w, "", "evil", 0) }},
		{"dot", nil, func(w *datapath.Writer, _ string) { fileRecs(w, "a/./x", "evil", 0) }},
		{"empty component", nil, func(w *datapath.Writer, _ string) { fileRecs(w, "a//x", "evil", 0) }},
		{"trailing slash", nil, func(w *datapath.Writer, _ string) { dirRecs(w, "a/", 0o755, 0) }},
		{"dot dot directory", nil, func(w *datapath.Writer, _ string) { dirRecs(w, "..", 0o777, 0) }},
		{"through a planted symlink", plantSymlink("evil"), func(w *datapath.Writer, _ string) { fileRecs(w, "evil/x", "evil", 0) }},
		{"through a planted symlink deeper", plantSymlink("a/evil"), func(w *datapath.Writer, _ string) {
			dirRecs(w, "a", 0o755, 0)
			fileRecs(w, "a/evil/sub/x", "evil", 0)
		}},
		{"through a restored symlink", nil, func(w *datapath.Writer, outside string) {
			symlinkRecs(w, "s", outside)
			fileRecs(w, "s/x", "evil", 0)
		}},
		{"directory through a restored symlink", nil, func(w *datapath.Writer, outside string) {
			symlinkRecs(w, "s", "../outside")
			dirRecs(w, "s/d", 0o777, 0)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			target, outside := base+"/target", base+"/outside"
			must(t, os.Mkdir(target, 0o700))
			must(t, os.Mkdir(outside, 0o700))
			if tc.plant != nil {
				tc.plant(t, target, outside)
			}
			before := listing(t, base)
			stream := streamOf(t, func(w *datapath.Writer) {
				tc.stream(w, outside)
				w.End(&datapath.StreamEnd{Files: 1})
			})
			_, _, _, err := receive(t, stream, target, restore.Options{Replace: restore.ReplaceAlways})
			if !errors.Is(err, restore.ErrUnsafePath) {
				t.Fatalf("err %v, want ErrUnsafePath", err)
			}
			after := listing(t, base)
			if !slices.Equal(onlyOutsideTarget(before), onlyOutsideTarget(after)) {
				t.Errorf("written outside the target:\nbefore %q\nafter  %q", before, after)
			}
			if got := listing(t, outside); len(got) != 0 {
				t.Errorf("outside holds %q", got)
			}
		})
	}
}

// plantSymlink plants target/rel -> the outside directory.
func plantSymlink(rel string) func(t *testing.T, target, outside string) {
	return func(t *testing.T, target, outside string) {
		p := target + "/" + rel
		must(t, os.MkdirAll(p[:strings.LastIndexByte(p, '/')], 0o755))
		must(t, os.Symlink(outside, p))
	}
}

func onlyOutsideTarget(paths []string) []string {
	var out []string
	for _, p := range paths {
		if !strings.HasPrefix(p, "target/") {
			out = append(out, p)
		}
	}
	return out
}

func TestRestoreStreamErrors(t *testing.T) {
	hdr := func(w *datapath.Writer, size int64) {
		w.Header(&datapath.FileHeader{Path: []byte("f"), Type: datapath.TypeRegular, Mode: 0o644, Size: size})
	}
	wrongSum := blake3.Sum256([]byte("hellp"))
	rightSum := blake3.Sum256([]byte("hello"))
	tests := []struct {
		name   string
		stream func(w *datapath.Writer)
		is     error
	}{
		{"bad checksum", func(w *datapath.Writer) {
			hdr(w, 5)
			w.Data([]byte("hello"))
			w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: wrongSum[:], Bytes: 5})
			w.End(&datapath.StreamEnd{Files: 1, Bytes: 5})
		}, restore.ErrChecksum},
		{"data beyond the size", func(w *datapath.Writer) {
			hdr(w, 4)
			w.Data([]byte("hello"))
			w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: rightSum[:], Bytes: 5})
		}, restore.ErrStream},
		{"trailer counts other bytes", func(w *datapath.Writer) {
			hdr(w, 5)
			w.Data([]byte("hello"))
			w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: rightSum[:], Bytes: 4})
		}, restore.ErrStream},
		{"hole going backwards", func(w *datapath.Writer) {
			hdr(w, 10)
			w.Data([]byte("hello"))
			w.Hole(2, 3)
		}, restore.ErrStream},
		{"header inside a file", func(w *datapath.Writer) {
			hdr(w, 5)
			hdr(w, 5)
		}, restore.ErrStream},
		{"data outside a file", func(w *datapath.Writer) { w.Data([]byte("x")) }, restore.ErrStream},
		{"data for a directory", func(w *datapath.Writer) {
			w.Header(&datapath.FileHeader{Path: []byte("d"), Type: datapath.TypeDir, Mode: 0o755})
			w.Data([]byte("x"))
		}, restore.ErrStream},
		{"end inside a file", func(w *datapath.Writer) {
			hdr(w, 5)
			w.End(&datapath.StreamEnd{})
		}, restore.ErrStream},
		{"no stream end", func(w *datapath.Writer) { fileRecs(w, "g", "x", 0) }, restore.ErrStream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := t.TempDir()
			_, _, _, err := receive(t, streamOf(t, tc.stream), target, restore.Options{})
			if !errors.Is(err, tc.is) {
				t.Fatalf("err %v, want %v", err, tc.is)
			}
			if tc.is == restore.ErrChecksum && !strings.Contains(err.Error(), `"f"`) {
				t.Errorf("error does not name the path: %v", err)
			}
			for _, p := range listing(t, target) {
				if p != "g" && p != "d" {
					t.Errorf("left behind: %q", p)
				}
			}
		})
	}
}
