package fileset

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// visit emits the entry at w.path (name in dirfd, attributes st) and walks
// its contents if it is a directory. rootDev is the device of the include
// root the entry belongs to.
func (w *Walker) visit(dirfd int, name string, st *unix.Stat_t, rootDev uint64) error {
	if err := w.cancelled(); err != nil {
		return err
	}
	if w.spec.excluded(w.path, name) {
		return nil
	}
	if _, ok := w.walked[string(w.path)]; ok {
		w.walked[string(w.path)] = true
		rootDev = st.Dev // a nested include root counts as a root of its own
	}
	var link []byte
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		var err error
		if link, err = w.readlink(dirfd, name); err != nil {
			w.warn(fmt.Errorf("readlink: %w", err))
			return nil
		}
	}
	if !w.fill(st, link) {
		w.warn(fmt.Errorf("unsupported file type %#o", st.Mode&unix.S_IFMT))
		return nil
	}
	w.cur = current{dir: dirfd, name: name, st: st}
	if err := w.fn(&w.entry, w.openFn); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	return w.descend(dirfd, name, st, rootDev)
}

// descend walks the contents of directory name in dirfd.
func (w *Walker) descend(dirfd int, name string, st *unix.Stat_t, rootDev uint64) error {
	if w.isAncestor(w.path) {
		w.anc[string(w.path)] = struct{}{}
	}
	if w.spec.OneFileSystem && st.Dev != rootDev {
		return nil
	}
	fd, err := unix.Openat(dirfd, name, dirFlags, 0)
	if err != nil {
		w.warn(fmt.Errorf("open directory: %w", err))
		return nil
	}
	defer unix.Close(fd)
	return w.walkDir(fd, rootDev)
}

// isAncestor reports whether abs is a proper ancestor of an include root.
func (w *Walker) isAncestor(abs []byte) bool {
	if len(abs) <= 1 {
		return false
	}
	for _, r := range w.roots {
		if len(r) > len(abs) && r[len(abs)] == '/' && r[:len(abs)] == string(abs) {
			return true
		}
	}
	return false
}

// walkDir visits the entries of the open directory fd, whose path is
// w.path, in byte order of names.
func (w *Walker) walkDir(fd int, rootDev uint64) error {
	names, err := w.readNames(fd)
	if err != nil {
		w.warn(fmt.Errorf("read directory: %w", err))
	}
	slices.Sort(names)
	base := len(w.path)
	defer func() { w.path = w.path[:base] }()
	for _, name := range names {
		w.path = w.path[:base]
		if base > 1 {
			w.path = append(w.path, '/')
		}
		w.path = append(w.path, name...)
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			w.warn(fmt.Errorf("lstat: %w", err))
			continue
		}
		if err := w.visit(fd, name, &st, rootDev); err != nil {
			return err
		}
	}
	return nil
}

// readNames returns the names in directory fd, without "." and "..".
func (w *Walker) readNames(fd int) ([]string, error) {
	var names []string
	for {
		n, err := unix.ReadDirent(fd, w.dirent)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return names, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(w.dirent[:n], -1, names)
	}
}

// readlink reads the target of symlink name in dirfd into w.linkBuf.
func (w *Walker) readlink(dirfd int, name string) ([]byte, error) {
	for {
		n, err := unix.Readlinkat(dirfd, name, w.linkBuf)
		if err != nil {
			return nil, err
		}
		if n < len(w.linkBuf) {
			return w.linkBuf[:n], nil
		}
		w.linkBuf = make([]byte, 2*len(w.linkBuf))
	}
}

// fill sets w.entry from st for the entry at w.path. It reports false for
// an unknown file type.
func (w *Walker) fill(st *unix.Stat_t, link []byte) bool {
	t := fileType(st.Mode)
	if t == 0 {
		return false
	}
	h := &w.entry.Header
	*h = datapath.FileHeader{
		Path:  w.path[1:],
		Type:  t,
		Mode:  st.Mode & 0o7777,
		UID:   st.Uid,
		GID:   st.Gid,
		Mtime: st.Mtim.Nano(),
		Atime: st.Atim.Nano(),
	}
	switch t {
	case datapath.TypeRegular:
		h.Size = st.Size
	case datapath.TypeCharDev, datapath.TypeBlockDev:
		h.Rdev = st.Rdev
	case datapath.TypeSymlink:
		h.LinkTarget = link
	}
	w.entry.Dev, w.entry.Ino, w.entry.Nlink = st.Dev, st.Ino, uint64(st.Nlink)
	return true
}

// fileType maps st_mode to a stored type, 0 if unknown.
func fileType(mode uint32) datapath.FileType {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return datapath.TypeRegular
	case unix.S_IFDIR:
		return datapath.TypeDir
	case unix.S_IFLNK:
		return datapath.TypeSymlink
	case unix.S_IFIFO:
		return datapath.TypeFifo
	case unix.S_IFCHR:
		return datapath.TypeCharDev
	case unix.S_IFBLK:
		return datapath.TypeBlockDev
	case unix.S_IFSOCK:
		return datapath.TypeSocket
	}
	return 0
}

// Errors from an entry's open function besides those of the system calls.
var (
	ErrNotRegular = errors.New("fileset: not a regular file")
	ErrReplaced   = errors.New("fileset: file replaced since it was listed")
	ErrNoWalker   = errors.New("fileset: entry not from a walker")
)

// File is a regular file opened for reading by Entry.OpenFile: a
// descriptor the caller closes, and the file's attributes as opened.
type File struct {
	Fd   int
	Stat unix.Stat_t
}

// OpenFile opens the entry, a regular file, relative to its parent
// directory, and checks that the opened file is the inode that was listed
// (and so never blocks on a fifo swapped in meanwhile). It costs two
// system calls, openat and fstat: the descriptor stays O_NONBLOCK, which
// reads of a regular file ignore. Valid during the callback only.
func (e *Entry) OpenFile() (File, error) {
	w := e.w
	if w == nil {
		return File{Fd: -1}, ErrNoWalker
	}
	if w.cur.dir < 0 || w.cur.st.Mode&unix.S_IFMT != unix.S_IFREG {
		return File{Fd: -1}, ErrNotRegular
	}
	fd, err := openNoatime(w.cur.dir, w.cur.name)
	if err != nil {
		return File{Fd: -1}, fmt.Errorf("open: %w", err)
	}
	f := File{Fd: fd}
	if err := unix.Fstat(fd, &f.Stat); err != nil {
		unix.Close(fd)
		return File{Fd: -1}, fmt.Errorf("fstat: %w", err)
	}
	if f.Stat.Mode&unix.S_IFMT != unix.S_IFREG || f.Stat.Ino != w.cur.st.Ino || f.Stat.Dev != w.cur.st.Dev {
		unix.Close(fd)
		return File{Fd: -1}, ErrReplaced
	}
	return f, nil
}

// openCurrent opens the current entry as an *os.File in blocking mode (see
// Entry.OpenFile, which costs fewer system calls).
func (w *Walker) openCurrent() (*os.File, error) {
	f, err := w.entry.OpenFile()
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(f.Fd, false); err != nil {
		unix.Close(f.Fd)
		return nil, fmt.Errorf("open: %w", err)
	}
	return os.NewFile(uintptr(f.Fd), string(w.path)), nil
}

// openNoatime opens name read-only, without updating its atime when the
// caller may ask for that.
func openNoatime(dirfd int, name string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	for {
		fd, err := unix.Openat(dirfd, name, flags|unix.O_NOATIME, 0)
		if err == unix.EPERM { // O_NOATIME needs ownership or CAP_FOWNER
			fd, err = unix.Openat(dirfd, name, flags, 0)
		}
		if err != unix.EINTR {
			return fd, err
		}
	}
}
