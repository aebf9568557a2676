package restore

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// symlink creates the current symlink with its stored target, never
// following it.
func (rv *receiver) symlink() {
	c := &rv.cur
	target := string(c.hdr.LinkTarget)
	if !rv.make("skipped: symlink", func(name string) error { return unix.Symlinkat(target, c.dir, name) }) {
		return
	}
	if err := rv.nameAttrs(c.dir, c.tmp, &c.hdr, c.xattrs, false, c.direct && c.inClean); err != nil {
		rv.warnErr(c.hdr.Path, "attributes", err)
	}
	rv.place(c.tmp)
}

// node creates the current fifo or device node.
func (rv *receiver) node() {
	c := &rv.cur
	mode := uint32(unix.S_IFIFO)
	switch c.hdr.Type {
	case datapath.TypeCharDev:
		mode = unix.S_IFCHR
	case datapath.TypeBlockDev:
		mode = unix.S_IFBLK
	}
	if !rv.make(fmt.Sprintf("skipped: create %s", c.hdr.Type), func(name string) error {
		return unix.Mknodat(c.dir, name, mode|0o600, int(c.hdr.Rdev))
	}) {
		return
	}
	if err := rv.nameAttrs(c.dir, c.tmp, &c.hdr, c.xattrs, true, c.direct && c.inClean); err != nil {
		rv.warnErr(c.hdr.Path, "attributes", err)
	}
	rv.place(c.tmp)
}

// make creates the current entry with create and sets cur.tmp to the name
// it got. In a fresh directory (made by this restore, its attributes not
// applied yet) it goes under its own name at once: nothing there predates
// the restore. A name an earlier entry of this stream took fails there
// (create must refuse an existing name, symlinks included) and goes the
// long way: the replace policy decides, the entry is made under a
// temporary name, and place renames it. A failure is a warning: what
// says what was skipped.
func (rv *receiver) make(what string, create func(name string) error) bool {
	c := &rv.cur
	if c.inFresh {
		err := create(c.name)
		if err == nil {
			c.tmp, c.direct = c.name, true
			return true
		}
		if err != unix.EEXIST {
			rv.warnErr(c.hdr.Path, what, err)
			return false
		}
	}
	if !rv.decide() {
		return false
	}
	tmp, err := rv.makeTemp(create)
	if err != nil {
		rv.warnErr(c.hdr.Path, what, err)
		return false
	}
	c.tmp = tmp
	return true
}

// makeTemp creates an entry under a fresh temporary name with create.
func (rv *receiver) makeTemp(create func(name string) error) (string, error) {
	for range 100 {
		rv.tmpSeq++
		name := rv.tmpPrefix + strconv.FormatUint(rv.tmpSeq, 10)
		err := create(name)
		if err == nil {
			return name, nil
		}
		if err != unix.EEXIST {
			return "", err
		}
	}
	return "", unix.EEXIST
}

var errNotReplaced = errors.New("exists, not replaced")

// place renames temporary entry tmp to the current entry's name, following
// the replace policy decided at its header; an entry made under its own
// name stays.
func (rv *receiver) place(tmp string) {
	c := &rv.cur
	if c.direct {
		rv.totals.Files++
		if c.first != nil {
			rv.restored(c.first)
		}
		return
	}
	if err := rv.rename(tmp); err != nil {
		unix.Unlinkat(c.dir, tmp, 0)
		if err == errNotReplaced {
			rv.warn(c.hdr.Path, err.Error())
		} else {
			rv.warnErr(c.hdr.Path, "skipped", err)
		}
		return
	}
	if c.linkTo != nil {
		// Renaming a link over another name of the same inode does
		// nothing and leaves the temporary name: remove it.
		unix.Unlinkat(c.dir, tmp, 0)
	}
	rv.totals.Files++
	if c.first != nil {
		rv.restored(c.first)
	}
}

func (rv *receiver) rename(tmp string) error {
	c := &rv.cur
	if !c.target.exists {
		return renameNoReplace(c.dir, tmp, c.name)
	}
	if c.target.dir {
		err := unix.Unlinkat(c.dir, c.name, unix.AT_REMOVEDIR)
		if err == unix.ENOTEMPTY || err == unix.EEXIST {
			return errors.New("non-empty directory not replaced")
		}
		if err != nil && err != unix.ENOENT {
			return fmt.Errorf("remove directory: %w", err)
		}
		rv.forget(string(c.hdr.Path))
	}
	return unix.Renameat(c.dir, tmp, c.dir, c.name)
}

// renameNoReplace renames tmp to name unless name exists.
func renameNoReplace(dir int, tmp, name string) error {
	err := unix.Renameat2(dir, tmp, dir, name, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS { // not supported here: link, then unlink
		if err = unix.Linkat(dir, tmp, dir, name, 0); err == nil {
			return unix.Unlinkat(dir, tmp, 0)
		}
	}
	if err == unix.EEXIST {
		return errNotReplaced
	}
	return err
}

// forget drops the cached descriptor of a removed directory or below it.
func (rv *receiver) forget(path string) {
	if c := rv.cache.path; c == path || below([]byte(c), path) {
		rv.cache.reset()
	}
	delete(rv.fresh, path) // a directory made again there is fresh again
}
