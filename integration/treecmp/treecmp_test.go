//go:build linux

package treecmp

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func allOptions() Options {
	return Options{Owner: isRoot(), DirMtimes: true, Xattrs: true, Sparse: true, Hardlinks: true}
}

type want struct{ path, what string }

func checkDiffs(t *testing.T, got []Diff, wants []want) {
	t.Helper()
	match := len(got) == len(wants)
	for i := 0; match && i < len(got); i++ {
		match = string(got[i].Path) == wants[i].path && got[i].What == wants[i].what
	}
	if match {
		for _, d := range got {
			t.Logf("reported: %s", d)
		}
		return
	}
	var sb strings.Builder
	for _, d := range got {
		fmt.Fprintf(&sb, "\n\tgot  %s", d)
	}
	for _, w := range wants {
		fmt.Fprintf(&sb, "\n\twant %q: %s", w.path, w.what)
	}
	t.Errorf("diffs do not match:%s", sb.String())
}

// keep snapshots the atime/mtime of the given paths (relative to root, not
// followed) and returns a func restoring them, so a mutation changes only
// what it means to change (e.g. removing a file must not also show up as a
// parent directory mtime diff).
func keep(t *testing.T, root string, rels ...string) func() {
	t.Helper()
	type saved struct {
		path string
		ts   []unix.Timespec
	}
	var all []saved
	for _, rel := range rels {
		p := filepath.Join(root, rel)
		var st unix.Stat_t
		must(t, unix.Lstat(p, &st))
		all = append(all, saved{p, []unix.Timespec{st.Atim, st.Mtim}})
	}
	return func() {
		t.Helper()
		for _, s := range all {
			must(t, unix.UtimesNanoAt(unix.AT_FDCWD, s.path, s.ts, unix.AT_SYMLINK_NOFOLLOW))
		}
	}
}

// shiftMtime moves the mtime of rel (not followed) by delta nanoseconds.
func shiftMtime(t *testing.T, root, rel string, delta int64) {
	t.Helper()
	p := filepath.Join(root, rel)
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	m := unix.NsecToTimespec(st.Mtim.Nano() + delta)
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{st.Atim, m}, unix.AT_SYMLINK_NOFOLLOW))
}

func writeAt(t *testing.T, path string, data []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteAt(data, off)
	must(t, err)
	must(t, f.Close())
}

// recreateFile replaces rel with a fresh, independent file with the same
// content, mode, owner and times (used to split a hardlink).
func recreateFile(t *testing.T, root, rel string) {
	t.Helper()
	p := filepath.Join(root, rel)
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	data, err := os.ReadFile(p)
	must(t, err)
	must(t, os.Remove(p))
	must(t, os.WriteFile(p, data, 0o600))
	must(t, os.Lchown(p, int(st.Uid), int(st.Gid)))
	must(t, unix.Chmod(p, st.Mode&0o7777))
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{st.Atim, st.Mtim}, 0))
}

// densify rewrites every byte of rel in place (holes become written zeros).
func densify(t *testing.T, root, rel string) {
	t.Helper()
	p := filepath.Join(root, rel)
	defer keep(t, root, rel)()
	data, err := os.ReadFile(p)
	must(t, err)
	writeAt(t, p, data, 0)
	f, err := os.Open(p)
	must(t, err)
	defer f.Close()
	must(t, f.Sync())
	hole, err := unix.Seek(int(f.Fd()), 0, unix.SEEK_HOLE)
	must(t, err)
	if hole != int64(len(data)) {
		t.Fatalf("densify: still a hole at %d", hole)
	}
}

type mutation struct {
	name  string
	skip  func(ti treeInfo) string // non-empty: reason to skip
	opts  func(o *Options)         // adjust allOptions()
	mut   func(t *testing.T, b string, ti treeInfo)
	wants func(ti treeInfo) []want
}

func fixed(ws ...want) func(treeInfo) []want { return func(treeInfo) []want { return ws } }

func needRoot(treeInfo) string {
	if !isRoot() {
		return "needs root"
	}
	return ""
}

func needUserXattr(ti treeInfo) string {
	if !ti.userXattr {
		return "temp fs refuses user xattrs"
	}
	return ""
}

var mutations = []mutation{
	{
		name: "changed byte",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, "file")()
			writeAt(t, filepath.Join(b, "file"), []byte("W"), 7)
		},
		wants: fixed(want{"file", "content"}),
	},
	{
		name: "changed byte deep inside sparse file",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, "sparse")()
			writeAt(t, filepath.Join(b, "sparse"), []byte{0xff}, 2<<20+4095)
		},
		wants: fixed(want{"sparse", "content"}),
	},
	{
		name: "changed byte in weird name",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, weirdName)()
			writeAt(t, filepath.Join(b, weirdName), []byte("W"), 0)
		},
		wants: fixed(want{weirdName, "content"}),
	},
	{
		name: "appended byte",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, "a/b/c/deep.txt")()
			writeAt(t, filepath.Join(b, "a/b/c/deep.txt"), []byte("!"), 5)
		},
		wants: fixed(want{"a/b/c/deep.txt", "size"}),
	},
	{
		name: "mode bit",
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, unix.Chmod(filepath.Join(b, "file"), 0o664))
		},
		wants: fixed(want{"file", "mode"}),
	},
	{
		name: "setuid dropped",
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, unix.Chmod(filepath.Join(b, "setuid"), 0o755))
		},
		wants: fixed(want{"setuid", "mode"}),
	},
	{
		name: "setgid added",
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, unix.Chmod(filepath.Join(b, "file"), 0o2644))
		},
		wants: fixed(want{"file", "mode"}),
	},
	{
		name: "sticky dropped",
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, unix.Chmod(filepath.Join(b, "sticky-dir"), 0o777))
		},
		wants: fixed(want{"sticky-dir", "mode"}),
	},
	{
		name: "root mode",
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, unix.Chmod(b, 0o750))
		},
		wants: fixed(want{".", "mode"}),
	},
	{
		name:  "file mtime +1ns",
		mut:   func(t *testing.T, b string, _ treeInfo) { shiftMtime(t, b, "file", 1) },
		wants: fixed(want{"file", "mtime"}),
	},
	{
		name:  "file mtime -1ns",
		mut:   func(t *testing.T, b string, _ treeInfo) { shiftMtime(t, b, "a/b/c/deep.txt", -1) },
		wants: fixed(want{"a/b/c/deep.txt", "mtime"}),
	},
	{
		name:  "dir mtime +1ns",
		mut:   func(t *testing.T, b string, _ treeInfo) { shiftMtime(t, b, "a/b", 1) },
		wants: fixed(want{"a/b", "mtime"}),
	},
	{
		name:  "root mtime +1ns",
		mut:   func(t *testing.T, b string, _ treeInfo) { shiftMtime(t, b, ".", 1) },
		wants: fixed(want{".", "mtime"}),
	},
	{
		name:  "symlink mtime +1ns",
		mut:   func(t *testing.T, b string, _ treeInfo) { shiftMtime(t, b, "link", 1) },
		wants: fixed(want{"link", "mtime"}),
	},
	{
		name:  "fifo mtime +1ns",
		mut:   func(t *testing.T, b string, _ treeInfo) { shiftMtime(t, b, "fifo", 1) },
		wants: fixed(want{"fifo", "mtime"}),
	},
	{
		name: "dir mtime ignored without DirMtimes",
		opts: func(o *Options) { o.DirMtimes = false },
		mut: func(t *testing.T, b string, _ treeInfo) {
			shiftMtime(t, b, "a/b", 1)
			shiftMtime(t, b, ".", 1)
			must(t, unix.Chmod(b, 0o750))
			shiftMtime(t, b, "file", 1) // still reported
		},
		wants: fixed(want{"file", "mtime"}),
	},
	{
		name: "missing file",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, "a/b/c")()
			must(t, os.Remove(filepath.Join(b, "a/b/c/deep.txt")))
		},
		wants: fixed(want{"a/b/c/deep.txt", "missing"}),
	},
	{
		name: "missing weird name",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, ".")()
			must(t, os.Remove(filepath.Join(b, weirdName)))
		},
		wants: fixed(want{weirdName, "missing"}),
	},
	{
		name: "missing subtree reported once",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, "a")()
			must(t, os.RemoveAll(filepath.Join(b, "a/b")))
		},
		wants: fixed(want{"a/b", "missing"}),
	},
	{
		name: "extra file",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, "empty-dir")()
			must(t, os.WriteFile(filepath.Join(b, "empty-dir", "new"), nil, 0o644))
		},
		wants: fixed(want{"empty-dir/new", "extra"}),
	},
	{
		name: "extra weird name",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, ".")()
			must(t, os.WriteFile(filepath.Join(b, "bad\xfe\nname"), nil, 0o644))
		},
		wants: fixed(want{"bad\xfe\nname", "extra"}),
	},
	{
		name: "symlink target",
		mut: func(t *testing.T, b string, ti treeInfo) {
			defer keep(t, b, ".")()
			p := filepath.Join(b, "link")
			var st unix.Stat_t
			must(t, unix.Lstat(p, &st))
			must(t, os.Remove(p))
			must(t, os.Symlink("fil\xff", p)) // same length: the bytes must be compared
			must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW))
			if ti.linkXattr {
				must(t, unix.Lsetxattr(p, "trusted.test", []byte("on the link"), 0))
			}
		},
		wants: fixed(want{"link", "link target"}),
	},
	{
		name: "split hardlink",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, "a")()
			recreateFile(t, b, "a/hl2")
		},
		// "a/hl2" is visited first, so the break shows up at "hl1".
		wants: fixed(want{"hl1", "hardlink"}),
	},
	{
		name: "split hardlink ignored without Hardlinks",
		opts: func(o *Options) { o.Hardlinks = false },
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, "a")()
			recreateFile(t, b, "a/hl2")
		},
		wants: fixed(),
	},
	{
		name: "joined hardlink",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, ".")()
			must(t, os.Remove(filepath.Join(b, "twin2")))
			must(t, os.Link(filepath.Join(b, "twin1"), filepath.Join(b, "twin2")))
		},
		wants: fixed(want{"twin2", "hardlink"}),
	},
	{
		name: "dropped xattr",
		skip: needUserXattr,
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, unix.Removexattr(filepath.Join(b, "xattr-file"), "user.test"))
		},
		wants: fixed(want{"xattr-file", "xattr"}),
	},
	{
		name: "changed xattr value",
		skip: needUserXattr,
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, unix.Setxattr(filepath.Join(b, "xattr-file"), "user.test", []byte("valuE"), 0))
		},
		wants: fixed(want{"xattr-file", "xattr"}),
	},
	{
		name: "extra xattr on directory",
		skip: needUserXattr,
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, unix.Setxattr(filepath.Join(b, "a"), "user.extra", nil, 0))
		},
		wants: fixed(want{"a", "xattr"}),
	},
	{
		name: "dropped xattr on symlink",
		skip: func(ti treeInfo) string {
			if !ti.linkXattr {
				return "no trusted xattr on the symlink"
			}
			return ""
		},
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, unix.Lremovexattr(filepath.Join(b, "link"), "trusted.test"))
		},
		wants: fixed(want{"link", "xattr"}),
	},
	{
		name: "dropped xattr ignored without Xattrs",
		skip: needUserXattr,
		opts: func(o *Options) { o.Xattrs = false },
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, unix.Removexattr(filepath.Join(b, "xattr-file"), "user.test"))
		},
		wants: fixed(),
	},
	{
		name: "security.selinux ignored",
		skip: needRoot,
		mut: func(t *testing.T, b string, _ treeInfo) {
			err := unix.Setxattr(filepath.Join(b, "file"), "security.selinux", []byte("system_u:object_r:tmp_t:s0\x00"), 0)
			if err != nil {
				t.Skipf("cannot set security.selinux: %v", err)
			}
		},
		wants: fixed(),
	},
	{
		name:  "densified sparse file",
		mut:   func(t *testing.T, b string, _ treeInfo) { densify(t, b, "sparse") },
		wants: fixed(want{"sparse", "sparse"}),
	},
	{
		name:  "densified sparse file ignored without Sparse",
		opts:  func(o *Options) { o.Sparse = false },
		mut:   func(t *testing.T, b string, _ treeInfo) { densify(t, b, "sparse") },
		wants: fixed(),
	},
	{
		name: "file replaced by dir",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, ".")()
			must(t, os.Remove(filepath.Join(b, "file")))
			must(t, os.Mkdir(filepath.Join(b, "file"), 0o644))
		},
		wants: fixed(want{"file", "type"}),
	},
	{
		name: "fifo replaced by file",
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, ".")()
			must(t, os.Remove(filepath.Join(b, "fifo")))
			must(t, os.WriteFile(filepath.Join(b, "fifo"), nil, 0o640))
		},
		wants: fixed(want{"fifo", "type"}),
	},
	{
		name: "device number",
		skip: func(ti treeInfo) string {
			if !ti.chardev {
				return "no char device"
			}
			return ""
		},
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, ".", "chardev")()
			p := filepath.Join(b, "chardev")
			must(t, os.Remove(p))
			must(t, unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 5))))
			must(t, unix.Chmod(p, 0o600))
		},
		wants: fixed(want{"chardev", "rdev"}),
	},
	{
		name: "socket replaced by fifo",
		skip: func(ti treeInfo) string {
			if !ti.socket {
				return "no socket"
			}
			return ""
		},
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, ".", "sock")()
			p := filepath.Join(b, "sock")
			must(t, os.Remove(p))
			must(t, unix.Mkfifo(p, 0o755))
		},
		wants: fixed(want{"sock", "type"}),
	},
	{
		name: "uid and gid",
		skip: needRoot,
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, os.Lchown(filepath.Join(b, "owned"), 1002, 1003))
		},
		wants: fixed(want{"owned", "uid"}, want{"owned", "gid"}),
	},
	{
		name: "symlink owner",
		skip: needRoot,
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, os.Lchown(filepath.Join(b, "link"), -1, 1003))
		},
		wants: fixed(want{"link", "gid"}),
	},
	{
		name: "owner ignored without Owner",
		skip: needRoot,
		opts: func(o *Options) { o.Owner = false },
		mut: func(t *testing.T, b string, _ treeInfo) {
			must(t, os.Lchown(filepath.Join(b, "owned"), 1002, 1003))
		},
		wants: fixed(),
	},
	{
		name: "Ignore skips entries and subtrees",
		opts: func(o *Options) {
			o.Ignore = func(rel []byte) bool {
				return string(rel) == "empty-dir/new" || string(rel) == "a/b"
			}
		},
		mut: func(t *testing.T, b string, _ treeInfo) {
			defer keep(t, b, "empty-dir")()
			must(t, os.WriteFile(filepath.Join(b, "empty-dir", "new"), nil, 0o644))
			must(t, os.RemoveAll(filepath.Join(b, "a/b"))) // a's mtime changes: still reported
		},
		wants: fixed(want{"a", "mtime"}),
	},
	{
		name: "changed byte beyond PATH_MAX",
		mut: func(t *testing.T, b string, ti treeInfo) {
			fd := walkTo(t, b, append([]string{"long"}, ti.longComps...))
			defer unix.Close(fd)
			var st unix.Stat_t
			must(t, unix.Fstatat(fd, "leaf", &st, unix.AT_SYMLINK_NOFOLLOW))
			lf, err := unix.Openat(fd, "leaf", unix.O_WRONLY|unix.O_CLOEXEC, 0)
			must(t, err)
			_, err = unix.Pwrite(lf, []byte("D"), 0)
			must(t, err)
			unix.Close(lf)
			must(t, unix.UtimesNanoAt(fd, "leaf", []unix.Timespec{st.Atim, st.Mtim}, 0))
		},
		wants: func(ti treeInfo) []want { return []want{{ti.longDir() + "/leaf", "content"}} },
	},
	{
		name: "missing symlink beyond PATH_MAX",
		mut: func(t *testing.T, b string, ti treeInfo) {
			fd := walkTo(t, b, append([]string{"long"}, ti.longComps...))
			defer unix.Close(fd)
			var st unix.Stat_t
			must(t, unix.Fstat(fd, &st))
			must(t, unix.Unlinkat(fd, "leaflink", 0))
			must(t, unix.UtimesNanoAt(unix.AT_FDCWD, procPath(fd), []unix.Timespec{st.Atim, st.Mtim}, 0))
		},
		wants: func(ti treeInfo) []want { return []want{{ti.longDir() + "/leaflink", "missing"}} },
	},
}

func TestCompare(t *testing.T) {
	a := t.TempDir()
	ti := buildTree(t, a)
	if l := len(ti.longDir() + "/leaf"); l <= 4096 {
		t.Fatalf("long path only %d bytes", l)
	}

	t.Run("identical copy", func(t *testing.T) {
		b := t.TempDir()
		copyTree(t, a, b)
		diffs, err := Compare(a, b, allOptions())
		must(t, err)
		checkDiffs(t, diffs, nil)
		Equal(t, a, b, allOptions())
		Equal(t, b, a, allOptions())
	})
	t.Run("tree against itself", func(t *testing.T) {
		Equal(t, a, a, allOptions())
	})

	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			if m.skip != nil {
				if why := m.skip(ti); why != "" {
					t.Skip(why)
				}
			}
			b := t.TempDir()
			copyTree(t, a, b)
			opt := allOptions()
			if m.opts != nil {
				m.opts(&opt)
			}
			m.mut(t, b, ti)
			diffs, err := Compare(a, b, opt)
			must(t, err)
			checkDiffs(t, diffs, m.wants(ti))
		})
	}
}

func TestCompareRootErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	file := filepath.Join(dir, "file")
	must(t, os.WriteFile(file, nil, 0o644))
	for _, tc := range []struct{ name, a, b string }{
		{"missing a", missing, dir},
		{"missing b", dir, missing},
		{"a is a file", file, dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Compare(tc.a, tc.b, Options{}); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestDiffString(t *testing.T) {
	d := Diff{Path: []byte(weirdName), What: "content", A: "x", B: "y"}
	if got, want := d.String(), `"bad\xff\nname": content: a=x b=y`; got != want {
		t.Fatalf("String() = %s, want %s", got, want)
	}
}

// fakeTB records Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
}

func TestEqualFails(t *testing.T) {
	a := t.TempDir()
	b := t.TempDir()
	must(t, os.WriteFile(filepath.Join(a, weirdName), []byte("x"), 0o644))
	for i := range 60 {
		must(t, os.WriteFile(filepath.Join(b, fmt.Sprintf("extra%02d", i)), nil, 0o644))
	}
	ft := &fakeTB{TB: t}
	Equal(ft, a, b, Options{})
	if !ft.failed {
		t.Fatal("Equal did not fail")
	}
	for _, s := range []string{`"bad\xff\nname": missing`, `"extra48": extra`, "... and 11 more"} {
		if !strings.Contains(ft.msg, s) {
			t.Errorf("message lacks %q:\n%s", s, ft.msg)
		}
	}
	if strings.Contains(ft.msg, `"extra49"`) {
		t.Errorf("message lists more than 50 diffs:\n%s", ft.msg)
	}

	ft = &fakeTB{TB: t}
	Equal(ft, a, filepath.Join(b, "nope"), Options{})
	if !ft.failed {
		t.Fatal("Equal did not fail on a missing root")
	}
}

// TestContentMemory checks that comparing large files does not allocate in
// proportion to their size.
func TestContentMemory(t *testing.T) {
	dir := t.TempDir()
	const size = 256 << 20
	for _, name := range []string{"a", "b"} {
		must(t, os.Mkdir(filepath.Join(dir, name), 0o755))
		f, err := os.Create(filepath.Join(dir, name, "big"))
		must(t, err)
		must(t, f.Truncate(size))
		if name == "b" {
			_, err = f.WriteAt([]byte{1}, size-1)
			must(t, err)
		}
		must(t, f.Close())
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, name, "big"), stamp(1), 0))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	diffs, err := Compare(filepath.Join(dir, "a"), filepath.Join(dir, "b"), Options{})
	runtime.ReadMemStats(&after)
	must(t, err)
	checkDiffs(t, diffs, []want{{"big", "content"}})
	if !strings.Contains(diffs[0].A, fmt.Sprintf("offset %d", size-1)) {
		t.Errorf("wrong offset: %s", diffs[0])
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("Compare allocated %d bytes for two %d-byte files", alloc, size)
	}
}

func TestErrorBelowRootIsADiff(t *testing.T) {
	if isRoot() {
		t.Skip("root bypasses permission checks")
	}
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		must(t, os.WriteFile(filepath.Join(d, "f"), []byte("x"), 0o000))
	}
	diffs, err := Compare(a, b, Options{})
	must(t, err)
	if len(diffs) != 1 || diffs[0].What != "error" || !strings.Contains(diffs[0].A, "permission denied") {
		t.Fatalf("want one error diff, got %v", diffs)
	}
}
