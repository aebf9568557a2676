package restore_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
)

// The tests in this file feed the restorer streams an attacker could craft
// (a compromised sd, a tampered volume) or race it from inside the target,
// one attack per test. Each checks that nothing outside the target changed
// (names, sizes, mtimes of the target's parent tree), that the error or
// warning names the offending path, and that a fresh restore of a normal
// stream into the same target then works.

// arena is a target with a sibling folder outside it holding a secret.
type arena struct{ base, target, outside string }

func newArena(t *testing.T) arena {
	t.Helper()
	base := t.TempDir()
	a := arena{base: base, target: base + "/target", outside: base + "/outside"}
	must(t, os.Mkdir(a.target, 0o700))
	must(t, os.Mkdir(a.outside, 0o700))
	must(t, os.WriteFile(a.outside+"/secret", []byte("secret"), 0o600))
	// mtimes in the past, so a change within the same clock tick shows.
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{a.outside + "/secret", a.outside, a.target} {
		must(t, os.Chtimes(p, old, old))
	}
	return a
}

// snapshot lists the target's parent tree outside the target: name, type,
// size and mtime of every entry, symlinks not followed.
func (a arena) snapshot(t *testing.T) map[string]string {
	t.Helper()
	out := make(map[string]string)
	err := filepath.WalkDir(a.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == a.target || strings.HasPrefix(p, a.target+"/") {
			if p != a.target && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[strings.TrimPrefix(p, a.base)] = fi.Mode().String() + " " + strconv.FormatInt(fi.Size(), 10) + " " + fi.ModTime().Format(time.RFC3339Nano)
		return nil
	})
	must(t, err)
	return out
}

// unchanged fails the test if the parent tree differs from before.
func (a arena) unchanged(t *testing.T, before map[string]string) {
	t.Helper()
	after := a.snapshot(t)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("outside the target, %q changed: %q, now %q", k, v, after[k])
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("outside the target, %q appeared: %q", k, v)
		}
	}
}

// stillWorks restores a normal stream with a fresh restorer into the same
// target.
func (a arena) stillWorks(t *testing.T) {
	t.Helper()
	stream := withEnd(t, func(w *datapath.Writer) {
		dirRecs(w, "normal", 0o755, 0)
		fileRecs(w, "normal/ok.txt", "fine", 0)
	})
	tot, _, warn, err := receive(t, stream, a.target, restore.Options{})
	if err != nil || len(warn) != 0 || tot.Files != 2 {
		t.Fatalf("normal restore afterwards: %+v, warnings %q, %v", tot, warn, err)
	}
	if b, err := os.ReadFile(a.target + "/normal/ok.txt"); err != nil || string(b) != "fine" {
		t.Fatalf("normal restore afterwards: %q, %v", b, err)
	}
}

// refused runs stream into the arena's target and checks the error wraps
// is and names path.
func (a arena) refused(t *testing.T, stream io.Reader, opt restore.Options, is error, path string) {
	t.Helper()
	before := a.snapshot(t)
	_, _, warn, err := receive(t, stream, a.target, opt)
	if !errors.Is(err, is) {
		t.Fatalf("err %v (warnings %q), want %v", err, warn, is)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name %s: %v", path, err)
	}
	a.unchanged(t, before)
	a.stillWorks(t)
}

func TestHostileDotDot(t *testing.T) {
	for _, p := range []string{"..", "../escape", "d/../../escape", "d/.."} {
		t.Run(p, func(t *testing.T) {
			a := newArena(t)
			stream := withEnd(t, func(w *datapath.Writer) {
				dirRecs(w, "d", 0o755, 0)
				fileRecs(w, p, "evil", 0)
			})
			a.refused(t, stream, restore.Options{Replace: restore.ReplaceAlways}, restore.ErrUnsafePath, `"`+p+`"`)
		})
	}
}

func TestHostileAbsolutePath(t *testing.T) {
	a := newArena(t)
	p := a.outside + "/secret"
	stream := withEnd(t, func(w *datapath.Writer) { fileRecs(w, p, "evil", 0) })
	a.refused(t, stream, restore.Options{Replace: restore.ReplaceAlways}, restore.ErrUnsafePath, p)
	if b, _ := os.ReadFile(p); string(b) != "secret" {
		t.Errorf("outside file holds %q", b)
	}
}

func TestHostileNULInPath(t *testing.T) {
	a := newArena(t)
	// A C-string consumer would read "ok"; the path is refused whole.
	stream := withEnd(t, func(w *datapath.Writer) { fileRecs(w, "ok\x00/../../outside/secret", "evil", 0) })
	a.refused(t, stream, restore.Options{Replace: restore.ReplaceAlways}, restore.ErrUnsafePath, `ok\x00`)
	if _, err := os.Lstat(a.target + "/ok"); err == nil {
		t.Error(`"ok" was created`)
	}
}

// hardlinkRecs writes a later name of hardlink group 1 pointing at to.
func hardlinkRecs(w *datapath.Writer, path, to string) {
	w.Header(&datapath.FileHeader{Path: []byte(path), Type: datapath.TypeRegular, Mode: 0o644, Ext: []datapath.Ext{
		{Tag: datapath.ExtHardlink, Data: datapath.AppendHardlink(nil, datapath.Hardlink{Group: 1, Path: []byte(to)})}}})
	w.Trailer(&datapath.FileTrailer{})
}

// firstLinkRecs writes the first name of hardlink group 1.
func firstLinkRecs(w *datapath.Writer, path, content string) {
	sum := blake3.Sum256([]byte(content))
	w.Header(&datapath.FileHeader{Path: []byte(path), Type: datapath.TypeRegular, Mode: 0o644, Size: int64(len(content)), Ext: []datapath.Ext{
		{Tag: datapath.ExtHardlink, Data: datapath.AppendHardlink(nil, datapath.Hardlink{Group: 1})}}})
	w.Data([]byte(content))
	w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: sum[:], Bytes: int64(len(content))})
}

func TestHostileHardlinkOutside(t *testing.T) {
	a := newArena(t)
	to := a.outside + "/secret"
	stream := withEnd(t, func(w *datapath.Writer) {
		firstLinkRecs(w, "first", "x")
		hardlinkRecs(w, "evil", to)
	})
	a.refused(t, stream, restore.Options{Replace: restore.ReplaceAlways}, restore.ErrUnsafePath, to)
	if _, err := os.Lstat(a.target + "/evil"); err == nil {
		t.Error("the link was made")
	}
}

func TestHostileHardlinkDotDot(t *testing.T) {
	a := newArena(t)
	stream := withEnd(t, func(w *datapath.Writer) {
		firstLinkRecs(w, "first", "x")
		hardlinkRecs(w, "evil", "../outside/secret")
	})
	a.refused(t, stream, restore.Options{Replace: restore.ReplaceAlways}, restore.ErrUnsafePath, `"../outside/secret"`)
	if _, err := os.Lstat(a.target + "/evil"); err == nil {
		t.Error("the link was made")
	}
}

// TestHostileHardlinkThroughSwappedParent: the group's first name was
// restored under d; d is then replaced by a symlink to the outside folder,
// which holds a file of the same name. The later name must not link the
// outside file.
func TestHostileHardlinkThroughSwappedParent(t *testing.T) {
	a := newArena(t)
	must(t, os.WriteFile(a.outside+"/first", []byte("outside"), 0o600))
	before := a.snapshot(t)
	pr, pw := io.Pipe()
	done := receiveAsync(t, pr, a.target, restore.Options{})
	w := datapath.NewWriter(pw)
	dirRecs(w, "d", 0o755, 0)
	firstLinkRecs(w, "d/first", "x")
	must(t, w.Flush())
	waitFor(t, a.target+"/d/first")
	must(t, os.Rename(a.target+"/d", a.target+"/d.old"))
	must(t, os.Symlink(a.outside, a.target+"/d"))
	hardlinkRecs(w, "evil", "d/first")
	must(t, w.End(&datapath.StreamEnd{Files: 3, Bytes: 1}))
	pw.Close()
	r := <-done
	if !errors.Is(r.err, restore.ErrUnsafePath) || !strings.Contains(r.err.Error(), `"d"`) {
		t.Fatalf("err %v (warnings %q), want ErrUnsafePath naming \"d\"", r.err, r.warn)
	}
	a.unchanged(t, before)
	if _, err := os.Lstat(a.target + "/evil"); err == nil {
		t.Error("the link was made")
	}
	a.stillWorks(t)
}

// TestHostilePlantedSymlink: a directory of the target was replaced by a
// symlink to the outside before the restore.
func TestHostilePlantedSymlink(t *testing.T) {
	tests := []struct {
		name   string
		stream func(w *datapath.Writer)
		opt    restore.Options
		is     error  // fatal error, or nil: a warning
		names  string // the error or a warning names this
	}{
		{"file below it", func(w *datapath.Writer) { fileRecs(w, "d/x", "evil", 0) }, restore.Options{}, restore.ErrUnsafePath, `"d"`},
		{"file deeper below it", func(w *datapath.Writer) { fileRecs(w, "d/sub/x", "evil", 0) }, restore.Options{Replace: restore.ReplaceAlways}, restore.ErrUnsafePath, `"d"`},
		{"its directory entry, kept", func(w *datapath.Writer) {
			dirRecs(w, "d", 0o755, 0)
			fileRecs(w, "d/x", "evil", 0)
		}, restore.Options{}, nil, "d: exists, not replaced"},
		{"over an existing name, replaced", func(w *datapath.Writer) {
			fileRecs(w, "d/secret", "evil", 0)
		}, restore.Options{Replace: restore.ReplaceAlways}, restore.ErrUnsafePath, `"d"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newArena(t)
			must(t, os.Symlink(a.outside, a.target+"/d"))
			stream := withEnd(t, tc.stream)
			if tc.is != nil {
				a.refused(t, stream, tc.opt, tc.is, tc.names)
				return
			}
			before := a.snapshot(t)
			_, _, warn, err := receive(t, stream, a.target, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(warn, "\n"), tc.names) {
				t.Errorf("warnings %q do not say %q", warn, tc.names)
			}
			a.unchanged(t, before)
			a.stillWorks(t)
		})
	}
}

// TestHostilePlantedSymlinkReplaced: with replace=always a planted symlink
// where the stream has a directory is replaced by a real directory, and the
// file lands in it.
func TestHostilePlantedSymlinkReplaced(t *testing.T) {
	a := newArena(t)
	must(t, os.Symlink(a.outside, a.target+"/d"))
	before := a.snapshot(t)
	stream := withEnd(t, func(w *datapath.Writer) {
		dirRecs(w, "d", 0o755, 0)
		fileRecs(w, "d/x", "mine", 0)
	})
	if _, _, warn, err := receive(t, stream, a.target, restore.Options{Replace: restore.ReplaceAlways}); err != nil {
		t.Fatalf("%v (warnings %q)", err, warn)
	}
	a.unchanged(t, before)
	if fi, err := os.Lstat(a.target + "/d"); err != nil || !fi.IsDir() {
		t.Fatalf("d: %v, %v", fi, err)
	}
	if b, err := os.ReadFile(a.target + "/d/x"); err != nil || string(b) != "mine" {
		t.Fatalf("d/x: %q, %v", b, err)
	}
	a.stillWorks(t)
}

// TestHostileStreamSymlinkThenFile: the stream itself creates d -> outside,
// then sends a file "through" it.
func TestHostileStreamSymlinkThenFile(t *testing.T) {
	for _, link := range []string{"absolute", "../outside"} {
		t.Run(link, func(t *testing.T) {
			a := newArena(t)
			to := link
			if link == "absolute" {
				to = a.outside
			}
			stream := withEnd(t, func(w *datapath.Writer) {
				symlinkRecs(w, "d", to)
				fileRecs(w, "d/x", "evil", 0)
			})
			a.refused(t, stream, restore.Options{Replace: restore.ReplaceAlways}, restore.ErrUnsafePath, `"d"`)
		})
	}
}

type received struct {
	err  error
	warn warnings
}

func receiveAsync(t *testing.T, r io.Reader, target string, opt restore.Options) <-chan received {
	t.Helper()
	done := make(chan received, 1)
	go func() {
		var warn warnings
		_, _, err := restore.Receive(context.Background(), datapath.NewReader(r), target, opt, &warn, nil)
		io.Copy(io.Discard, r) // let the writer finish after a fatal error
		done <- received{err, warn}
	}()
	return done
}

// waitFor polls until path exists (the restorer placed it).
func waitFor(t *testing.T, path string) {
	t.Helper()
	waitUntil(t, path, func() bool { _, err := os.Lstat(path); return err == nil })
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// written reports whether dir holds name, or a restorer's temporary file,
// with data in it: the restorer is inside a file's content (in a folder
// it made, a file is written under its own name, elsewhere under a
// temporary one).
func written(dir, name string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && (e.Name() == name || strings.HasPrefix(e.Name(), ".ferry-restore.")) && fi.Size() > 0 {
			return true
		}
	}
	return false
}

// TestHostileSwapRace: the stream restores d/big then d/small; while the
// restorer works, d in the target is replaced by a symlink to a folder
// outside. d/small must not land outside. The swap happens at a point the
// test observes (no sleeps): between the two files, or inside d/big's
// content; the old d is moved aside within the target, removed, or moved
// out of the target.
func TestHostileSwapRace(t *testing.T) { swapRace(t) }

// TestHostileSwapRaceWithoutOpenat2: the same on a kernel without openat2,
// where directories are walked one component at a time.
func TestHostileSwapRaceWithoutOpenat2(t *testing.T) {
	restore.SetNoOpenat2(true)
	t.Cleanup(func() { restore.SetNoOpenat2(false) })
	swapRace(t)
}

// How the swap disposes of the old d.
const (
	moveAside = iota // renamed to d.old within the target
	removeOld        // removed with its contents
	moveOut          // renamed to a folder beside the target
)

func swapRace(t *testing.T) {
	big := strings.Repeat("B", 3*datapath.MaxChunk/2)
	for _, tc := range []struct {
		name    string
		midFile bool // swap while d/big is being written, else after it is placed
		old     int
	}{
		{"between files, old d moved aside", false, moveAside},
		{"between files, old d removed", false, removeOld},
		{"between files, old d moved out of the target", false, moveOut},
		{"inside the first file, old d moved aside", true, moveAside},
		{"inside the first file, old d removed", true, removeOld},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newArena(t)
			before := a.snapshot(t)
			fi, err := os.Stat(a.base)
			must(t, err)
			baseTime := fi.ModTime()
			pr, pw := io.Pipe()
			done := receiveAsync(t, pr, a.target, restore.Options{})
			w := datapath.NewWriter(pw)
			dirRecs(w, "d", 0o755, 0)
			sum := blake3.Sum256([]byte(big))
			w.Header(&datapath.FileHeader{Path: []byte("d/big"), Type: datapath.TypeRegular, Mode: 0o644, Size: int64(len(big))})
			w.Data([]byte(big[:datapath.MaxChunk]))
			must(t, w.Flush())
			if tc.midFile {
				waitUntil(t, "d/big's first bytes", func() bool { return written(a.target+"/d", "big") })
				swap(t, a, tc.old)
			}
			w.Data([]byte(big[datapath.MaxChunk:]))
			w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: sum[:], Bytes: int64(len(big))})
			must(t, w.Flush())
			if !tc.midFile {
				waitFor(t, a.target+"/d/big")
				swap(t, a, tc.old)
			}
			fileRecs(w, "d/small", "small", 0)
			w.End(&datapath.StreamEnd{Files: 3, Bytes: int64(len(big) + len("small"))})
			w.Flush()
			pw.Close()
			r := <-done

			if tc.old == moveOut {
				// The test itself moved d beside the target: d/small must
				// not have followed it.
				if got := listing(t, a.base+"/moved"); len(got) != 1 || got[0] != "big" {
					t.Errorf("the old d, moved out of the target, holds %q", got)
				}
				must(t, os.RemoveAll(a.base+"/moved"))
				must(t, os.Chtimes(a.base, baseTime, baseTime)) // undo the test's own move
			}
			a.unchanged(t, before)
			if _, err := os.Lstat(a.outside + "/small"); err == nil {
				t.Fatal("d/small landed outside the target")
			}
			// The restorer saw the symlink: d/small is refused, naming d.
			if !errors.Is(r.err, restore.ErrUnsafePath) || !strings.Contains(r.err.Error(), `"d"`) {
				t.Errorf("err %v (warnings %q), want ErrUnsafePath naming \"d\"", r.err, r.warn)
			}
			if tc.old == moveAside {
				if b, err := os.ReadFile(a.target + "/d.old/big"); err != nil || string(b) != big {
					t.Errorf("d/big, moved aside with d: %d bytes, %v", len(b), err)
				}
				if _, err := os.Lstat(a.target + "/d.old/small"); err == nil {
					t.Error("d/small followed the old d")
				}
			}
			a.stillWorks(t)
		})
	}
}

// swap replaces the target's d by a symlink to the outside folder.
func swap(t *testing.T, a arena, old int) {
	t.Helper()
	switch old {
	case removeOld:
		must(t, os.RemoveAll(a.target+"/d"))
	case moveAside:
		must(t, os.Rename(a.target+"/d", a.target+"/d.old"))
	case moveOut:
		must(t, os.Rename(a.target+"/d", a.base+"/moved"))
	}
	must(t, os.Symlink(a.outside, a.target+"/d"))
}
