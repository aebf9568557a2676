package fileset_test

import (
	"context"
	"errors"
	"github.com/ferrybackup/ferry/integration/testenv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/datapath"
)

// seen is one walked entry, copied out of the callback.
type seen struct {
	path    string
	typ     datapath.FileType
	mode    uint32
	size    int64
	mtime   int64
	rdev    uint64
	link    string
	content string // regular files, read with open
}

type walkResult struct {
	entries  []seen
	warnings []string
}

func (r *walkResult) paths() []string {
	var p []string
	for _, e := range r.entries {
		p = append(p, e.path)
	}
	return p
}

func (r *walkResult) find(path string) (seen, bool) {
	for _, e := range r.entries {
		if e.path == path {
			return e, true
		}
	}
	return seen{}, false
}

func walk(t *testing.T, spec fileset.Spec) *walkResult {
	t.Helper()
	res, err := walkErr(context.Background(), spec, nil)
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return res
}

// walkErr walks spec; hook (if any) runs for each entry before it is recorded.
func walkErr(ctx context.Context, spec fileset.Spec, hook func(e *fileset.Entry)) (*walkResult, error) {
	res := &walkResult{}
	err := fileset.Walk(ctx, spec, func(e *fileset.Entry, open func() (*os.File, error)) error {
		if hook != nil {
			hook(e)
		}
		h := e.Header
		s := seen{path: string(h.Path), typ: h.Type, mode: h.Mode, size: h.Size, mtime: h.Mtime, rdev: h.Rdev, link: string(h.LinkTarget)}
		if h.Type == datapath.TypeRegular {
			f, err := open()
			if err != nil {
				return err
			}
			b, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return err
			}
			s.content = string(b)
		} else if f, err := open(); err == nil {
			f.Close()
			return errors.New("open succeeded on a non-regular entry " + s.path)
		}
		res.entries = append(res.entries, s)
		return nil
	}, func(path []byte, err error) {
		res.warnings = append(res.warnings, string(path)+": "+err.Error())
	})
	return res, err
}

// rel strips the leading '/' of an absolute path, as the walker does.
func rel(p string) string { return strings.TrimPrefix(p, "/") }

// ancestors lists the stored paths of p's ancestors.
func ancestors(p string) []string {
	var a []string
	parts := strings.Split(rel(p), "/")
	for i := 1; i < len(parts); i++ {
		a = append(a, strings.Join(parts[:i], "/"))
	}
	return a
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWalkOrderAndAncestors(t *testing.T) {
	root := filepath.Join(t.TempDir(), "tree")
	write(t, root+"/b/c", "c")
	write(t, root+"/a", "a")
	write(t, root+"/a b", "ab")
	write(t, root+"/a-z/q", "q")
	write(t, root+"/b/\n\xff", "odd")
	if err := os.Mkdir(root+"/empty", 0o700); err != nil {
		t.Fatal(err)
	}
	res := walk(t, fileset.Spec{Include: []string{root + "/"}})
	r := rel(root)
	want := append(ancestors(root), r, r+"/a", r+"/a b", r+"/a-z", r+"/a-z/q", r+"/b", r+"/b/\n\xff", r+"/b/c", r+"/empty")
	if got := res.paths(); !slices.Equal(got, want) {
		t.Fatalf("order:\n got %q\nwant %q", got, want)
	}
	if len(res.warnings) != 0 {
		t.Fatalf("warnings: %q", res.warnings)
	}
	if e, _ := res.find(r + "/b/\n\xff"); e.content != "odd" || e.size != 3 {
		t.Fatalf("odd name entry: %+v", e)
	}
}

func TestWalkAttributes(t *testing.T) {
	root := t.TempDir()
	write(t, root+"/f", "hello")
	mtime := time.Unix(1_500_000_000, 123_456_789)
	tests := []struct {
		name  string
		make  func(p string) error
		typ   datapath.FileType
		mode  uint32
		check func(t *testing.T, e seen)
	}{
		{"setuid file", func(p string) error {
			write(t, p, "x")
			return os.Chmod(p, 0o4755|os.ModeSetuid)
		}, datapath.TypeRegular, 0o4755, nil},
		{"sticky dir", func(p string) error {
			if err := unix.Mkdir(p, 0o755); err != nil {
				return err
			}
			return unix.Chmod(p, 0o1777)
		}, datapath.TypeDir, 0o1777, nil},
		{"fifo", func(p string) error { return unix.Mkfifo(p, 0o640) }, datapath.TypeFifo, 0o640, nil},
		{"socket", func(p string) error { return unix.Mknod(p, unix.S_IFSOCK|0o600, 0) }, datapath.TypeSocket, 0o600, nil},
		{"dangling symlink", func(p string) error { return os.Symlink("no/such\xfetarget", p) }, datapath.TypeSymlink, 0o777,
			func(t *testing.T, e seen) {
				if e.link != "no/such\xfetarget" {
					t.Errorf("link target %q", e.link)
				}
			}},
		{"char device", func(p string) error {
			if err := unix.Mknod(p, unix.S_IFCHR|0o620, int(unix.Mkdev(1, 3))); err != nil {
				return err
			}
			return unix.Chmod(p, 0o620)
		}, datapath.TypeCharDev, 0o620,
			func(t *testing.T, e seen) {
				if e.rdev != unix.Mkdev(1, 3) {
					t.Errorf("rdev %#x", e.rdev)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(root, tc.name)
			if err := tc.make(p); err != nil {
				if errors.Is(err, unix.EPERM) {
					t.Skipf("cannot create: %v", err)
				}
				t.Fatal(err)
			}
			ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				t.Fatal(err)
			}
			res := walk(t, fileset.Spec{Include: []string{p}})
			e, ok := res.find(rel(p))
			if !ok {
				t.Fatalf("%s not walked: %q", p, res.paths())
			}
			if e.typ != tc.typ || e.mode != tc.mode || e.mtime != mtime.UnixNano() {
				t.Errorf("got type %v mode %#o mtime %d, want %v %#o %d", e.typ, e.mode, e.mtime, tc.typ, tc.mode, mtime.UnixNano())
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

func TestWalkExclude(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"keep.c", "drop.o", "sub/keep.h", "sub/drop.o", "cache/x", "cache/y/z", "other/cache"} {
		write(t, root+"/"+f, f)
	}
	r := rel(root)
	tests := []struct {
		name    string
		exclude []string
		absent  []string
		present []string
	}{
		{"base name glob", []string{"*.o"}, []string{r + "/drop.o", r + "/sub/drop.o"}, []string{r + "/keep.c", r + "/sub/keep.h"}},
		{"directory by name skips contents", []string{"cache"}, []string{r + "/cache", r + "/cache/x", r + "/cache/y/z", r + "/other/cache"}, []string{r + "/other", r + "/sub"}},
		{"absolute path glob", []string{root + "/c*"}, []string{r + "/cache", r + "/cache/y"}, []string{r + "/other/cache", r + "/keep.c"}},
		{"absolute path of a nested file", []string{root + "/sub/*.h"}, []string{r + "/sub/keep.h"}, []string{r + "/sub/drop.o"}},
		{"no match", []string{"nothing"}, nil, []string{r + "/cache/y/z", r + "/drop.o"}},
		{"excluded root and its ancestors", []string{filepath.Base(root)}, []string{r, ancestors(root)[0]}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := walk(t, fileset.Spec{Include: []string{root}, Exclude: tc.exclude})
			for _, p := range tc.absent {
				if _, ok := res.find(p); ok {
					t.Errorf("%s walked despite exclude %q", p, tc.exclude)
				}
			}
			for _, p := range tc.present {
				if _, ok := res.find(p); !ok {
					t.Errorf("%s missing", p)
				}
			}
		})
	}
}

func TestWalkSymlinkRoots(t *testing.T) {
	root := t.TempDir()
	write(t, root+"/real/sub/file", "secret")
	if err := os.Symlink("real", root+"/link"); err != nil {
		t.Fatal(err)
	}
	t.Run("root below a symlink", func(t *testing.T) {
		res := walk(t, fileset.Spec{Include: []string{root + "/link/sub"}})
		if len(res.entries) != 0 {
			t.Errorf("walked through a symlink: %q", res.paths())
		}
		if len(res.warnings) != 1 || !strings.Contains(res.warnings[0], "symlink") {
			t.Errorf("warnings %q", res.warnings)
		}
	})
	t.Run("root is a symlink", func(t *testing.T) {
		res := walk(t, fileset.Spec{Include: []string{root + "/link"}})
		e, ok := res.find(rel(root + "/link"))
		if !ok || e.typ != datapath.TypeSymlink || e.link != "real" {
			t.Fatalf("symlink root: %+v (%q)", e, res.paths())
		}
		if last := res.entries[len(res.entries)-1]; last.path != e.path {
			t.Errorf("walked below the symlink: %q", res.paths())
		}
	})
	t.Run("missing root", func(t *testing.T) {
		res := walk(t, fileset.Spec{Include: []string{root + "/nope"}})
		if len(res.entries) != 0 || len(res.warnings) != 1 {
			t.Errorf("entries %q warnings %q", res.paths(), res.warnings)
		}
	})
}

func TestWalkVanished(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"a", "b", "c"} {
		write(t, root+"/"+f, f)
	}
	res, err := walkErr(context.Background(), fileset.Spec{Include: []string{root}}, func(e *fileset.Entry) {
		if string(e.Header.Path) == rel(root+"/a") {
			os.Remove(root + "/b")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.find(rel(root + "/c")); !ok {
		t.Errorf("walk stopped at the vanished file: %q", res.paths())
	}
	if len(res.warnings) != 1 || !strings.HasPrefix(res.warnings[0], root+"/b: ") || !strings.Contains(res.warnings[0], "no such file") {
		t.Errorf("warnings %q", res.warnings)
	}
}

func TestWalkNestedRoots(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"a/x/1", "a/y", "b/z"} {
		write(t, root+"/"+f, f)
	}
	r := rel(root)
	tests := []struct {
		name    string
		include []string
		want    []string
	}{
		{"nested root walked once", []string{root + "/a/x", root + "/a"}, append(ancestors(root+"/a"), r+"/a", r+"/a/x", r+"/a/x/1", r+"/a/y")},
		{"siblings share ancestors", []string{root + "/b", root + "/a/x"}, append(ancestors(root+"/a/x"), r+"/a/x", r+"/a/x/1", r+"/b", r+"/b/z")},
		{"duplicates", []string{root + "/b", root + "/b/", root + "//b"}, append(ancestors(root+"/b"), r+"/b", r+"/b/z")},
		{"nested root below an excluded directory", []string{root + "/a", root + "/a/x/1"}, append(ancestors(root+"/a"), r+"/a", r+"/a/y", r+"/a/x", r+"/a/x/1")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := fileset.Spec{Include: tc.include}
			if strings.Contains(tc.name, "excluded") {
				spec.Exclude = []string{"x"}
			}
			res := walk(t, spec)
			if got := res.paths(); !slices.Equal(got, tc.want) {
				t.Errorf("\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestWalkLongPath(t *testing.T) {
	root := t.TempDir()
	comp := strings.Repeat("d", 200)
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	long := root
	for range 25 {
		if err := unix.Mkdirat(fd, comp, 0o755); err != nil {
			t.Fatal(err)
		}
		nfd, err := unix.Openat(fd, comp, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		fd = nfd
		long += "/" + comp
	}
	ffd, err := unix.Openat(fd, "deep", unix.O_CREAT|unix.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(ffd, []byte("deep content"))
	unix.Close(ffd)
	unix.Close(fd)
	long += "/deep"
	if len(long) <= unix.PathMax {
		t.Fatalf("path only %d bytes", len(long))
	}
	res := walk(t, fileset.Spec{Include: []string{root}})
	e, ok := res.find(rel(long))
	if !ok || e.content != "deep content" {
		t.Fatalf("deep file: %+v, warnings %q", e, res.warnings)
	}
}

func TestWalkOneFileSystem(t *testing.T) {
	root := t.TempDir()
	mnt := root + "/mnt"
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("none", mnt, "tmpfs", 0, "size=1m"); err != nil {
		testenv.SkipOrFail(t, "cannot mount tmpfs: "+err.Error())
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	write(t, mnt+"/inside", "x")
	write(t, root+"/outside", "y")
	tests := []struct {
		name    string
		spec    fileset.Spec
		mntSeen bool
		inside  bool
	}{
		{"crosses mount points by default", fileset.Spec{Include: []string{root}}, true, true},
		{"stops at the mount point", fileset.Spec{Include: []string{root}, OneFileSystem: true}, true, false},
		{"an included mount point is walked", fileset.Spec{Include: []string{root, mnt}, OneFileSystem: true}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := walk(t, tc.spec)
			_, m := res.find(rel(mnt))
			_, in := res.find(rel(mnt + "/inside"))
			_, out := res.find(rel(root + "/outside"))
			if m != tc.mntSeen || in != tc.inside || !out {
				t.Errorf("mnt %v inside %v outside %v: %q", m, in, out, res.paths())
			}
		})
	}
}

func TestWalkCancel(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"a", "b", "c"} {
		write(t, root+"/"+f, f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	_, err := walkErr(ctx, fileset.Spec{Include: []string{root}}, func(*fileset.Entry) {
		if n++; n == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || n != 2 {
		t.Fatalf("err %v after %d entries", err, n)
	}
}

func TestWalkBadSpec(t *testing.T) {
	tests := []struct {
		name string
		spec fileset.Spec
	}{
		{"relative include", fileset.Spec{Include: []string{"etc"}}},
		{"bad pattern", fileset.Spec{Include: []string{"/etc"}, Exclude: []string{"a["}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fileset.NewWalker(tc.spec, nil)
			if !errors.Is(err, fileset.ErrBadSpec) {
				t.Fatalf("err %v", err)
			}
		})
	}
}
