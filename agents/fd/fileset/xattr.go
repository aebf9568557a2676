package fileset

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// skippedXattrs are never backed up: the SELinux label belongs to the
// policy of the machine a file is restored on.
var skippedXattrs = []string{"security.selinux"}

// xattrBufs are the walker's buffers for extended attributes, reused for
// every entry.
type xattrBufs struct {
	names []byte
	vals  []byte
	offs  []xattrOff
	list  []datapath.Xattr
}

type xattrOff struct{ name, nameEnd, val, valEnd int }

// xattrSource reads the attributes of one inode: through a descriptor of
// the file itself, or through /proc/self/fd of an O_PATH descriptor (for a
// symlink, fifo or device, which is not opened for reading).
type xattrSource struct {
	fd   int
	proc string // "" to use fd directly
}

func (s xattrSource) list(dst []byte) (int, error) {
	if s.proc != "" {
		// The /proc/self/fd link leads to the O_PATH descriptor's inode,
		// the symlink itself, and no further: the following variant is
		// the right one (llistxattr would read the /proc link's own).
		return unix.Listxattr(s.proc, dst)
	}
	return unix.Flistxattr(s.fd, dst)
}

func (s xattrSource) get(name string, dst []byte) (int, error) {
	if s.proc != "" {
		return unix.Getxattr(s.proc, name, dst)
	}
	return unix.Fgetxattr(s.fd, name, dst)
}

// Xattrs returns the extended attributes of the entry, sorted by name, in
// every namespace the caller may read (user, trusted, security, system:
// ACLs and file capabilities included), without security.selinux. f is the
// entry as opened by its open function, or nil: then the entry is opened
// relative to its parent without following a symlink (O_PATH for anything
// but a readable directory) and checked to be the inode listed. A file
// system without extended attributes yields none. The result aliases
// buffers of the walker: it is valid during the callback only.
func (e *Entry) Xattrs(f *os.File) ([]datapath.Xattr, error) {
	w := e.w
	if w == nil {
		return nil, nil
	}
	if f != nil {
		return e.XattrsFd(int(f.Fd()))
	}
	fd, opath, err := w.openForXattrs()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	src := xattrSource{fd: fd}
	if opath {
		src.proc = "/proc/self/fd/" + strconv.Itoa(fd)
	}
	return w.xa.read(src)
}

// XattrsFd is Xattrs for the entry open as fd (File.Fd from OpenFile).
func (e *Entry) XattrsFd(fd int) ([]datapath.Xattr, error) {
	if e.w == nil {
		return nil, nil
	}
	return e.w.xa.read(xattrSource{fd: fd})
}

// openForXattrs opens the current entry for reading its attributes, never
// following a symlink: a directory for reading if it may be, anything else
// O_PATH (opath true).
func (w *Walker) openForXattrs() (fd int, opath bool, err error) {
	const pathFlags = unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC
	switch {
	case w.cur.st == nil:
		return -1, false, ErrReplaced
	case w.cur.dir < 0:
		if w.cur.anc == nil {
			return -1, false, ErrReplaced
		}
		fd, _, err = openParent(w.cur.anc) // opens the ancestor itself
	case w.cur.st.Mode&unix.S_IFMT == unix.S_IFDIR:
		fd, err = unix.Openat(w.cur.dir, w.cur.name, dirFlags, 0)
		if err == unix.EACCES {
			fd, err = unix.Openat(w.cur.dir, w.cur.name, pathFlags, 0)
			opath = true
		}
	default:
		fd, err = unix.Openat(w.cur.dir, w.cur.name, pathFlags, 0)
		opath = true
	}
	if err != nil {
		return -1, false, fmt.Errorf("open for extended attributes: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, false, fmt.Errorf("fstat: %w", err)
	}
	if st.Ino != w.cur.st.Ino || st.Dev != w.cur.st.Dev || st.Mode&unix.S_IFMT != w.cur.st.Mode&unix.S_IFMT {
		unix.Close(fd)
		return -1, false, ErrReplaced
	}
	return fd, opath, nil
}

// read reads every attribute of src into the buffers and returns them
// sorted by name.
func (b *xattrBufs) read(src xattrSource) ([]datapath.Xattr, error) {
	names, err := b.listNames(src)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	b.vals, b.offs = b.vals[:0], b.offs[:0]
	for start := 0; start < len(names); {
		end := start + bytes.IndexByte(names[start:], 0)
		if end < start { // no NUL: the last name
			end = len(names)
		}
		name := string(names[start:end])
		off := xattrOff{name: start, nameEnd: end}
		start = end + 1
		if off.name == off.nameEnd || skipped(name) {
			continue
		}
		ok, err := b.value(src, name, &off)
		if err != nil {
			return nil, fmt.Errorf("read extended attribute %q: %w", name, err)
		}
		if ok {
			b.offs = append(b.offs, off)
		}
	}
	b.list = b.list[:0]
	for _, o := range b.offs {
		b.list = append(b.list, datapath.Xattr{Name: names[o.name:o.nameEnd:o.nameEnd], Value: b.vals[o.val:o.valEnd:o.valEnd]})
	}
	datapath.SortXattrs(b.list)
	if err := datapath.CheckXattrs(b.list); err != nil {
		return nil, err
	}
	return b.list, nil
}

// listNames returns the NUL-separated attribute names of src; none on a
// file system without extended attributes.
func (b *xattrBufs) listNames(src xattrSource) ([]byte, error) {
	if b.names == nil {
		b.names = make([]byte, 1024)
	}
	for range 8 {
		n, err := src.list(b.names[:cap(b.names)])
		switch err {
		case nil:
			return b.names[:n], nil
		case unix.ENOTSUP:
			return nil, nil
		case unix.ERANGE: // grown meanwhile: ask the size
			n, err = src.list(nil)
			if err != nil {
				return nil, fmt.Errorf("list extended attributes: %w", err)
			}
			b.names = make([]byte, n+256)
		default:
			return nil, fmt.Errorf("list extended attributes: %w", err)
		}
	}
	return nil, fmt.Errorf("list extended attributes: %w", unix.ERANGE)
}

// value appends the value of name to b.vals and records where. It
// reports false for an attribute removed since it was listed.
func (b *xattrBufs) value(src xattrSource, name string, off *xattrOff) (bool, error) {
	for range 8 {
		start := len(b.vals)
		if cap(b.vals)-start < 256 {
			b.grow(4096)
		}
		n, err := src.get(name, b.vals[start:cap(b.vals)])
		switch err {
		case nil:
			b.vals = b.vals[:start+n]
			off.val, off.valEnd = start, start+n
			return true, nil
		case unix.ENODATA:
			return false, nil
		case unix.ERANGE:
			n, err = src.get(name, nil)
			if err != nil {
				return false, err
			}
			b.grow(n + 256)
		default:
			return false, err
		}
	}
	return false, unix.ERANGE
}

// grow makes room for at least n more value bytes, keeping those read.
func (b *xattrBufs) grow(n int) {
	if cap(b.vals)-len(b.vals) >= n {
		return
	}
	v := make([]byte, len(b.vals), 2*cap(b.vals)+n)
	copy(v, b.vals)
	b.vals = v
}

func skipped(name string) bool {
	for _, s := range skippedXattrs {
		if name == s {
			return true
		}
	}
	return false
}

// XattrReader reads the extended attributes of open files with buffers of
// its own, for a goroutine other than the walk's. Its result is valid
// until the next call.
type XattrReader struct {
	b xattrBufs
}

// ReadFd returns the attributes of the file open as fd, as Entry.Xattrs
// does.
func (r *XattrReader) ReadFd(fd int) ([]datapath.Xattr, error) {
	return r.b.read(xattrSource{fd: fd})
}
