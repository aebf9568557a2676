package restore

import "sync/atomic"

// A small file that a writer finishes (writers.go) is created by the
// writer too, under its own name in its fresh, clean parent, with the
// parent's descriptor the writer holds: creating files one at a time is
// most of a small-file restore, and the writers create them side by side
// while the receiver reads on. The receiver only notes the name; where
// the order of the stream matters, it waits for the writers first:
//   - an entry whose path the writers create, or a parent of theirs, or
//     a path below a file they create, waits for all of them, then goes
//     the usual way (the name exists: the create fails, the replace policy
//     decides, or the walk refuses a file on the way); a name given to the
//     writers once is never given again;
//   - a directory's attributes wait for the files created in it
//     (freshDir.jobs): it is left aside (receiver.left) and its attributes
//     applied once they are finished, or before any entry at or below it;
//   - no such file starts a hardlink group, and Receive waits for the
//     writers before the totals check and the syncfs.
// A writer that cannot create its file warns, as the receiver would, and
// the file is not counted.

// lazyNames holds the stored paths of the files the writers were given
// to create since they were last all finished, and of their parents. A
// name that comes again once they are finished meets the existing file
// (freshDir.names keeps it from the writers).
type lazyNames struct {
	files, dirs map[string]struct{}
}

// noLazy makes the receiver create every file itself, as it did before
// the writers created them (for the benchmark that compares both).
var noLazy atomic.Bool

// lazyMax is how many names are noted before the receiver waits for the
// writers, and how many files the writers create in one directory: it
// bounds the memory of a directory of a million files.
const lazyMax = 8192

func (l *lazyNames) add(path, dir string) {
	if l.files == nil {
		l.files, l.dirs = make(map[string]struct{}), make(map[string]struct{})
	}
	l.files[path] = struct{}{}
	l.dirs[dir] = struct{}{}
}

func (l *lazyNames) reset() {
	clear(l.files)
	clear(l.dirs)
}

// holds reports whether creating p could meet a name the writers create:
// p is one of their files or parents, or lies below one of their files.
func (l *lazyNames) holds(p string) bool {
	if len(l.files) == 0 {
		return false
	}
	if _, ok := l.files[p]; ok {
		return true
	}
	if _, ok := l.dirs[p]; ok {
		return true
	}
	for i := range len(p) {
		if p[i] == '/' {
			if _, ok := l.files[p[:i]]; ok {
				return true
			}
		}
	}
	return false
}

// lazyCreate leaves the creation of the current regular file to the
// writer that will finish it, if it qualifies (see deferrable).
func (rv *receiver) lazyCreate() bool {
	c := &rv.cur
	if rv.pool == nil || noLazy.Load() || !c.inFresh || !c.inClean || len(c.xattrs) != 0 || c.first != nil ||
		c.hdr.Size > deferMax || c.dir != rv.cache.fd || rv.cache.f == nil {
		return false
	}
	f := rv.cache.f
	if _, again := f.names[c.name]; again || len(f.names) >= lazyMax {
		return false
	}
	if f.names == nil {
		f.names = make(map[string]struct{})
	}
	f.names[c.name] = struct{}{}
	rv.lazy.add(string(c.hdr.Path), rv.cache.path)
	c.lazy, c.direct, c.tmp = true, true, c.name
	c.deferred, c.buf = true, rv.pool.buffer()
	rv.hasher.Reset()
	return true
}

// createNow creates the current file here after all, to write the rest
// of it here; false, with a warning, if that failed.
func (rv *receiver) createNow() bool {
	c := &rv.cur
	c.lazy = false
	fd, err := createFile(c.dir, c.name)
	if err != nil {
		rv.warnErr(c.hdr.Path, "skipped: create", err)
		c.deferred, c.buf = false, nil
		return false
	}
	c.fd = fd
	return true
}

// settle is called before an entry at stored path p (or the first name
// of its hardlink group) is reached: it applies the attributes of the
// directories left whose files are finished, and waits for the writers if
// p could meet what they create or a directory whose attributes wait.
func (rv *receiver) settle(p string) {
	if rv.pool == nil {
		return
	}
	if rv.pool.busy.Load() == 0 {
		rv.lazy.reset()
	} else if rv.lazy.holds(p) || rv.leftHolds(p) || len(rv.lazy.files) >= lazyMax {
		rv.pool.drain()
		rv.lazy.reset()
	}
	rv.applyLeft()
}

// leftHolds reports whether p is, or lies below, a directory whose
// attributes wait for the writers.
func (rv *receiver) leftHolds(p string) bool {
	for _, d := range rv.left {
		if d.path == p || below([]byte(p), d.path) {
			return true
		}
	}
	return false
}

// applyLeft applies the attributes of the directories left whose files
// the writers finished, in the order they were left.
func (rv *receiver) applyLeft() {
	if len(rv.left) == 0 {
		return
	}
	keep := rv.left[:0]
	for _, d := range rv.left {
		if d.f.jobs.Load() > 0 {
			keep = append(keep, d)
			continue
		}
		rv.dirAttrs(d)
	}
	clear(rv.left[len(keep):])
	rv.left = keep
}
