package harness

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TrickyTree builds, under dir/tricky, every kind of entry a restore must
// reproduce exactly: setuid/setgid/sticky modes, foreign owners, nanosecond
// mtimes before 1970 and after 2038, empty directories, symlinks (dangling,
// with their own owner and mtime), hardlinks (a pair, a group of three, a
// hardlinked symlink), a sparse file, a fifo, device nodes, extended
// attributes (user, trusted, an ACL, a file capability), names with spaces,
// newlines, invalid UTF-8 and 255 bytes, a path longer than PATH_MAX, and a
// socket (which a backup records and skips). It needs root. It returns the
// root and the relative path of the socket.
func TrickyTree(t testing.TB, dir string) (root, socket string) {
	t.Helper()
	root = filepath.Join(dir, "tricky")
	b := &builder{t: t, root: root}
	must(t, os.MkdirAll(root, 0o755))
	b.file("plain", "hello, world\n", 0o644)
	b.file("empty", "", 0o600)
	b.file("setuid", "#!/bin/true\n", 0o4755)
	b.file("setgid", "#!/bin/true\n", 0o2750)
	b.dir("sticky", 0o1777)
	b.dir("empty dir", 0o700)
	b.dir("d1", 0o755)
	b.dir("d1/d2", 0o750)
	b.file("d1/d2/deep", strings.Repeat("deep ", 1000), 0o640)
	b.file("owned", "owned by someone else\n", 0o640)
	must(t, os.Lchown(b.p("owned"), 1234, 5678))
	b.file("with space", "space\n", 0o644)
	b.file("new\nline", "newline\n", 0o644)
	b.file("bad\xffutf8\xfe", "invalid utf-8\n", 0o644)
	b.file(strings.Repeat("n", 255), "255-byte name\n", 0o644)
	b.file("old", "before 1970\n", 0o644)
	b.file("future", "after 2038\n", 0o644)

	b.symlink("plain", "sym")
	b.symlink("/nonexistent/\xff/target", "dangling")
	must(t, os.Lchown(b.p("dangling"), 4321, 8765))

	b.file("hl-a", "hardlinked pair\n", 0o644)
	must(t, os.Link(b.p("hl-a"), b.p("d1/hl-b")))
	b.file("g1", "group of three\n", 0o600)
	must(t, os.Link(b.p("g1"), b.p("g2")))
	must(t, os.Link(b.p("g1"), b.p("d1/d2/g3")))
	b.symlink("plain", "hsym1")
	must(t, os.Link(b.p("hsym1"), b.p("hsym2")))

	b.sparse("sparse")
	must(t, unix.Mkfifo(b.p("fifo"), 0o640))
	must(t, unix.Mknod(b.p("chardev"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
	must(t, unix.Mknod(b.p("blockdev"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 200))))

	must(t, unix.Setxattr(b.p("plain"), "user.comment", []byte("a user attribute"), 0))
	must(t, unix.Setxattr(b.p("d1"), "user.dirattr", []byte{0, 1, 2, 0xff}, 0))
	must(t, unix.Lsetxattr(b.p("sym"), "trusted.linkattr", []byte("on the link itself"), 0))
	b.file("acl", "has an ACL\n", 0o640)
	must(t, unix.Setxattr(b.p("acl"), "system.posix_acl_access", aclValue(), 0))
	b.file("cap", "#!/bin/true\n", 0o755)
	must(t, unix.Setxattr(b.p("cap"), "security.capability", capValue(), 0))

	socket = "sock"
	l, err := net.Listen("unix", b.p(socket))
	must(t, err)
	if ul, ok := l.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	l.Close()

	b.longPath()
	b.times()
	return root, socket
}

type builder struct {
	t    testing.TB
	root string
	dirs []string // in creation order
}

func (b *builder) p(rel string) string { return filepath.Join(b.root, rel) }

func (b *builder) file(rel, body string, mode os.FileMode) {
	must(b.t, os.WriteFile(b.p(rel), []byte(body), 0o600))
	must(b.t, os.Chmod(b.p(rel), mode&os.ModePerm|unixMode(mode)))
}

// unixMode carries the special bits given as plain octal (04000 ...).
func unixMode(m os.FileMode) os.FileMode {
	var out os.FileMode
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

func (b *builder) dir(rel string, mode os.FileMode) {
	must(b.t, os.Mkdir(b.p(rel), 0o700))
	must(b.t, os.Chmod(b.p(rel), mode&os.ModePerm|unixMode(mode)))
	b.dirs = append(b.dirs, rel)
}

func (b *builder) symlink(target, rel string) {
	must(b.t, os.Symlink(target, b.p(rel)))
}

// sparse: a hole, 4 KiB of data at 1 MiB, a hole, data at 5 MiB, and a
// trailing hole up to 8 MiB.
func (b *builder) sparse(rel string) {
	f, err := os.Create(b.p(rel))
	must(b.t, err)
	defer f.Close()
	for _, off := range []int64{1 << 20, 5 << 20} {
		_, err := f.WriteAt([]byte(strings.Repeat("s", 4096)), off)
		must(b.t, err)
	}
	must(b.t, f.Truncate(8<<20))
}

// longPath nests 200-byte directory names past PATH_MAX (4096 bytes) and
// puts a file at the bottom, working relative to open directories.
func (b *builder) longPath() {
	fd, err := unix.Open(b.root, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	must(b.t, err)
	name := strings.Repeat("L", 200)
	var opened []int
	for depth := 0; depth*201 < 4400; depth++ {
		must(b.t, unix.Mkdirat(fd, name, 0o755))
		next, err := unix.Openat(fd, name, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_NOFOLLOW, 0)
		must(b.t, err)
		opened = append(opened, fd)
		fd = next
	}
	f, err := unix.Openat(fd, "bottom", unix.O_CREAT|unix.O_WRONLY|unix.O_EXCL, 0o644)
	must(b.t, err)
	_, err = unix.Write(f, []byte("beyond PATH_MAX\n"))
	must(b.t, err)
	unix.Close(f)
	// set times bottom-up, each directory through its parent's fd
	ts := []unix.Timespec{unix.NsecToTimespec(1_600_000_000_123_456_789), unix.NsecToTimespec(1_600_000_000_123_456_789)}
	must(b.t, unix.UtimesNanoAt(fd, "bottom", ts, 0))
	for i := len(opened) - 1; i >= 0; i-- {
		unix.Close(fd)
		fd = opened[i]
		must(b.t, unix.UtimesNanoAt(fd, name, ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	unix.Close(fd)
}

// times gives every entry its own nanosecond mtime (symlinks included,
// without following them), then directories deepest first.
func (b *builder) times() {
	set := func(rel string, t time.Time) {
		ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
		must(b.t, unix.UtimesNanoAt(unix.AT_FDCWD, b.p(rel), ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	base := time.Date(2019, 7, 1, 2, 3, 4, 5, time.UTC)
	ents, err := os.ReadDir(b.root)
	must(b.t, err)
	for i, e := range ents {
		if !e.IsDir() {
			set(e.Name(), base.Add(time.Duration(i)*time.Hour+time.Duration(i*7919)))
		}
	}
	set("d1/d2/deep", base.Add(-time.Hour))
	set("d1/hl-b", base.Add(-2*time.Hour)) // same inode as hl-a: the last set wins for both
	set("old", time.Date(1960, 1, 2, 3, 4, 5, 600000007, time.UTC))
	set("future", time.Date(2100, 12, 31, 23, 59, 59, 999999999, time.UTC))
	for i := len(b.dirs) - 1; i >= 0; i-- {
		set(b.dirs[i], base.Add(time.Duration(100+i)*time.Minute+time.Duration(i+1)))
	}
	set(".", base.Add(1000*time.Minute+3))
}

// aclValue is a POSIX access ACL (xattr form): user::rw- user:1000:r--
// group::r-- mask::r-- other::---.
func aclValue() []byte {
	v := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range []struct {
		tag, perm uint16
		id        uint32
	}{{0x01, 6, 0xffffffff}, {0x02, 4, 1000}, {0x04, 4, 0xffffffff}, {0x10, 4, 0xffffffff}, {0x20, 0, 0xffffffff}} {
		v = binary.LittleEndian.AppendUint16(v, e.tag)
		v = binary.LittleEndian.AppendUint16(v, e.perm)
		v = binary.LittleEndian.AppendUint32(v, e.id)
	}
	return v
}

// capValue is a file capability (vfs_cap_data v2): cap_net_bind_service, effective.
func capValue() []byte {
	v := binary.LittleEndian.AppendUint32(nil, 0x02000000|0x1)
	v = binary.LittleEndian.AppendUint32(v, 1<<10) // permitted, low word
	v = binary.LittleEndian.AppendUint32(v, 0)     // inheritable
	v = binary.LittleEndian.AppendUint32(v, 0)
	return binary.LittleEndian.AppendUint32(v, 0)
}
