package restore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// Small files are finished by a pool of writers while the receiver reads
// on: a file qualifies when it was created under its own name in a fresh,
// clean directory, has no extended attributes, starts no hardlink group,
// has no hole and is at most deferMax bytes. Its records are gathered from
// the stream; at its trailer the writer gets the open file, its parent's
// descriptor and the records, and writes, verifies the sum, applies owner,
// mode and times, and closes (decoding zdata records on the way). Every
// decision that depends on order (the name, the replace policy,
// hardlinks, directories and their attributes, which file operations on an
// open file never touch) is still taken by the receiver in stream order;
// Receive waits for the writers before the totals check and the syncfs.
const (
	writers  = 4
	deferMax = 256 << 10
)

// fileJob is one file for a writer.
type fileJob struct {
	fd, dir int // the file, -1 for the writer to create; its parent, closed afterwards unless the target
	name    string
	fresh   *freshDir // the parent, if the writer creates the file
	hdr     datapath.FileHeader
	data    []byte // its data and zdata records, from offset 0
	algo    uint8
	sum     []byte
	modeSet bool // the writer created the file with its final mode (createPerm)
}

// writerPool runs the writers of one Receive.
type writerPool struct {
	root       int
	chown      bool
	umask      uint32 // the process's, when the restore began (createPerm)
	umaskKnown bool
	jobs       chan *fileJob
	free       chan []byte // content buffers for reuse
	wg         sync.WaitGroup
	failed     atomic.Bool

	busy   atomic.Int64 // files submitted and not finished
	idleMu sync.Mutex
	idle   *sync.Cond // signalled when busy drops to 0

	mu    sync.Mutex
	err   error // the first fatal error
	warns []poolWarning
	nwarn atomic.Int32
}

type poolWarning struct {
	path    []byte
	msg     string
	skipped bool // the file was not created: take it off the totals
}

func newWriterPool(root int, chown bool) *writerPool {
	p := &writerPool{root: root, chown: chown, jobs: make(chan *fileJob, 2*writers), free: make(chan []byte, 3*writers+1)}
	p.umask, p.umaskKnown = processUmask()
	p.idle = sync.NewCond(&p.idleMu)
	p.wg.Add(writers)
	for range writers {
		go p.run()
	}
	return p
}

// buffer returns an empty buffer for a file's content.
func (p *writerPool) buffer() []byte {
	select {
	case b := <-p.free:
		return b[:0]
	default:
		return make([]byte, 0, 64<<10)
	}
}

// submit hands a file to the writers; it blocks while they are busy.
func (p *writerPool) submit(j *fileJob) {
	if j.fresh != nil {
		j.fresh.jobs.Add(1)
	}
	p.busy.Add(1)
	p.jobs <- j
}

// done notes that job j is finished.
func (p *writerPool) done(j *fileJob) {
	if j.fresh != nil {
		j.fresh.jobs.Add(-1)
	}
	if p.busy.Add(-1) == 0 {
		p.idleMu.Lock()
		p.idle.Broadcast()
		p.idleMu.Unlock()
	}
}

// drain waits until every file submitted is finished.
func (p *writerPool) drain() {
	p.idleMu.Lock()
	for p.busy.Load() != 0 {
		p.idle.Wait()
	}
	p.idleMu.Unlock()
}

// wait lets the writers finish every file submitted and stops them; it
// returns the first fatal error. Later calls return the same.
func (p *writerPool) wait() error {
	if p.jobs != nil {
		close(p.jobs)
		p.wg.Wait()
		p.jobs = nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// takeWarnings returns the warnings raised since the last call.
func (p *writerPool) takeWarnings() []poolWarning {
	if p.nwarn.Load() == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.warns
	p.warns = nil
	p.nwarn.Store(0)
	return w
}

func (p *writerPool) warn(path []byte, msg string) { p.warnSkipped(path, msg, false) }

func (p *writerPool) warnSkipped(path []byte, msg string, skipped bool) {
	p.mu.Lock()
	p.warns = append(p.warns, poolWarning{path: path, msg: msg, skipped: skipped})
	p.nwarn.Add(1)
	p.mu.Unlock()
}

func (p *writerPool) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.failed.Store(true)
}

func (p *writerPool) run() {
	defer p.wg.Done()
	w := &writer{h: blake3.New()}
	defer func() {
		if w.dec != nil {
			w.dec.Close()
		}
	}()
	for j := range p.jobs {
		if p.failed.Load() {
			p.drop(j) // the restore fails: leave no half-finished file
		} else if err := p.create(j); err != nil {
			p.warnSkipped(j.hdr.Path, fmt.Sprintf("skipped: create: %v", err), true)
		} else if err := p.finish(j, w); err != nil {
			p.fail(err)
			unix.Unlinkat(j.dir, j.name, 0)
		}
		if j.dir != p.root {
			unix.Close(j.dir)
		}
		p.done(j)
		select {
		case p.free <- j.data:
		default:
		}
	}
}

// create creates the file of job j if the receiver left it to the writer:
// under its own name in its fresh parent, refusing an existing name.
func (p *writerPool) create(j *fileJob) error {
	if j.fd >= 0 {
		return nil
	}
	perm, exact := p.createPerm(j.hdr.Mode)
	fd, err := createFileMode(j.dir, j.name, perm)
	if err != nil {
		return err
	}
	j.fd, j.modeSet = fd, exact
	return nil
}

// processUmask reads the process's file mode creation mask from
// /proc/self/status without changing it (umask(2) can only be read by
// setting it, which would race with anything creating files meanwhile);
// ok is false where it cannot be read, and every file is then chmodded.
func processUmask() (mask uint32, ok bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, found := strings.CutPrefix(line, "Umask:"); found {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return uint32(m), err == nil
		}
	}
	return 0, false
}

// createPerm is the mode a writer creates a file with in a fresh, clean
// folder (no one else can reach it until its attributes are applied, and
// no default ACL changes what is created in it): its permission bits, so
// that the chmod can be left out when the umask (read when the restore
// began) keeps them all (exact), as tar does. A mode with setuid, setgid
// or sticky bits is created 0600 and set after the chown, which would
// clear them; so is every file when the umask is unknown.
func (p *writerPool) createPerm(mode uint32) (perm uint32, exact bool) {
	perm = mode & 0o777
	if !p.umaskKnown || mode&0o7000 != 0 || perm&p.umask != 0 {
		return 0o600, false
	}
	return perm, true
}

// drop closes and removes a file not finished; one not created yet is
// not created.
func (p *writerPool) drop(j *fileJob) {
	if j.fd < 0 {
		return
	}
	unix.Close(j.fd)
	unix.Unlinkat(j.dir, j.name, 0)
}

// writer is one writer's reused state.
type writer struct {
	h    *blake3.Hasher
	sum  [32]byte
	dec  *datapath.Decompressor // at its first zdata record
	zbuf []byte
}

// finish writes, verifies and completes one file as finishFile does, and
// closes it.
func (p *writerPool) finish(j *fileJob, w *writer) error {
	fd := j.fd
	path := j.hdr.Path
	w.h.Reset()
	written, err := writeRecords(fd, j.data, w.h, &w.dec, &w.zbuf)
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("restore: write %q: %w", path, err)
	}
	switch j.algo {
	case datapath.AlgoBLAKE3:
		if !bytes.Equal(w.h.Sum(w.sum[:0]), j.sum) {
			unix.Close(fd)
			return fmt.Errorf("%w: %q", ErrChecksum, path)
		}
	case datapath.AlgoNone:
	default:
		p.warn(path, fmt.Sprintf("unknown checksum algorithm %d: content not verified", j.algo))
	}
	if written < j.hdr.Size { // a trailing hole, announced or not
		if err := unix.Ftruncate(fd, j.hdr.Size); err != nil {
			unix.Close(fd)
			return fmt.Errorf("restore: truncate %q: %w", path, err)
		}
	}
	if err := basicAttrs(fd, &j.hdr, p.chown, j.modeSet); err != nil {
		p.warn(path, fmt.Sprintf("attributes: %v", err))
	}
	if err := unix.Close(fd); err != nil {
		return fmt.Errorf("restore: close %q: %w", path, err)
	}
	return nil
}

// basicAttrs applies owner (if chown), mode and times to an open file that
// has no extended attributes to set or remove: fdAttrs without them.
func basicAttrs(fd int, h *datapath.FileHeader, chown, modeSet bool) error {
	var errs []error
	mode := h.Mode & 0o7777
	if chown {
		if err := unix.Fchown(fd, int(h.UID), int(h.GID)); err != nil {
			errs = append(errs, fmt.Errorf("chown: %w", err))
			mode &^= unix.S_ISUID | unix.S_ISGID // never setuid to the wrong owner
		}
	}
	if !modeSet { // created with exactly this mode otherwise (createPerm)
		if err := unix.Fchmod(fd, mode); err != nil {
			errs = append(errs, fmt.Errorf("chmod: %w", err))
		}
	}
	ts := times(h)
	if err := futimens(fd, &ts); err != nil {
		errs = append(errs, fmt.Errorf("set times: %w", err))
	}
	return errors.Join(errs...)
}

// deferrable reports whether the current file, just created, may be
// finished by a writer.
func (rv *receiver) deferrable() bool {
	c := &rv.cur
	return rv.pool != nil && c.direct && c.inClean && len(c.xattrs) == 0 && c.first == nil &&
		c.hdr.Size <= deferMax && c.dir == rv.cache.fd
}

// undefer writes what was gathered of the current file and goes on
// writing it here (a hole came, or records larger than their content).
func (rv *receiver) undefer() error {
	c := &rv.cur
	if c.lazy && !rv.createNow() {
		return nil
	}
	c.deferred = false
	_, err := writeRecords(c.fd, c.buf, rv.hasher, &rv.dec, &rv.zbuf)
	c.buf = nil
	if err != nil {
		return fmt.Errorf("restore: write %q: %w", c.hdr.Path, err)
	}
	return nil
}

// handOver gives the current file, complete, to a writer: the file and its
// parent's descriptor go with it.
func (rv *receiver) handOver(t *datapath.FileTrailer) {
	c := &rv.cur
	j := &fileJob{fd: c.fd, dir: c.dir, name: c.name, hdr: c.hdr, data: c.buf, algo: t.Algo, sum: bytes.Clone(t.Sum)}
	if c.lazy {
		j.fresh = rv.cache.f
	}
	c.fd, c.buf, c.deferred, c.lazy = -1, nil, false, false
	rv.cache = dirCache{fd: -1} // its descriptor is the writer's now
	rv.pool.submit(j)
	rv.place(c.tmp)
}

// poolState passes the writers' warnings on and returns their first
// fatal error, if any.
func (rv *receiver) poolState() error {
	if rv.pool == nil {
		return nil
	}
	for _, w := range rv.pool.takeWarnings() {
		rv.warn(w.path, w.msg)
		if w.skipped {
			rv.totals.Files--
		}
	}
	if rv.pool.failed.Load() {
		return rv.pool.wait()
	}
	return nil
}
