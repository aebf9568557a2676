package restore

import (
	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// pendingDir is a directory whose attributes are applied when the stream
// leaves it.
type pendingDir struct {
	path   string
	hdr    datapath.FileHeader
	xattrs []datapath.Xattr
	fd     int
	f      *freshDir // if made by this restore: the writers may create in it
}

// directory creates (or reuses) the current directory entry with mode 0700
// and queues its attributes.
func (rv *receiver) directory() {
	c := &rv.cur
	if c.inFresh { // nothing predates the restore here: no need to look first
		err := unix.Mkdirat(c.dir, c.name, 0o700)
		if err == nil {
			rv.totals.Files++
			rv.queueDir(true)
			return
		}
		if err != unix.EEXIST {
			rv.warnErr(c.hdr.Path, "skipped: mkdir", err)
			rv.skipContents()
			return
		}
	}
	ex, err := rv.lookup()
	if err != nil {
		rv.warnErr(c.hdr.Path, "skipped: lstat", err)
		rv.skipContents()
		return
	}
	if ex.exists && !ex.dir {
		if !rv.mayReplace(ex) {
			rv.skipContents()
			return
		}
		if err := unix.Unlinkat(c.dir, c.name, 0); err != nil {
			rv.warnErr(c.hdr.Path, "skipped: remove existing entry", err)
			rv.skipContents()
			return
		}
		ex = existing{}
	}
	if !ex.exists {
		if err := unix.Mkdirat(c.dir, c.name, 0o700); err != nil {
			rv.warnErr(c.hdr.Path, "skipped: mkdir", err)
			rv.skipContents()
			return
		}
	}
	rv.totals.Files++
	if ex.exists && !rv.reapply(ex) {
		return
	}
	rv.queueDir(!ex.exists)
}

// reapply reports whether an existing directory takes the stored
// attributes: yes if this restore created it on the way, else per policy.
func (rv *receiver) reapply(ex existing) bool {
	path := string(rv.cur.hdr.Path)
	if _, ok := rv.made[path]; ok {
		delete(rv.made, path)
		return true
	}
	switch rv.opt.Replace {
	case ReplaceAlways:
		return true
	case ReplaceIfNewer:
		return rv.cur.hdr.Mtime > ex.mtime
	}
	return false
}

// queueDir opens the current directory and keeps it until the stream
// leaves it; made says this restore just made it.
func (rv *receiver) queueDir(made bool) {
	c := &rv.cur
	fd, err := unix.Openat(c.dir, c.name, dirFlags, 0)
	if err != nil {
		rv.warnErr(c.hdr.Path, "attributes not restored: open", err)
		return
	}
	path := string(c.hdr.Path)
	if made {
		rv.markFresh(path, fd)
	}
	rv.dirs = append(rv.dirs, pendingDir{path: path, hdr: c.hdr, xattrs: c.xattrs, fd: fd, f: rv.fresh[path]})
}

// leave applies the attributes of the queued directories that p is not
// below, deepest first; p == nil leaves them all. A directory the writers
// still create files in waits for them (lazy.go).
func (rv *receiver) leave(p []byte) {
	if rv.skipBelow != "" && (p == nil || !below(p, rv.skipBelow)) {
		rv.skipBelow = ""
	}
	for n := len(rv.dirs); n > 0; n-- {
		d := rv.dirs[n-1]
		if p != nil && below(p, d.path) {
			return
		}
		rv.dirs = rv.dirs[:n-1]
		rv.settled(d.path)
		if d.f != nil {
			d.f.names = nil
		}
		if d.f != nil && d.f.jobs.Load() > 0 {
			rv.left = append(rv.left, d)
			continue
		}
		rv.dirAttrs(d)
	}
}

// dirAttrs applies the attributes of queued directory d and closes it.
func (rv *receiver) dirAttrs(d pendingDir) {
	if err := rv.fdAttrs(d.fd, &d.hdr, d.xattrs, false); err != nil {
		rv.warnErr(d.hdr.Path, "attributes", err)
	}
	unix.Close(d.fd)
}

// settled notes that directory path takes its stored attributes: it is no
// longer fresh (its mode may let others in, its default ACL is the stored
// one), should the stream come back to it.
func (rv *receiver) settled(path string) {
	delete(rv.fresh, path)
	if rv.cache.path == path {
		rv.cache.fresh, rv.cache.clean = false, false
	}
}
