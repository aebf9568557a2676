package restore

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// checkPath refuses a stored path that could leave the target.
func checkPath(p []byte) error {
	switch {
	case len(p) == 0:
		return fmt.Errorf("%w: empty path", ErrUnsafePath)
	case p[0] == '/':
		return fmt.Errorf("%w: %q is absolute", ErrUnsafePath, p)
	case bytes.IndexByte(p, 0) >= 0:
		return fmt.Errorf("%w: %q holds a NUL byte", ErrUnsafePath, p)
	}
	for c := range bytes.SplitSeq(p, []byte{'/'}) {
		if len(c) == 0 || string(c) == "." || string(c) == ".." {
			return fmt.Errorf("%w: %q has a %q component", ErrUnsafePath, p, c)
		}
	}
	return nil
}

// dirCache holds the last parent directory opened.
type dirCache struct {
	path  string
	fd    int
	fresh bool      // made by this restore, its attributes not applied yet
	clean bool      // fresh and without extended attributes: new entries inherit none
	f     *freshDir // if fresh
}

// freshDir is a directory made by this restore whose stored attributes are
// not applied yet: created 0700, it holds only what the restore put there.
// It is known by its inode, so that a directory swapped in at its path
// does not pass for it.
type freshDir struct {
	dev, ino uint64
	state    uint8 // freshUnchecked...
	// jobs counts the files handed to the writers to create in it and
	// not finished yet (lazy.go).
	jobs atomic.Int32
	// names are those the writers were given to create in it: a name
	// that comes again is created by the receiver, which meets the
	// existing one (lazy.go).
	names map[string]struct{}
}

func (c *dirCache) reset() {
	if c.fd >= 0 {
		unix.Close(c.fd)
	}
	*c = dirCache{fd: -1}
}

// parentOf returns the directory holding stored path p, opened relative to
// the target, and p's last component. A symlink on the way is a fatal
// ErrUnsafePath; other errors are per entry.
func (rv *receiver) parentOf(p []byte) (int, string, error) {
	i := bytes.LastIndexByte(p, '/')
	if i < 0 {
		return rv.root, string(p), nil
	}
	fd, err := rv.openDir(string(p[:i]))
	return fd, string(p[i+1:]), err
}

// openDir returns a descriptor of directory dir (relative to the target),
// creating missing components with mode 0700. The descriptor belongs to
// the cache: it stays valid until the next call.
//
// dir is resolved afresh from the target for every entry, never reused
// from the previous one: a descriptor kept open follows its directory
// wherever it goes, so after a component was replaced (by a symlink to
// the outside, the directory moved aside) the next entries would land in
// the old directory, unseen. One openat2 that refuses symlinks and
// escapes resolves an existing dir; a missing component, a symlink or a
// kernel without openat2 takes the walk from the target.
func (rv *receiver) openDir(dir string) (int, error) {
	c := &rv.cache
	fd, err := openBeneath(rv.root, dir)
	if err != nil {
		if fd, err = rv.walk(rv.root, dir, 0); err != nil {
			return -1, err
		}
	}
	c.reset()
	*c = dirCache{path: dir, fd: fd}
	c.f, c.clean = rv.freshness(dir, fd)
	c.fresh = c.f != nil
	return fd, nil
}

// What the extended attributes of a fresh directory say.
const (
	freshUnchecked uint8 = iota + 1 // extended attributes not looked at yet
	freshClean                      // none: entries created in it inherit none
	freshInherits                   // some (a default ACL): entries may inherit them
)

// markFresh records directory path, just made by this restore and open
// as fd, as fresh.
func (rv *receiver) markFresh(path string, fd int) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return
	}
	rv.fresh[path] = &freshDir{dev: st.Dev, ino: st.Ino, state: freshUnchecked}
}

// freshness returns the fresh directory this restore made at dir if fd,
// open at dir, is that directory, so that nothing in it predates the
// restore; and reports whether it holds no extended attribute (the
// SELinux label aside), so that what is created in it inherits none.
func (rv *receiver) freshness(dir string, fd int) (*freshDir, bool) {
	f := rv.fresh[dir]
	if f == nil {
		return nil, false
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Dev != f.dev || st.Ino != f.ino {
		return nil, false
	}
	if f.state == freshUnchecked {
		f.state = freshInherits
		if names, err := rv.listXattrs(xattrTarget{fd: fd}); err == unix.ENOTSUP || err == nil && onlyLabel(names) {
			f.state = freshClean
		}
	}
	return f, f.state == freshClean
}

// onlyLabel reports whether NUL-separated attribute names hold nothing but
// the SELinux label, which the restore leaves alone.
func onlyLabel(names []byte) bool {
	for name := range bytes.SplitSeq(names, []byte{0}) {
		if len(name) != 0 && string(name) != "security.selinux" {
			return false
		}
	}
	return true
}

// noOpenat2 is set once openat2 turned out to be unavailable (before Linux
// 5.6, or refused by a seccomp filter).
var noOpenat2 atomic.Bool

// openBeneath opens directory dir below root in one call, following no
// symlink and never leaving root.
func openBeneath(root int, dir string) (int, error) {
	if noOpenat2.Load() {
		return -1, unix.ENOSYS
	}
	fd, err := unix.Openat2(root, dir, &unix.OpenHow{
		Flags:   dirFlags,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err == unix.ENOSYS || err == unix.EPERM {
		noOpenat2.Store(true)
	}
	return fd, err
}

// walk opens dir[done:] component by component from start (which opens
// dir[:done]) and returns a new descriptor.
func (rv *receiver) walk(start int, dir string, done int) (int, error) {
	fd := start
	for done < len(dir) {
		n := strings.IndexByte(dir[done:], '/')
		if n < 0 {
			n = len(dir) - done
		}
		next, err := rv.step(fd, dir[:done+n], dir[done:done+n])
		if fd != start {
			unix.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		fd, done = next, done+n+1
	}
	if fd == start {
		return unix.Dup(fd)
	}
	return fd, nil
}

// step opens component name of path in dirfd, creating it if missing.
func (rv *receiver) step(dirfd int, path, name string) (int, error) {
	fd, err := unix.Openat(dirfd, name, dirFlags, 0)
	if err == unix.ENOENT {
		made := false
		if err = unix.Mkdirat(dirfd, name, 0o700); err == nil {
			rv.made[path] = struct{}{}
			made = true
		}
		if err == nil || err == unix.EEXIST {
			fd, err = unix.Openat(dirfd, name, dirFlags, 0)
		}
		if err == nil && made {
			rv.markFresh(path, fd)
		}
	}
	if err == nil {
		return fd, nil
	}
	var st unix.Stat_t
	if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return -1, fmt.Errorf("%w: %q is a symlink, not followed", ErrUnsafePath, path)
	}
	return -1, fmt.Errorf("open directory %q: %w", path, err)
}

// below reports whether p lies below directory dir.
func below(p []byte, dir string) bool {
	return len(p) > len(dir) && p[len(dir)] == '/' && string(p[:len(dir)]) == dir
}
