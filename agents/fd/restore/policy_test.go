package restore_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
)

func TestRestoreReplace(t *testing.T) {
	const old = int64(1_700_000_000_000_000_000)
	oldFile := func(t *testing.T, target string) {
		must(t, os.WriteFile(target+"/f", []byte("old"), 0o644))
		must(t, os.Chtimes(target+"/f", time.Unix(0, old), time.Unix(0, old)))
	}
	tests := []struct {
		name     string
		replace  string
		existing func(t *testing.T, target string)
		stream   func(w *datapath.Writer)
		want     string // content of f, "dir" for a directory
		warned   bool
	}{
		{"never keeps the file", restore.ReplaceNever, oldFile, func(w *datapath.Writer) { fileRecs(w, "f", "new", old+1) }, "old", true},
		{"default is never", "", oldFile, func(w *datapath.Writer) { fileRecs(w, "f", "new", old+1) }, "old", true},
		{"ifnewer keeps a newer file", restore.ReplaceIfNewer, oldFile, func(w *datapath.Writer) { fileRecs(w, "f", "new", old-1) }, "old", false},
		{"ifnewer replaces an older file", restore.ReplaceIfNewer, oldFile, func(w *datapath.Writer) { fileRecs(w, "f", "new", old+1) }, "new", false},
		{"always replaces", restore.ReplaceAlways, oldFile, func(w *datapath.Writer) { fileRecs(w, "f", "new", old-1) }, "new", false},
		{"always replaces a symlink, not its target", restore.ReplaceAlways, func(t *testing.T, target string) {
			oldFile(t, target)
			must(t, os.Rename(target+"/f", target+"/real"))
			must(t, os.Symlink("real", target+"/f"))
		}, func(w *datapath.Writer) { fileRecs(w, "f", "new", old) }, "new", false},
		{"always keeps a non-empty directory", restore.ReplaceAlways, func(t *testing.T, target string) {
			must(t, os.MkdirAll(target+"/f/sub", 0o755))
		}, func(w *datapath.Writer) { fileRecs(w, "f", "new", old) }, "dir", true},
		{"always replaces an empty directory", restore.ReplaceAlways, func(t *testing.T, target string) {
			must(t, os.Mkdir(target+"/f", 0o755))
		}, func(w *datapath.Writer) { fileRecs(w, "f", "new", old) }, "new", false},
		{"never skips a directory and its contents", restore.ReplaceNever, oldFile, func(w *datapath.Writer) {
			dirRecs(w, "f", 0o755, old)
			fileRecs(w, "f/x", "x", old)
			fileRecs(w, "f/y", "y", old)
		}, "old", true},
		{"always replaces a file by a directory", restore.ReplaceAlways, oldFile, func(w *datapath.Writer) {
			dirRecs(w, "f", 0o751, old)
			fileRecs(w, "f/x", "x", old)
		}, "dir", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := t.TempDir()
			tc.existing(t, target)
			stream := withEnd(t, tc.stream)
			var warn warnings
			_, _, err := restore.Receive(context.Background(), datapath.NewReader(stream), target, restore.Options{Replace: tc.replace}, &warn, nil)
			must(t, err)
			var policyWarnings []string
			for _, w := range warn {
				if !strings.HasPrefix(w, ": stream totals") {
					policyWarnings = append(policyWarnings, w)
				}
			}
			if (len(policyWarnings) == 1) != tc.warned {
				t.Errorf("warnings %q", policyWarnings)
			}
			st, err := os.Lstat(target + "/f")
			must(t, err)
			got := "dir"
			if !st.IsDir() {
				b, err := os.ReadFile(target + "/f")
				must(t, err)
				got = string(b)
			}
			if got != tc.want {
				t.Errorf("f holds %q, want %q", got, tc.want)
			}
			for _, p := range listing(t, target) {
				if strings.Contains(p, ".ferry-restore") {
					t.Errorf("temporary entry left: %q", p)
				}
			}
		})
	}
}

func TestRestoreHoles(t *testing.T) {
	const size = 4 << 20
	sum := blake3.Sum256([]byte("abcxyz")) // holes are not hashed
	stream := streamOf(t, func(w *datapath.Writer) {
		w.Header(&datapath.FileHeader{Path: []byte("sparse"), Type: datapath.TypeRegular, Mode: 0o600, Size: size})
		w.Data([]byte("abc"))
		w.Hole(3, 2<<20)
		w.Data([]byte("xyz"))
		w.Hole(2<<20+6, 1<<20) // the rest is a trailing hole
		w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: sum[:], Bytes: 6})
		w.End(&datapath.StreamEnd{Files: 1, Bytes: 6})
	})
	target := t.TempDir()
	tot, _, warn, err := receive(t, stream, target, restore.Options{})
	must(t, err)
	if len(warn) != 0 || tot.Files != 1 || tot.Bytes != 6 {
		t.Fatalf("totals %+v warnings %q", tot, warn)
	}
	b, err := os.ReadFile(target + "/sparse")
	must(t, err)
	want := make([]byte, size)
	copy(want, "abc")
	copy(want[3+2<<20:], "xyz")
	if string(b) != string(want) {
		t.Fatalf("content differs (%d bytes)", len(b))
	}
	var st unix.Stat_t
	must(t, unix.Stat(target+"/sparse", &st))
	if st.Blocks*512 >= size {
		t.Errorf("not sparse: %d blocks", st.Blocks)
	}
}

func TestRestoreWarnings(t *testing.T) {
	tests := []struct {
		name   string
		stream func(w *datapath.Writer)
		want   string
	}{
		{"symlink with a NUL target", func(w *datapath.Writer) {
			symlinkRecs(w, "l", "a\x00b")
			w.End(&datapath.StreamEnd{Files: 1})
		}, "l: skipped: symlink"},
		{"unknown checksum", func(w *datapath.Writer) {
			w.Header(&datapath.FileHeader{Path: []byte("f"), Type: datapath.TypeRegular, Size: 1})
			w.Data([]byte("x"))
			w.Trailer(&datapath.FileTrailer{Algo: 99, Bytes: 1})
			w.End(&datapath.StreamEnd{Files: 1, Bytes: 1})
		}, "f: unknown checksum algorithm 99"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tot, _, warn, err := receive(t, streamOf(t, tc.stream), t.TempDir(), restore.Options{})
			must(t, err)
			if len(warn) != 1 || !strings.HasPrefix(warn[0], tc.want) || tot.Warnings != 1 {
				t.Fatalf("warnings %q (%d counted), want %q", warn, tot.Warnings, tc.want)
			}
		})
	}
}

func TestRestoreDirectoryAttributesAfterContents(t *testing.T) {
	const mtime = int64(1_650_000_000_123_456_789)
	stream := streamOf(t, func(w *datapath.Writer) {
		dirRecs(w, "a", 0o555, mtime)
		dirRecs(w, "a/b", 0o500, mtime+1)
		fileRecs(w, "a/b/f", "x", mtime+2)
		fileRecs(w, "a/g", "y", mtime+3)
		dirRecs(w, "c", 0o700, mtime+4)
		fileRecs(w, "implicit/dir/f", "z", mtime+5)
		w.End(&datapath.StreamEnd{Files: 6, Bytes: 3})
	})
	target := t.TempDir()
	_, _, warn, err := receive(t, stream, target, restore.Options{})
	must(t, err)
	if len(warn) != 0 {
		t.Fatalf("warnings %q", warn)
	}
	tests := []struct {
		path  string
		mode  uint32
		mtime int64
	}{
		{"a", 0o555, mtime},
		{"a/b", 0o500, mtime + 1},
		{"c", 0o700, mtime + 4},
		{"implicit", 0o700, -1},
		{"implicit/dir", 0o700, -1},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			var st unix.Stat_t
			must(t, unix.Lstat(target+"/"+tc.path, &st))
			if st.Mode&0o7777 != tc.mode || (tc.mtime >= 0 && st.Mtim.Nano() != tc.mtime) {
				t.Errorf("mode %#o mtime %d, want %#o %d", st.Mode&0o7777, st.Mtim.Nano(), tc.mode, tc.mtime)
			}
		})
	}
}

func TestRestoreCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stream := streamOf(t, func(w *datapath.Writer) {
		fileRecs(w, "f", "x", 0)
		w.End(&datapath.StreamEnd{Files: 1, Bytes: 1})
	})
	_, _, err := restore.Receive(ctx, datapath.NewReader(stream), t.TempDir(), restore.Options{}, nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestRestoreBadOptions(t *testing.T) {
	_, _, err := restore.Receive(context.Background(), datapath.NewReader(strings.NewReader("")), t.TempDir(), restore.Options{Replace: "sometimes"}, nil, nil)
	if err == nil {
		t.Fatal("unknown replace policy accepted")
	}
}

// TestRestoreTotalsDiffer: a stream end that disagrees with what arrived is
// an error: something was lost on the way.
func TestRestoreTotalsDiffer(t *testing.T) {
	s := streamOf(t, func(w *datapath.Writer) {
		fileRecs(w, "f", "abc", 0)
		w.End(&datapath.StreamEnd{Files: 2, Bytes: 3})
	})
	tot, _, _, err := receive(t, s, t.TempDir(), restore.Options{})
	if !errors.Is(err, restore.ErrStream) || !strings.Contains(err.Error(), "stream end announces 2") {
		t.Fatalf("err = %v, want ErrStream naming the totals", err)
	}
	if tot.Received != 1 || tot.ReceivedBytes != 3 {
		t.Fatalf("received %d entries, %d bytes; want 1, 3", tot.Received, tot.ReceivedBytes)
	}
}

// TestRestoreSocketSkipped: a recorded socket is not re-created and is no
// problem.
func TestRestoreSocketSkipped(t *testing.T) {
	s := streamOf(t, func(w *datapath.Writer) {
		w.Header(&datapath.FileHeader{Path: []byte("s"), Type: datapath.TypeSocket})
		w.Trailer(&datapath.FileTrailer{})
		w.End(&datapath.StreamEnd{Files: 1})
	})
	target := t.TempDir()
	tot, _, warn, err := receive(t, s, target, restore.Options{})
	must(t, err)
	if len(warn) != 0 || tot.Warnings != 0 || tot.Received != 1 {
		t.Fatalf("warnings %q, totals %+v", warn, tot)
	}
	if _, err := os.Lstat(target + "/s"); !os.IsNotExist(err) {
		t.Fatalf("socket re-created (lstat: %v)", err)
	}
}
