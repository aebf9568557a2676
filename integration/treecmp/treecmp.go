//go:build linux

// Package treecmp is an independent comparer for backup tests: it walks an
// original tree and a restored tree side by side and reports every
// difference it finds.
//
// It deliberately shares no code with the backup system's own file walker
// (it is the judge of that walker). Everything is done relative to open
// directory file descriptors (openat with O_NOFOLLOW|O_DIRECTORY, fstatat
// with AT_SYMLINK_NOFOLLOW, readlinkat, getdents), so trees whose paths are
// longer than PATH_MAX are compared correctly. Names are kept as raw bytes.
package treecmp

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Options selects the optional comparisons. Type, mode (all 12 permission
// bits), mtime of non-directories, size, content, symlink target and device
// numbers are always compared.
type Options struct {
	Owner     bool                  // compare uid/gid (tests set it when running as root)
	DirMtimes bool                  // compare directory mtimes (and the roots' mode/mtime)
	Xattrs    bool                  // compare extended attributes, all namespaces, except "security.selinux"
	Sparse    bool                  // compare the hole layout of regular files (SEEK_DATA/SEEK_HOLE)
	Hardlinks bool                  // compare hardlink grouping in both directions
	Ignore    func(rel []byte) bool // optional: skip this entry (and its subtree) in both trees
}

// Diff is one difference between tree A (original) and tree B (restored).
//
// Path is relative to the roots, "/"-separated, raw bytes; the roots
// themselves are ".". What is one of "missing", "extra", "type", "content",
// "mode", "uid", "gid", "mtime", "size", "link target", "xattr", "sparse",
// "hardlink", "rdev", or "error" (an I/O failure below the roots, with the
// error texts in A and B; an entry that cannot be read is never treated as
// equal). A and B describe the value on each side.
type Diff struct {
	Path []byte
	What string
	A, B string
}

// String renders the diff on one line with the path quoted (%q), so names
// containing newlines or invalid UTF-8 stay readable.
func (d Diff) String() string {
	return fmt.Sprintf("%q: %s: a=%s b=%s", d.Path, d.What, d.A, d.B)
}

// bufSize is the size of each of the two content-compare buffers.
const bufSize = 1 << 20

// Compare walks a and b and returns every difference. The returned error is
// reserved for failures to open, stat or list the two roots; anything that
// goes wrong below the roots is reported as a Diff (What "error").
func Compare(a, b string, opt Options) ([]Diff, error) {
	fdA, err := openRoot(a)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fdA)
	fdB, err := openRoot(b)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fdB)

	c := &comparer{opt: opt}
	if opt.DirMtimes {
		var stA, stB unix.Stat_t
		if err := unix.Fstat(fdA, &stA); err != nil {
			return nil, &rootError{a, "fstat", err}
		}
		if err := unix.Fstat(fdB, &stB); err != nil {
			return nil, &rootError{b, "fstat", err}
		}
		root := []byte(".")
		c.cmpMode(root, &stA, &stB)
		c.cmpMtime(root, &stA, &stB)
	}
	namesA, err := readNames(fdA)
	if err != nil {
		return nil, &rootError{a, "getdents", err}
	}
	namesB, err := readNames(fdB)
	if err != nil {
		return nil, &rootError{b, "getdents", err}
	}
	c.walkDir(fdA, fdB, nil, namesA, namesB)
	return c.diffs, nil
}

// Equal fails t (t.Fatalf) if Compare reports an error or any difference,
// listing up to 50 diffs.
func Equal(t testing.TB, a, b string, opt Options) {
	t.Helper()
	diffs, err := Compare(a, b, opt)
	if err != nil {
		t.Fatalf("treecmp.Compare(%q, %q): %v", a, b, err)
		return
	}
	if len(diffs) == 0 {
		return
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "trees differ: %q vs %q: %d difference(s):", a, b, len(diffs))
	for i, d := range diffs {
		if i == 50 {
			fmt.Fprintf(&sb, "\n\t... and %d more", len(diffs)-50)
			break
		}
		sb.WriteString("\n\t")
		sb.WriteString(d.String())
	}
	t.Fatalf("%s", sb.String())
}

type rootError struct {
	path, op string
	err      error
}

func (e *rootError) Error() string { return fmt.Sprintf("treecmp: %s %q: %v", e.op, e.path, e.err) }
func (e *rootError) Unwrap() error { return e.err }

func openRoot(p string) (int, error) {
	fd, err := retry(func() (int, error) {
		return unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return -1, &rootError{p, "open", err}
	}
	return fd, nil
}

// retry repeats f while it fails with EINTR.
func retry(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}

type inoKey struct{ dev, ino uint64 }

type linkSeen struct {
	other inoKey
	path  []byte
}

type comparer struct {
	opt   Options
	diffs []Diff

	bufA, bufB []byte // content buffers, allocated on first use

	// Hardlink bookkeeping, only for non-directories with nlink > 1 on
	// either side: inode in A -> inode in B (and back), with the first path
	// that established the mapping.
	aToB map[inoKey]linkSeen
	bToA map[inoKey]linkSeen
}

func (c *comparer) add(rel []byte, what, a, b string) {
	c.diffs = append(c.diffs, Diff{Path: bytes.Clone(rel), What: what, A: a, B: b})
}

func (c *comparer) addErr(rel []byte, errA, errB error) {
	c.add(rel, "error", errString(errA), errString(errB))
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// readNames returns the names in the directory open at fd, sorted
// byte-wise, without "." and "..".
func readNames(fd int) ([]string, error) {
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return nil, err
	}
	buf := make([]byte, 64<<10)
	var names []string
	for {
		n, err := retry(func() (int, error) { return unix.Getdents(fd, buf) })
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	slices.Sort(names)
	return names, nil
}

func join(rel []byte, name string) []byte {
	out := make([]byte, 0, len(rel)+1+len(name))
	if len(rel) > 0 {
		out = append(out, rel...)
		out = append(out, '/')
	}
	return append(out, name...)
}

// walkDir merges the two sorted name lists of a directory pair.
func (c *comparer) walkDir(fdA, fdB int, rel []byte, namesA, namesB []string) {
	i, j := 0, 0
	for i < len(namesA) || j < len(namesB) {
		var name string
		inA, inB := false, false
		switch {
		case j >= len(namesB) || (i < len(namesA) && namesA[i] < namesB[j]):
			name, inA = namesA[i], true
			i++
		case i >= len(namesA) || namesB[j] < namesA[i]:
			name, inB = namesB[j], true
			j++
		default:
			name, inA, inB = namesA[i], true, true
			i++
			j++
		}
		crel := join(rel, name)
		if c.opt.Ignore != nil && c.opt.Ignore(crel) {
			continue
		}
		switch {
		case inA && inB:
			c.entry(fdA, fdB, name, crel)
		case inA:
			c.add(crel, "missing", describe(fdA, name), "absent")
		default:
			c.add(crel, "extra", "absent", describe(fdB, name))
		}
	}
}

func describe(dirfd int, name string) string {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return "present (" + err.Error() + ")"
	}
	return typeName(st.Mode)
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFCHR:
		return "char device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFSOCK:
		return "socket"
	}
	return fmt.Sprintf("unknown type %#o", mode&unix.S_IFMT)
}

func (c *comparer) cmpMode(rel []byte, a, b *unix.Stat_t) {
	if ma, mb := a.Mode&07777, b.Mode&07777; ma != mb {
		c.add(rel, "mode", fmt.Sprintf("%04o", ma), fmt.Sprintf("%04o", mb))
	}
}

func (c *comparer) cmpMtime(rel []byte, a, b *unix.Stat_t) {
	if a.Mtim.Sec != b.Mtim.Sec || a.Mtim.Nsec != b.Mtim.Nsec {
		c.add(rel, "mtime", fmtTime(a.Mtim), fmtTime(b.Mtim))
	}
}

func fmtTime(ts unix.Timespec) string {
	return time.Unix(ts.Sec, ts.Nsec).UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// entry compares one name present in both directories.
func (c *comparer) entry(dirA, dirB int, name string, rel []byte) {
	var stA, stB unix.Stat_t
	errA := unix.Fstatat(dirA, name, &stA, unix.AT_SYMLINK_NOFOLLOW)
	errB := unix.Fstatat(dirB, name, &stB, unix.AT_SYMLINK_NOFOLLOW)
	if errA != nil || errB != nil {
		c.addErr(rel, errA, errB)
		return
	}
	ta, tb := stA.Mode&unix.S_IFMT, stB.Mode&unix.S_IFMT
	if ta != tb {
		c.add(rel, "type", typeName(stA.Mode), typeName(stB.Mode))
		return
	}
	c.cmpMode(rel, &stA, &stB)
	if c.opt.Owner {
		if stA.Uid != stB.Uid {
			c.add(rel, "uid", strconv.FormatUint(uint64(stA.Uid), 10), strconv.FormatUint(uint64(stB.Uid), 10))
		}
		if stA.Gid != stB.Gid {
			c.add(rel, "gid", strconv.FormatUint(uint64(stA.Gid), 10), strconv.FormatUint(uint64(stB.Gid), 10))
		}
	}
	if ta != unix.S_IFDIR || c.opt.DirMtimes {
		c.cmpMtime(rel, &stA, &stB)
	}

	switch ta {
	case unix.S_IFREG:
		c.regular(dirA, dirB, name, rel, &stA, &stB)
	case unix.S_IFDIR:
		c.dir(dirA, dirB, name, rel)
		return // directories take no part in hardlink grouping
	case unix.S_IFLNK:
		c.symlink(dirA, dirB, name, rel, &stA, &stB)
		c.pathXattrs(dirA, dirB, name, rel)
	case unix.S_IFCHR, unix.S_IFBLK:
		if stA.Rdev != stB.Rdev {
			c.add(rel, "rdev", fmtDev(stA.Rdev), fmtDev(stB.Rdev))
		}
		c.pathXattrs(dirA, dirB, name, rel)
	default: // fifo, socket: nothing beyond metadata and xattrs
		c.pathXattrs(dirA, dirB, name, rel)
	}
	if c.opt.Hardlinks {
		c.hardlink(rel, &stA, &stB)
	}
}

func fmtDev(d uint64) string {
	return fmt.Sprintf("%d:%d", unix.Major(d), unix.Minor(d))
}

func (c *comparer) symlink(dirA, dirB int, name string, rel []byte, stA, stB *unix.Stat_t) {
	ta, errA := readlink(dirA, name, stA.Size)
	tb, errB := readlink(dirB, name, stB.Size)
	if errA != nil || errB != nil {
		c.addErr(rel, errA, errB)
		return
	}
	if !bytes.Equal(ta, tb) {
		c.add(rel, "link target", fmt.Sprintf("%q", ta), fmt.Sprintf("%q", tb))
	}
}

func readlink(dirfd int, name string, hint int64) ([]byte, error) {
	size := int(hint) + 1
	if size < 128 {
		size = 128
	}
	for {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return nil, err
		}
		if n < len(buf) {
			return buf[:n], nil
		}
		size *= 2
	}
}

// openAt opens name below dirfd without following a final symlink.
func openAt(dirfd int, name string, flags int) (int, error) {
	return retry(func() (int, error) {
		return unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
}

// sameInode reports whether fd still refers to the inode stat'ed as st,
// guarding against the entry being replaced between fstatat and openat.
func sameInode(fd int, st *unix.Stat_t) error {
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		return err
	}
	if now.Dev != st.Dev || now.Ino != st.Ino {
		return errors.New("entry replaced while comparing")
	}
	return nil
}

func (c *comparer) dir(dirA, dirB int, name string, rel []byte) {
	fdA, errA := openAt(dirA, name, unix.O_RDONLY|unix.O_DIRECTORY)
	fdB, errB := openAt(dirB, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if fdA >= 0 {
		defer unix.Close(fdA)
	}
	if fdB >= 0 {
		defer unix.Close(fdB)
	}
	if errA != nil || errB != nil {
		c.addErr(rel, errA, errB)
		return
	}
	if c.opt.Xattrs {
		c.cmpXattrs(rel, fdXattrs{fdA}, fdXattrs{fdB})
	}
	namesA, errA := readNames(fdA)
	namesB, errB := readNames(fdB)
	if errA != nil || errB != nil {
		c.addErr(rel, errA, errB)
		return
	}
	c.walkDir(fdA, fdB, rel, namesA, namesB)
}

func (c *comparer) regular(dirA, dirB int, name string, rel []byte, stA, stB *unix.Stat_t) {
	if stA.Size != stB.Size {
		c.add(rel, "size", strconv.FormatInt(stA.Size, 10), strconv.FormatInt(stB.Size, 10))
	}
	// O_NONBLOCK: should the entry be swapped for a fifo under us, the open
	// must not hang; sameInode then rejects it.
	const flags = unix.O_RDONLY | unix.O_NONBLOCK
	fdA, errA := openAt(dirA, name, flags)
	fdB, errB := openAt(dirB, name, flags)
	if fdA >= 0 {
		defer unix.Close(fdA)
		if errA == nil {
			errA = sameInode(fdA, stA)
		}
	}
	if fdB >= 0 {
		defer unix.Close(fdB)
		if errB == nil {
			errB = sameInode(fdB, stB)
		}
	}
	if errA != nil || errB != nil {
		c.addErr(rel, errA, errB)
		return
	}
	if stA.Size == stB.Size {
		c.content(rel, fdA, fdB)
	}
	if c.opt.Xattrs {
		c.cmpXattrs(rel, fdXattrs{fdA}, fdXattrs{fdB})
	}
	if c.opt.Sparse && stA.Size == stB.Size {
		c.sparse(rel, fdA, fdB, stA, stB)
	}
}

// preadFull fills buf from offset off, short only at end of file.
func preadFull(fd int, buf []byte, off int64) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Pread(fd, buf[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// content streams both files through two fixed 1 MiB buffers and reports
// the first differing offset.
func (c *comparer) content(rel []byte, fdA, fdB int) {
	if c.bufA == nil {
		c.bufA = make([]byte, bufSize)
		c.bufB = make([]byte, bufSize)
	}
	var off int64
	for {
		nA, errA := preadFull(fdA, c.bufA, off)
		nB, errB := preadFull(fdB, c.bufB, off)
		if errA != nil || errB != nil {
			c.addErr(rel, errA, errB)
			return
		}
		n := min(nA, nB)
		if i := firstMismatch(c.bufA[:n], c.bufB[:n]); i >= 0 {
			at := off + int64(i)
			c.add(rel, "content",
				fmt.Sprintf("byte %#02x at offset %d", c.bufA[i], at),
				fmt.Sprintf("byte %#02x at offset %d", c.bufB[i], at))
			return
		}
		if nA != nB { // size changed while reading
			at := off + int64(n)
			c.add(rel, "content", describeTail(c.bufA[n:nA], at), describeTail(c.bufB[n:nB], at))
			return
		}
		if nA < len(c.bufA) {
			return
		}
		off += int64(nA)
	}
}

func describeTail(rest []byte, at int64) string {
	if len(rest) == 0 {
		return fmt.Sprintf("EOF at offset %d", at)
	}
	return fmt.Sprintf("byte %#02x at offset %d", rest[0], at)
}

func firstMismatch(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	// Narrow down in 4 KiB steps, then byte by byte.
	i := 0
	for i+4096 <= len(a) && bytes.Equal(a[i:i+4096], b[i:i+4096]) {
		i += 4096
	}
	for ; i < len(a); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// nextData returns the next data extent [start, end) at or after off, or
// ok=false when only a hole (or EOF) follows.
func nextData(fd int, off, size int64) (start, end int64, ok bool, err error) {
	if off >= size {
		return 0, 0, false, nil
	}
	start, err = unix.Seek(fd, off, unix.SEEK_DATA)
	if err == unix.ENXIO {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	end, err = unix.Seek(fd, start, unix.SEEK_HOLE)
	if err != nil {
		return 0, 0, false, err
	}
	return start, min(end, size), true, nil
}

func fmtExtent(start, end int64, ok bool) string {
	if !ok {
		return "no more data (hole to EOF)"
	}
	return fmt.Sprintf("data [%d,%d)", start, end)
}

// sparse walks the SEEK_DATA/SEEK_HOLE maps of both files in lockstep (in
// constant memory) and reports the first extent that differs. Where the
// filesystem does not support the seek (EINVAL/EOPNOTSUPP), it falls back to
// comparing whether each file has fewer allocated bytes than its size.
func (c *comparer) sparse(rel []byte, fdA, fdB int, stA, stB *unix.Stat_t) {
	size := stA.Size
	var off int64
	for {
		sA, eA, okA, errA := nextData(fdA, off, size)
		sB, eB, okB, errB := nextData(fdB, off, size)
		if errA != nil || errB != nil {
			if unsupportedSeek(errA) || unsupportedSeek(errB) {
				ha, hb := stA.Blocks*512 < stA.Size, stB.Blocks*512 < stB.Size
				if ha != hb {
					c.add(rel, "sparse", fmtHoley(stA, ha), fmtHoley(stB, hb))
				}
				return
			}
			c.addErr(rel, errA, errB)
			return
		}
		if okA != okB || sA != sB || eA != eB {
			c.add(rel, "sparse", fmtExtent(sA, eA, okA), fmtExtent(sB, eB, okB))
			return
		}
		if !okA {
			return
		}
		off = eA
	}
}

func unsupportedSeek(err error) bool {
	return err == unix.EINVAL || err == unix.EOPNOTSUPP
}

func fmtHoley(st *unix.Stat_t, holey bool) string {
	return fmt.Sprintf("holey=%v (%d blocks of 512, size %d)", holey, st.Blocks, st.Size)
}

func (c *comparer) hardlink(rel []byte, stA, stB *unix.Stat_t) {
	if stA.Nlink <= 1 && stB.Nlink <= 1 {
		return // cannot share an inode with another path on either side
	}
	if c.aToB == nil {
		c.aToB = make(map[inoKey]linkSeen)
		c.bToA = make(map[inoKey]linkSeen)
	}
	ka := inoKey{stA.Dev, stA.Ino}
	kb := inoKey{stB.Dev, stB.Ino}
	p := bytes.Clone(rel)
	if seen, ok := c.aToB[ka]; ok && seen.other != kb {
		c.add(rel, "hardlink",
			fmt.Sprintf("same inode as %q", seen.path),
			fmt.Sprintf("different inode from %q", seen.path))
		return
	} else if !ok {
		c.aToB[ka] = linkSeen{kb, p}
	}
	if seen, ok := c.bToA[kb]; ok && seen.other != ka {
		c.add(rel, "hardlink",
			fmt.Sprintf("different inode from %q", seen.path),
			fmt.Sprintf("same inode as %q", seen.path))
	} else if !ok {
		c.bToA[kb] = linkSeen{ka, p}
	}
}
