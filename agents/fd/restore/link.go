package restore

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// linkGroup is a hardlink group whose first entry came in this stream.
type linkGroup struct {
	id       uint64
	path     string            // stored path of the first entry
	typ      datapath.FileType // of the first entry: every name has it
	restored bool              // the first entry was created by this restore
	dev, ino uint64            // its inode, once restored
}

// joinGroup notes the current entry's hardlink extension: the first entry
// of a group is remembered; a later name must refer to a first entry that
// came earlier in this stream, with the same group and type. A reference
// to anything else, a path that could leave the target, a path on disk
// that this stream did not bring, is refused: the stream stops.
func (rv *receiver) joinGroup(l *datapath.Hardlink) error {
	c := &rv.cur
	if c.hdr.Type == datapath.TypeDir {
		return fmt.Errorf("%w: directory %q in a hardlink group", ErrStream, c.hdr.Path)
	}
	if l.First() {
		g := &linkGroup{id: l.Group, path: string(c.hdr.Path), typ: c.hdr.Type}
		rv.groups[g.path] = g
		c.first = g
		return nil
	}
	if err := checkPath(l.Path); err != nil {
		return fmt.Errorf("hardlink %q: %w", c.hdr.Path, err)
	}
	g := rv.groups[string(l.Path)]
	if g == nil {
		return fmt.Errorf("%w: hardlink %q refers to %q, which is not an earlier entry of this stream",
			ErrUnsafePath, c.hdr.Path, l.Path)
	}
	if g.id != l.Group || g.typ != c.hdr.Type {
		return fmt.Errorf("%w: hardlink %q (group %d, %s) refers to %q, the first entry of group %d (%s)",
			ErrStream, c.hdr.Path, l.Group, c.hdr.Type, l.Path, g.id, g.typ)
	}
	c.linkTo = g
	return nil
}

// restored records that the first entry of group g is in place, with its
// inode, so later names link to exactly that entry.
func (rv *receiver) restored(g *linkGroup) {
	var st unix.Stat_t
	if err := unix.Fstatat(rv.cur.dir, rv.cur.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		rv.warnErr(rv.cur.hdr.Path, "later names of this hardlink group will not be linked: lstat", err)
		return
	}
	g.restored, g.dev, g.ino = true, st.Dev, st.Ino
}

// hardlink makes the current entry a new name of its group's first entry,
// restored earlier by this stream: linked under a temporary name (the
// link itself, never what a symlink points to), then renamed into place
// following the replace policy. Both names are reached from the target
// without following symlinks.
func (rv *receiver) hardlink() error {
	c := &rv.cur
	g := c.linkTo
	if !g.restored {
		rv.warn(c.hdr.Path, fmt.Sprintf("hardlink not restored: %q, its first name, was not restored", g.path))
		return nil
	}
	if !rv.decide() {
		return nil
	}
	rv.settle(g.path)
	sdir, sname, err := rv.openExisting(g.path)
	if err != nil {
		if errors.Is(err, ErrUnsafePath) {
			return err
		}
		rv.warnErr(c.hdr.Path, fmt.Sprintf("hardlink not restored: open %q", g.path), err)
		return nil
	}
	defer unix.Close(sdir)
	var st unix.Stat_t
	if err := unix.Fstatat(sdir, sname, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		rv.warnErr(c.hdr.Path, fmt.Sprintf("hardlink not restored: lstat %q", g.path), err)
		return nil
	}
	if st.Dev != g.dev || st.Ino != g.ino {
		rv.warn(c.hdr.Path, fmt.Sprintf("hardlink not restored: %q was replaced since this restore created it", g.path))
		return nil
	}
	tmp, err := rv.makeTemp(func(tmp string) error { return unix.Linkat(sdir, sname, c.dir, tmp, 0) })
	if err != nil {
		rv.warnErr(c.hdr.Path, fmt.Sprintf("hardlink to %q not restored", g.path), err)
		return nil
	}
	rv.place(tmp)
	return nil
}

// openExisting opens the directory holding stored path p, component by
// component from the target without creating or following anything, and
// returns a new descriptor and p's last component. The directory cache is
// left alone: it holds the current entry's parent.
func (rv *receiver) openExisting(p string) (int, string, error) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		fd, err := unix.Dup(rv.root)
		return fd, p, err
	}
	dir, fd := p[:i], rv.root
	for done := 0; done < len(dir); {
		n := strings.IndexByte(dir[done:], '/')
		if n < 0 {
			n = len(dir) - done
		}
		name := dir[done : done+n]
		next, err := unix.Openat(fd, name, dirFlags, 0)
		if err != nil {
			var st unix.Stat_t
			if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = fmt.Errorf("%w: %q is a symlink, not followed", ErrUnsafePath, dir[:done+n])
			} else {
				err = fmt.Errorf("open directory %q: %w", dir[:done+n], err)
			}
		}
		if fd != rv.root {
			unix.Close(fd)
		}
		if err != nil {
			return -1, "", err
		}
		fd, done = next, done+n+1
	}
	return fd, p[i+1:], nil
}
