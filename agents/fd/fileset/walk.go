package fileset

import (
	"context"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// Entry is one file system entry found by the walker. The Entry and the
// slices it holds are valid only during the callback that receives it.
type Entry struct {
	// Header holds the lstat attributes; Header.Path is the absolute path
	// with its leading '/' stripped.
	Header datapath.FileHeader
	// Dev, Ino and Nlink identify the inode (hard link detection).
	Dev, Ino uint64
	Nlink    uint64

	w *Walker // for Xattrs; nil in an Entry built by hand
}

// Walker walks the include roots of a Spec. It keeps its buffers between
// walks; it is not safe for concurrent use.
type Walker struct {
	spec  Spec
	roots []string
	warnf func(path []byte, err error)

	walked map[string]bool     // include root -> reached during this walk
	anc    map[string]struct{} // emitted directories that are ancestors of a root

	done <-chan struct{}
	ctx  context.Context
	fn   func(e *Entry, open func() (*os.File, error)) error

	path    []byte // absolute path of the current entry
	entry   Entry
	linkBuf []byte
	dirent  []byte
	cur     current
	openFn  func() (*os.File, error)
	xa      xattrBufs
}

// current is the entry being visited, for its open function.
type current struct {
	dir  int // parent directory fd, -1 for an ancestor of a root
	name string
	st   *unix.Stat_t
	anc  []string // for an ancestor of a root: its components below "/"
}

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// NewWalker returns a Walker for spec. warn receives per-entry problems with
// the entry's absolute path; it may be nil.
func NewWalker(spec Spec, warn func(path []byte, err error)) (*Walker, error) {
	roots, err := spec.roots()
	if err != nil {
		return nil, err
	}
	if err := spec.checkExcludes(); err != nil {
		return nil, err
	}
	if warn == nil {
		warn = func([]byte, error) {}
	}
	w := &Walker{
		spec:    spec,
		roots:   roots,
		warnf:   warn,
		walked:  make(map[string]bool, len(roots)),
		anc:     make(map[string]struct{}),
		linkBuf: make([]byte, 256),
		dirent:  make([]byte, 32<<10),
	}
	w.openFn = w.openCurrent
	w.entry.w = w
	return w, nil
}

// Walk walks spec with a new Walker; see (*Walker).Walk.
func Walk(ctx context.Context, spec Spec, fn func(e *Entry, open func() (*os.File, error)) error, warn func(path []byte, err error)) error {
	w, err := NewWalker(spec, warn)
	if err != nil {
		return err
	}
	return w.Walk(ctx, fn)
}

// Walk calls fn for every entry: the ancestors of each include root, then
// the root and everything below it, depth first in byte order of names,
// each directory before its contents. open opens the entry if it is a
// regular file. An error from fn, or ctx's, stops the walk and is returned.
func (w *Walker) Walk(ctx context.Context, fn func(e *Entry, open func() (*os.File, error)) error) error {
	w.ctx, w.done, w.fn = ctx, ctx.Done(), fn
	defer func() { w.ctx, w.done, w.fn = nil, nil, nil }()
	clear(w.anc)
	for _, r := range w.roots {
		w.walked[r] = false
	}
	for _, r := range w.roots {
		if err := w.cancelled(); err != nil {
			return err
		}
		if w.walked[r] {
			continue // reached while walking an enclosing root
		}
		if err := w.walkRoot(r); err != nil {
			return err
		}
	}
	return nil
}

func (w *Walker) cancelled() error {
	select {
	case <-w.done:
		return w.ctx.Err()
	default:
		return nil
	}
}

func (w *Walker) warn(err error) { w.warnf(w.path, err) }

// walkRoot walks one include root and emits its ancestors first.
func (w *Walker) walkRoot(root string) error {
	if root == "/" {
		return w.walkSlash()
	}
	w.path = append(w.path[:0], root...)
	parts := strings.Split(root[1:], "/")
	fd, stats, err := openParent(parts[:len(parts)-1])
	if err != nil {
		w.warn(err)
		return nil
	}
	defer unix.Close(fd)
	name := parts[len(parts)-1]
	var st unix.Stat_t
	if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		w.warn(fmt.Errorf("include root: lstat: %w", err))
		return nil
	}
	if w.spec.excluded(w.path, name) {
		return nil // and so are its ancestors
	}
	if err := w.emitAncestors(parts, stats); err != nil {
		return err
	}
	w.path = append(w.path[:0], root...)
	return w.visit(fd, name, &st, st.Dev)
}

// walkSlash walks the contents of "/", which has no path of its own.
func (w *Walker) walkSlash() error {
	w.walked["/"] = true
	w.path = append(w.path[:0], '/')
	fd, err := unix.Open("/", dirFlags, 0)
	if err != nil {
		w.warn(fmt.Errorf("open: %w", err))
		return nil
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		w.warn(fmt.Errorf("stat: %w", err))
		return nil
	}
	return w.walkDir(fd, st.Dev)
}

// openParent opens the directory holding an include root, component by
// component from "/", never following a symlink, and returns the
// attributes of each component.
func openParent(parts []string) (int, []unix.Stat_t, error) {
	fd, err := unix.Open("/", dirFlags, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("include root: open /: %w", err)
	}
	stats := make([]unix.Stat_t, len(parts))
	for i, p := range parts {
		nfd, err := unix.Openat(fd, p, dirFlags, 0)
		if err != nil {
			err = ancestorError(fd, "/"+strings.Join(parts[:i+1], "/"), p, err)
			unix.Close(fd)
			return -1, nil, err
		}
		unix.Close(fd)
		fd = nfd
		if err := unix.Fstat(fd, &stats[i]); err != nil {
			unix.Close(fd)
			return -1, nil, fmt.Errorf("include root: stat ancestor: %w", err)
		}
	}
	return fd, stats, nil
}

// ancestorError explains why an ancestor of an include root did not open.
func ancestorError(dirfd int, abs, name string, err error) error {
	var st unix.Stat_t
	if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return fmt.Errorf("include root below a symlink (%s), not followed", abs)
	}
	return fmt.Errorf("include root: open %s: %w", abs, err)
}

// emitAncestors emits the ancestors of an include root that were not
// emitted yet.
func (w *Walker) emitAncestors(parts []string, stats []unix.Stat_t) error {
	w.path = w.path[:0]
	for i := range stats {
		w.path = append(w.path, '/')
		w.path = append(w.path, parts[i]...)
		if _, ok := w.anc[string(w.path)]; ok {
			continue
		}
		if err := w.cancelled(); err != nil {
			return err
		}
		w.anc[string(w.path)] = struct{}{}
		w.fill(&stats[i], nil)
		w.cur = current{dir: -1, st: &stats[i], anc: parts[:i+1]}
		if err := w.fn(&w.entry, w.openFn); err != nil {
			return err
		}
	}
	return nil
}
