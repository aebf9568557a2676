package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// Replace policies for an entry that already exists in the target.
const (
	ReplaceNever   = "never"   // keep the existing entry, warn
	ReplaceIfNewer = "ifnewer" // replace it if the stored mtime is newer
	ReplaceAlways  = "always"  // replace it, except a non-empty directory by a non-directory
)

// Options tune a restore.
type Options struct {
	// Replace is one of the Replace constants; "" means ReplaceNever.
	Replace string
	// Owner restores owner and group; only effective when running as root.
	Owner bool
}

// Totals counts what a restore did: entries created, replaced or (for
// directories) merged, content bytes written, warnings raised; and what
// arrived on the stream (Received, ReceivedBytes), which the director
// cross-checks with what the sd sent.
type Totals struct {
	Files, Bytes, Warnings  int64
	Received, ReceivedBytes int64
}

// Warner receives per-entry problems; path is the stored path (relative to
// the target), nil for the stream as a whole.
type Warner interface {
	Warn(path []byte, msg string)
}

// Errors wrapped by the fatal errors of Receive.
var (
	ErrUnsafePath = errors.New("restore: unsafe path")
	ErrChecksum   = errors.New("restore: checksum mismatch")
	ErrStream     = errors.New("restore: malformed stream")
)

const progressEvery = 250 * time.Millisecond

// Receive reads records from r up to the stream end and restores them under
// target, created with mode 0700 if missing. It returns what it restored
// and the stream's own totals; a difference between the entries and bytes
// received and those the stream end announces is an error. warn and
// progress may be nil. ctx is checked between entries; to interrupt a
// blocked read, close the connection under r.
func Receive(ctx context.Context, r *datapath.Reader, target string, opt Options, warn Warner, progress func(files, bytes int64, path []byte)) (Totals, datapath.StreamEnd, error) {
	if opt.Replace == "" {
		opt.Replace = ReplaceNever
	}
	if opt.Replace != ReplaceNever && opt.Replace != ReplaceIfNewer && opt.Replace != ReplaceAlways {
		return Totals{}, datapath.StreamEnd{}, fmt.Errorf("restore: unknown replace policy %q", opt.Replace)
	}
	root, err := openTarget(target)
	if err != nil {
		return Totals{}, datapath.StreamEnd{}, err
	}
	rv := newReceiver(ctx, r, root, opt, warn, progress)
	rv.pool = newWriterPool(root, rv.chown)
	defer rv.close()
	end, err := rv.run()
	t := rv.totals
	t.Received, t.ReceivedBytes = rv.seen.Files, rv.seen.Bytes
	return t, end, err
}

// openTarget creates target if needed and opens it.
func openTarget(target string) (int, error) {
	if err := os.MkdirAll(target, 0o700); err != nil {
		return -1, fmt.Errorf("restore: create target: %w", err)
	}
	fd, err := unix.Open(target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("restore: open target %s: %w", target, err)
	}
	return fd, nil
}

// receiver holds the state of one Receive.
type receiver struct {
	ctx      context.Context
	r        *datapath.Reader
	opt      Options
	chown    bool
	warner   Warner
	progress func(files, bytes int64, path []byte)

	root      int
	cache     dirCache
	made      map[string]struct{}  // directories created on the way, whose header has not come yet
	fresh     map[string]*freshDir // directories made by this restore, their attributes not applied yet
	dirs      []pendingDir         // directories whose attributes wait for the stream to leave them
	left      []pendingDir         // directories left whose attributes wait for the writers (lazy.go)
	lazy      lazyNames            // names the writers create (lazy.go)
	skipBelow string               // entries below this directory are skipped

	cur       entry
	hasher    *blake3.Hasher
	pool      *writerPool            // finishes small files (writers.go)
	dec       *datapath.Decompressor // made at the first zdata record
	zbuf      []byte                 // decoded zdata, reused
	sum       [32]byte
	tmpSeq    uint64
	tmpPrefix string // of temporary names, with the pid

	groups map[string]*linkGroup // first entries of hardlink groups in this stream, by stored path
	xnames []byte                // extended attribute names, reused

	totals Totals
	seen   datapath.StreamEnd // entries and data bytes received
	last   time.Time
}

func newReceiver(ctx context.Context, r *datapath.Reader, root int, opt Options, warn Warner, progress func(files, bytes int64, path []byte)) *receiver {
	return &receiver{
		ctx:       ctx,
		r:         r,
		opt:       opt,
		chown:     opt.Owner && os.Geteuid() == 0,
		warner:    warn,
		progress:  progress,
		root:      root,
		cache:     dirCache{fd: -1},
		made:      make(map[string]struct{}),
		fresh:     make(map[string]*freshDir),
		groups:    make(map[string]*linkGroup),
		cur:       entry{fd: -1},
		hasher:    blake3.New(),
		tmpPrefix: ".ferry-restore." + strconv.Itoa(os.Getpid()) + ".",
		last:      time.Now(),
	}
}

// run reads and applies records up to the stream end.
func (rv *receiver) run() (datapath.StreamEnd, error) {
	for {
		rec, err := rv.r.Next()
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("%w: stream ended without its end record", ErrStream)
			}
			return datapath.StreamEnd{}, err
		}
		if rec.Kind == datapath.KindStreamEnd {
			return rv.end(rec.Payload)
		}
		if err := rv.record(rec); err != nil {
			return datapath.StreamEnd{}, err
		}
	}
}

// record applies one record other than the stream end.
func (rv *receiver) record(rec datapath.Record) error {
	switch rec.Kind {
	case datapath.KindFileHeader:
		return rv.header(rec.Payload)
	case datapath.KindData:
		return rv.data(rec.Payload)
	case datapath.KindZData:
		return rv.zdata(rec.Payload)
	case datapath.KindHole:
		return rv.hole(rec.Payload)
	case datapath.KindFileTrailer:
		return rv.trailer(rec.Payload)
	case datapath.KindHeartbeat:
		return nil
	}
	return fmt.Errorf("%w: unexpected %s record", ErrStream, rec.Kind)
}

// end closes the restore at the stream end record.
func (rv *receiver) end(p []byte) (datapath.StreamEnd, error) {
	e, err := datapath.DecodeStreamEnd(p)
	if err != nil {
		return e, err
	}
	if rv.cur.active {
		return e, fmt.Errorf("%w: stream end before the trailer of %q", ErrStream, rv.cur.hdr.Path)
	}
	rv.leave(nil)
	if rv.pool != nil {
		err := rv.pool.wait()
		rv.applyLeft()
		if werr := rv.poolState(); err == nil {
			err = werr
		}
		if err != nil {
			return e, err
		}
	}
	if e.Files != rv.seen.Files || e.Bytes != rv.seen.Bytes {
		return e, fmt.Errorf("%w: received %d entries and %d bytes, the stream end announces %d and %d",
			ErrStream, rv.seen.Files, rv.seen.Bytes, e.Files, e.Bytes)
	}
	rv.report(nil)
	if err := unix.Syncfs(rv.root); err != nil {
		return e, fmt.Errorf("restore: syncfs: %w", err)
	}
	return e, nil
}

// close releases descriptors and removes a file left half written.
func (rv *receiver) close() {
	rv.discard()
	if rv.pool != nil {
		_ = rv.pool.wait()
	}
	for _, d := range rv.dirs {
		unix.Close(d.fd)
	}
	for _, d := range rv.left {
		unix.Close(d.fd)
	}
	rv.dirs, rv.left = nil, nil
	rv.cache.reset()
	unix.Close(rv.root)
	if rv.dec != nil {
		rv.dec.Close()
	}
}

func (rv *receiver) warn(path []byte, msg string) {
	rv.totals.Warnings++
	if rv.warner != nil {
		rv.warner.Warn(path, msg)
	}
}

func (rv *receiver) warnErr(path []byte, what string, err error) {
	rv.warn(path, fmt.Sprintf("%s: %v", what, err))
}

// tick reports progress if the last report is old enough.
func (rv *receiver) tick(path []byte) {
	if rv.progress == nil {
		return
	}
	if now := time.Now(); now.Sub(rv.last) >= progressEvery {
		rv.last = now
		rv.progress(rv.totals.Files, rv.totals.Bytes, path)
	}
}

func (rv *receiver) report(path []byte) {
	if rv.progress != nil {
		rv.progress(rv.totals.Files, rv.totals.Bytes, path)
	}
}

func (rv *receiver) cancelled() error {
	select {
	case <-rv.ctx.Done():
		return rv.ctx.Err()
	default:
		return nil
	}
}
