package restore

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// entry is the entry between its header and its trailer.
type entry struct {
	active bool // a header came, its trailer not yet
	hdr    datapath.FileHeader
	fd     int // temporary file being written, -1 if none
	dir    int // parent directory (the cache's descriptor)
	name   string
	tmp    string // name it was created under
	direct bool   // created under its own name in a fresh directory: no rename
	// inFresh, inClean: its parent is fresh (freshDir), and clean too.
	inFresh, inClean bool
	target           existing
	pos              int64 // next write offset
	flushed          int64 // offset up to which the file's writeback was started
	end              int64 // end of the data written
	wrote            int64 // data bytes written

	xattrs []datapath.Xattr // stored extended attributes (cloned)
	first  *linkGroup       // the hardlink group this entry starts, if any
	linkTo *linkGroup       // the group this entry is a later name of, if any
	// linkHere: the entry is a later name to link at its trailer.
	linkHere bool
	// deferred: a writer finishes the file (writers.go); buf gathers its
	// content meanwhile.
	deferred bool
	buf      []byte
	// lazy: the writer creates the file too (lazy.go); fd stays -1
	// unless it is created here after all.
	lazy bool
}

// header starts an entry.
func (rv *receiver) header(p []byte) error {
	if rv.cur.active {
		return fmt.Errorf("%w: header before the trailer of %q", ErrStream, rv.cur.hdr.Path)
	}
	if err := rv.poolState(); err != nil {
		return err
	}
	h, err := datapath.DecodeFileHeader(p)
	if err != nil {
		return err
	}
	if err := checkPath(h.Path); err != nil {
		return err
	}
	ext, err := datapath.DecodeExts(h.Ext)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrStream, h.Path, err)
	}
	if err := rv.cancelled(); err != nil {
		return err
	}
	rv.seen.Files++
	h.Path = bytes.Clone(h.Path) // the payload is reused by the next record
	h.LinkTarget = bytes.Clone(h.LinkTarget)
	h.Ext = nil
	rv.cur = entry{active: true, hdr: h, fd: -1, xattrs: cloneXattrs(ext.Xattrs)}
	if ext.Hardlink != nil {
		if err := rv.joinGroup(ext.Hardlink); err != nil {
			return err
		}
	}
	rv.leave(h.Path)
	rv.tick(h.Path)
	if rv.skipBelow != "" && below(h.Path, rv.skipBelow) {
		return nil // its records are discarded (fd < 0)
	}
	return rv.create()
}

// create creates the current entry, or skips it with a warning.
func (rv *receiver) create() error {
	h := &rv.cur.hdr
	switch h.Type {
	case datapath.TypeDir, datapath.TypeRegular, datapath.TypeSymlink,
		datapath.TypeFifo, datapath.TypeCharDev, datapath.TypeBlockDev:
	case datapath.TypeSocket:
		return nil // recorded at backup with a note; its server re-creates it
	default:
		rv.warn(h.Path, fmt.Sprintf("unsupported type %s skipped", h.Type))
		return nil
	}
	rv.settle(string(h.Path))
	dir, name, err := rv.parentOf(h.Path)
	if err != nil {
		if errors.Is(err, ErrUnsafePath) {
			return err
		}
		rv.warnErr(h.Path, "skipped", err)
		rv.skipContents()
		return nil
	}
	rv.cur.dir, rv.cur.name = dir, name
	if dir == rv.cache.fd { // not the target itself
		rv.cur.inFresh, rv.cur.inClean = rv.cache.fresh, rv.cache.clean
	}
	if rv.cur.linkTo != nil {
		rv.cur.linkHere = true // at the trailer, once no content came
		return nil
	}
	switch h.Type {
	case datapath.TypeDir:
		rv.directory()
	case datapath.TypeRegular:
		return rv.regular()
	case datapath.TypeSymlink:
		rv.symlink()
	default:
		rv.node()
	}
	return nil
}

// skipContents skips the contents of the current entry if it is a
// skipped directory.
func (rv *receiver) skipContents() {
	if rv.cur.hdr.Type == datapath.TypeDir {
		rv.skipBelow = string(rv.cur.hdr.Path)
	}
}

// trailer closes the current entry.
func (rv *receiver) trailer(p []byte) error {
	t, err := datapath.DecodeFileTrailer(p)
	if err != nil {
		return err
	}
	if !rv.cur.active {
		return fmt.Errorf("%w: trailer without a header", ErrStream)
	}
	if rv.cur.fd >= 0 || rv.cur.lazy {
		if err := rv.finishFile(&t); err != nil {
			return err // close discards the file
		}
	}
	if rv.cur.linkHere {
		if err := rv.hardlink(); err != nil {
			return err
		}
	}
	rv.cur = entry{fd: -1}
	return nil
}

// existing describes what a stored name already holds in the target.
type existing struct {
	exists, dir bool
	mtime       int64
}

// lookup reports what the current entry's name holds in the target.
func (rv *receiver) lookup() (existing, error) {
	var st unix.Stat_t
	err := unix.Fstatat(rv.cur.dir, rv.cur.name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.ENOENT {
		return existing{}, nil
	}
	if err != nil {
		return existing{}, err
	}
	return existing{exists: true, dir: st.Mode&unix.S_IFMT == unix.S_IFDIR, mtime: st.Mtim.Nano()}, nil
}

// mayReplace applies the replace policy to an existing entry; for "never"
// it warns.
func (rv *receiver) mayReplace(ex existing) bool {
	switch rv.opt.Replace {
	case ReplaceAlways:
		return true
	case ReplaceIfNewer:
		return rv.cur.hdr.Mtime > ex.mtime
	}
	rv.warn(rv.cur.hdr.Path, "exists, not replaced")
	return false
}

// decide looks up the current entry's name and decides whether to create
// it, recording what it replaces.
func (rv *receiver) decide() bool {
	ex, err := rv.lookup()
	if err != nil {
		rv.warnErr(rv.cur.hdr.Path, "skipped: lstat", err)
		return false
	}
	rv.cur.target = ex
	return !ex.exists || rv.mayReplace(ex)
}
