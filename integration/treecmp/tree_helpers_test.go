//go:build linux

package treecmp

// Test-only tree builder and copier. The copier is written independently of
// the comparer (os.File.Readdirnames instead of getdents parsing, a
// different xattr path) so that the baseline "copy compares equal" is not a
// tautology.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func openDir(t testing.TB, dirfd int, name string) int {
	t.Helper()
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("openat %q: %v", name, err)
	}
	return fd
}

// walkTo opens the directory reached from root by the relative steps comps,
// one openat per component, so it works past PATH_MAX. Caller closes it.
func walkTo(t testing.TB, root string, comps []string) int {
	t.Helper()
	fd := openDir(t, unix.AT_FDCWD, root)
	for _, c := range comps {
		next := openDir(t, fd, c)
		unix.Close(fd)
		fd = next
	}
	return fd
}

type treeInfo struct {
	userXattr bool // "xattr-file" carries user.test
	linkXattr bool // "link" carries trusted.test (root only)
	chardev   bool
	socket    bool
	longComps []string // "long" + these directories, then "leaf" and "leaflink"
}

func (ti treeInfo) longDir() string { return "long/" + strings.Join(ti.longComps, "/") }

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i%251)
	}
	return b
}

const (
	sparseSize  = 4<<20 + 123
	weirdName   = "bad\xff\nname"
	rootBaseSec = 1_600_000_000
)

func isRoot() bool { return os.Geteuid() == 0 }

// buildTree creates the reference tree in root.
func buildTree(t *testing.T, root string) treeInfo {
	t.Helper()
	var ti treeInfo
	p := func(rel string) string { return filepath.Join(root, rel) }

	must(t, os.WriteFile(p("file"), []byte("hello, world\n"), 0o644))
	must(t, os.Mkdir(p("empty-dir"), 0o755))
	must(t, os.Symlink("file", p("link")))
	must(t, os.MkdirAll(p("a/b/c"), 0o755))
	must(t, os.WriteFile(p("a/b/c/deep.txt"), []byte("deep\n"), 0o600))
	must(t, os.WriteFile(p(weirdName), []byte("weird\n"), 0o644))
	must(t, unix.Mkfifo(p("fifo"), 0o640))
	must(t, os.WriteFile(p("hl1"), []byte("linked\n"), 0o644))
	must(t, os.Link(p("hl1"), p("a/hl2")))
	must(t, os.WriteFile(p("twin1"), []byte("twin\n"), 0o644))
	must(t, os.WriteFile(p("twin2"), []byte("twin\n"), 0o644))
	must(t, os.WriteFile(p("setuid"), []byte("#!/bin/sh\n"), 0o755))
	must(t, unix.Chmod(p("setuid"), 0o4755))
	must(t, os.Mkdir(p("sticky-dir"), 0o755))
	must(t, unix.Chmod(p("sticky-dir"), 0o1777))

	// Sparse: data, hole, data, hole to EOF.
	f, err := os.Create(p("sparse"))
	must(t, err)
	_, err = f.WriteAt(pattern(4096, 1), 0)
	must(t, err)
	_, err = f.WriteAt(pattern(4096, 7), 2<<20)
	must(t, err)
	must(t, f.Truncate(sparseSize))
	must(t, f.Sync())
	hole, err := unix.Seek(int(f.Fd()), 0, unix.SEEK_HOLE)
	must(t, err)
	must(t, f.Close())
	if hole >= sparseSize {
		t.Fatalf("temp filesystem does not keep holes (first hole at %d)", hole)
	}

	must(t, os.WriteFile(p("xattr-file"), []byte("has xattr\n"), 0o644))
	switch err := unix.Setxattr(p("xattr-file"), "user.test", []byte("value"), 0); {
	case err == nil:
		ti.userXattr = true
	case errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EPERM):
		t.Logf("user xattrs refused by temp fs: %v", err)
	default:
		t.Fatal(err)
	}

	if isRoot() {
		must(t, os.WriteFile(p("owned"), []byte("owned\n"), 0o640))
		must(t, os.Lchown(p("owned"), 1000, 1001))
		if err := unix.Mknod(p("chardev"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err == nil {
			ti.chardev = true
		} else {
			t.Logf("mknod chardev: %v", err)
		}
		if err := unix.Lsetxattr(p("link"), "trusted.test", []byte("on the link"), 0); err == nil {
			ti.linkXattr = true
		} else {
			t.Logf("trusted xattr on symlink: %v", err)
		}
	}
	if err := unix.Mknod(p("sock"), unix.S_IFSOCK|0o755, 0); err == nil {
		ti.socket = true
	} else {
		t.Logf("mknod socket: %v", err)
	}

	// A directory chain deeper than PATH_MAX, built with mkdirat/openat
	// relative steps.
	must(t, os.Mkdir(p("long"), 0o755))
	fd := walkTo(t, root, []string{"long"})
	total := len(root) + len("/long")
	for i := 0; total <= 4096+300; i++ {
		name := fmt.Sprintf("%03d-%s", i, strings.Repeat("x", 200))
		ti.longComps = append(ti.longComps, name)
		must(t, unix.Mkdirat(fd, name, 0o755))
		next := openDir(t, fd, name)
		unix.Close(fd)
		fd = next
		total += 1 + len(name)
	}
	lf, err := unix.Openat(fd, "leaf", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	must(t, err)
	_, err = unix.Write(lf, []byte("deepest leaf\n"))
	must(t, err)
	unix.Close(lf)
	must(t, unix.Symlinkat("../leaf", fd, "leaflink"))
	unix.Close(fd)

	// Deterministic timestamps with non-zero nanoseconds, bottom-up so that
	// directory mtimes are final.
	rfd := openDir(t, unix.AT_FDCWD, root)
	n := 0
	setTimes(t, rfd, &n)
	unix.Close(rfd)
	// The twins are separate inodes that are otherwise indistinguishable, so
	// that joining them into one inode shows up only as a hardlink diff.
	var tw unix.Stat_t
	must(t, unix.Lstat(p("twin1"), &tw))
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p("twin2"), []unix.Timespec{tw.Atim, tw.Mtim}, 0))
	ts := stamp(n)
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, root, ts, 0))
	return ti
}

func stamp(n int) []unix.Timespec {
	return []unix.Timespec{
		{Sec: rootBaseSec - 1, Nsec: 5},
		{Sec: rootBaseSec + int64(n)*3600, Nsec: 100_000_000 + int64(n)*1_000_003},
	}
}

func setTimes(t *testing.T, dirfd int, n *int) {
	t.Helper()
	for _, name := range readdirnames(t, dirfd) {
		var st unix.Stat_t
		must(t, unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW))
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			sub := openDir(t, dirfd, name)
			setTimes(t, sub, n)
			unix.Close(sub)
		}
		*n++
		must(t, unix.UtimesNanoAt(dirfd, name, stamp(*n), unix.AT_SYMLINK_NOFOLLOW))
	}
}

// readdirnames lists a directory fd through os.File on a dup'd descriptor.
func readdirnames(t testing.TB, dirfd int) []string {
	t.Helper()
	dup, err := unix.Dup(dirfd)
	must(t, err)
	f := os.NewFile(uintptr(dup), "dir")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	must(t, err)
	return names
}

type copier struct {
	t     *testing.T
	links map[[2]uint64]int // source inode -> O_PATH fd of its first copy
}

// copyTree copies src into the existing empty directory dst, preserving
// everything treecmp compares.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	c := &copier{t: t, links: map[[2]uint64]int{}}
	sfd := openDir(t, unix.AT_FDCWD, src)
	defer unix.Close(sfd)
	dfd := openDir(t, unix.AT_FDCWD, dst)
	defer unix.Close(dfd)
	c.contents(sfd, dfd)
	for _, fd := range c.links {
		unix.Close(fd)
	}
	var st unix.Stat_t
	must(t, unix.Fstat(sfd, &st))
	must(t, unix.Fchmod(dfd, st.Mode&0o7777))
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, dst, []unix.Timespec{st.Atim, st.Mtim}, 0))
}

func (c *copier) contents(sfd, dfd int) {
	for _, name := range readdirnames(c.t, sfd) {
		c.entry(sfd, dfd, name)
	}
}

func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

func (c *copier) entry(sfd, dfd int, name string) {
	t := c.t
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW))
	typ := st.Mode & unix.S_IFMT
	key := [2]uint64{st.Dev, st.Ino}
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		if lfd, ok := c.links[key]; ok {
			must(t, unix.Linkat(unix.AT_FDCWD, procPath(lfd), dfd, name, unix.AT_SYMLINK_FOLLOW))
			return
		}
	}
	switch typ {
	case unix.S_IFDIR:
		must(t, unix.Mkdirat(dfd, name, 0o700))
		s := openDir(t, sfd, name)
		d := openDir(t, dfd, name)
		copyXattrs(t, procPath(s), procPath(d))
		c.contents(s, d)
		unix.Close(s)
		unix.Close(d)
	case unix.S_IFREG:
		s, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		must(t, err)
		d, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		must(t, err)
		copySparse(t, s, d, st.Size)
		copyXattrs(t, procPath(s), procPath(d))
		unix.Close(s)
		unix.Close(d)
	case unix.S_IFLNK:
		buf := make([]byte, st.Size+1)
		n, err := unix.Readlinkat(sfd, name, buf)
		must(t, err)
		must(t, unix.Symlinkat(string(buf[:n]), dfd, name))
		s, err := unix.Openat(sfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		must(t, err)
		d, err := unix.Openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		must(t, err)
		copyXattrs(t, procPath(s), procPath(d))
		unix.Close(s)
		unix.Close(d)
	default:
		must(t, unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)))
	}
	if isRoot() {
		must(t, unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW))
	}
	if typ != unix.S_IFLNK {
		must(t, unix.Fchmodat(dfd, name, st.Mode&0o7777, 0))
	}
	must(t, unix.UtimesNanoAt(dfd, name, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW))
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		lfd, err := unix.Openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		must(t, err)
		c.links[key] = lfd
	}
}

// copyXattrs copies through /proc/self/fd paths (following the magic link to
// the descriptor's own inode).
func copyXattrs(t testing.TB, src, dst string) {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Listxattr(src, buf)
	if errors.Is(err, unix.ENOTSUP) {
		return
	}
	must(t, err)
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		val := make([]byte, 64<<10)
		m, err := unix.Getxattr(src, string(name), val)
		must(t, err)
		must(t, unix.Setxattr(dst, string(name), val[:m], 0))
	}
}

// copySparse copies only the data extents and then sets the size, so holes
// are reproduced.
func copySparse(t testing.TB, s, d int, size int64) {
	t.Helper()
	buf := make([]byte, 256<<10)
	var off int64
	for off < size {
		start, err := unix.Seek(s, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		must(t, err)
		end, err := unix.Seek(s, start, unix.SEEK_HOLE)
		must(t, err)
		for pos := start; pos < end; {
			n, err := unix.Pread(s, buf[:min(int64(len(buf)), end-pos)], pos)
			must(t, err)
			if n == 0 {
				break
			}
			_, err = unix.Pwrite(d, buf[:n], pos)
			must(t, err)
			pos += int64(n)
		}
		off = end
	}
	must(t, unix.Ftruncate(d, size))
}
