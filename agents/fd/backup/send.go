package backup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/datapath"
)

// Totals counts what a stream carried: entries sent (directories and
// symlinks too), content bytes, and warnings raised.
type Totals struct {
	Files, Bytes, Warnings int64
}

// Warner receives per-file problems; path is the absolute path on the
// client.
type Warner interface {
	Warn(path []byte, msg string)
}

// Noter is optionally implemented by a Warner to receive notes that are
// not problems (a socket recorded without content).
type Noter interface {
	Note(path []byte, msg string)
}

// SocketNote is the job log line for a socket: it is recorded (name,
// owner, mode, times) but has no content and is not re-created.
const SocketNote = "socket recorded, not restored (its server re-creates it)"

// Progress receives running totals and the path in flight, at most about
// every 250 ms, and once at the end.
type Progress func(files, bytes int64, path []byte)

const progressEvery = 250 * time.Millisecond

// Send walks spec and writes every entry to w, then the stream end. Errors
// writing to w are fatal and returned wrapped with the path in flight;
// per-file problems go to warn (which may be nil) and are counted.
func Send(ctx context.Context, w *datapath.Writer, spec fileset.Spec, warn Warner, progress Progress) (Totals, error) {
	return SendWith(ctx, w, spec, Options{}, warn, progress)
}

// Options tune a backup.
type Options struct {
	// Compression is datapath.CompressionNone ("" or "none") or
	// datapath.CompressionZstd: file content goes in zdata records where
	// a chunk shrinks. Sums and byte counts stay those of the content.
	Compression string
}

// SendWith is Send with options.
func SendWith(ctx context.Context, w *datapath.Writer, spec fileset.Spec, opt Options, warn Warner, progress Progress) (Totals, error) {
	comp, err := datapath.NewCompressor(opt.Compression)
	if err != nil {
		return Totals{}, fmt.Errorf("backup: %w", err)
	}
	pool, err := newReaderPool(opt.Compression)
	if err != nil {
		return Totals{}, fmt.Errorf("backup: %w", err)
	}
	defer pool.stop()
	s := newSender(ctx, w, warn, progress)
	s.comp, s.pool = comp, pool
	err = fileset.Walk(ctx, spec, s.entry, s.walkWarning)
	if err == nil {
		err = s.drain(0)
	}
	if err != nil {
		return s.totals, err
	}
	end := datapath.StreamEnd{Files: s.totals.Files, Bytes: s.totals.Bytes, Warnings: s.totals.Warnings}
	if err := w.End(&end); err != nil {
		return s.totals, fmt.Errorf("backup: sending stream end: %w", err)
	}
	s.report(nil)
	return s.totals, nil
}

// sender holds the state of one Send.
type sender struct {
	ctx      context.Context // checked between chunks
	w        *datapath.Writer
	warner   Warner
	progress Progress
	buf      []byte // one chunk, reused for every file
	hasher   *blake3.Hasher
	sum      [32]byte
	totals   Totals
	last     time.Time // last progress report

	pool    *readerPool // reads small files (readers.go); nil: the walk reads every file
	pending []*readJob  // files queued to the readers, in walk order, not written yet

	comp *datapath.Compressor // nil: no compression
	zbuf []byte               // a zdata payload, reused
	skip int                  // chunks of the current file to send without trying to compress

	layout layout           // data regions of the file being sent
	links  map[inode]*group // multiply-linked inodes sent, until all their names are
	groups uint64           // hardlink group ids handed out
	exts   []datapath.Ext   // extensions of the header being sent, reused
	xbuf   []byte           // encoded ExtXattrs, reused
	lbuf   []byte           // encoded ExtHardlink, reused
}

// inode identifies a file across its names.
type inode struct{ dev, ino uint64 }

// group is a hardlink group: the inode's first entry sent in this stream.
type group struct {
	id   uint64
	path []byte // stored path of the first entry
	left uint64 // names not seen yet (nlink - seen); the entry is dropped at 0
}

func newSender(ctx context.Context, w *datapath.Writer, warn Warner, progress Progress) *sender {
	return &sender{
		ctx:      ctx,
		w:        w,
		warner:   warn,
		progress: progress,
		buf:      make([]byte, datapath.MaxChunk),
		hasher:   blake3.New(),
		last:     time.Now(),
		links:    make(map[inode]*group),
	}
}

// warn counts a warning about the entry at relative path rel.
func (s *sender) warn(rel []byte, msg string) {
	s.totals.Warnings++
	if s.warner != nil {
		abs := make([]byte, 0, len(rel)+1)
		s.warner.Warn(append(append(abs, '/'), rel...), msg)
	}
}

// note passes a note that is not a problem to the Warner, if it takes notes.
func (s *sender) note(rel []byte, msg string) {
	if n, ok := s.warner.(Noter); ok {
		n.Note(append([]byte{'/'}, rel...), msg)
	}
}

// walkWarning counts a warning from the walker, which gives absolute paths.
func (s *sender) walkWarning(abs []byte, err error) {
	s.totals.Warnings++
	if s.warner != nil {
		s.warner.Warn(abs, err.Error())
	}
}

// tick reports progress if the last report is old enough.
func (s *sender) tick(path []byte) {
	if s.progress == nil {
		return
	}
	if now := time.Now(); now.Sub(s.last) >= progressEvery {
		s.last = now
		s.progress(s.totals.Files, s.totals.Bytes, path)
	}
}

// report reports progress unconditionally.
func (s *sender) report(path []byte) {
	if s.progress != nil {
		s.last = time.Now()
		s.progress(s.totals.Files, s.totals.Bytes, path)
	}
}

// entry sends one walked entry. An inode with several names (anything but
// a directory) is sent once, under the first name walked, with an
// ExtHardlink naming its group; every later name is a header that refers
// to that first entry, without content.
func (s *sender) entry(e *fileset.Entry, open func() (*os.File, error)) error {
	defer s.tick(e.Header.Path)
	h := &e.Header
	if h.Type == datapath.TypeSocket {
		s.note(h.Path, SocketNote)
	}
	var key inode
	linked := e.Nlink > 1 && h.Type != datapath.TypeDir
	if linked {
		key = inode{e.Dev, e.Ino}
		if g := s.links[key]; g != nil {
			return s.link(h, key, g)
		}
	}
	if h.Type == datapath.TypeRegular && !linked && s.pool != nil {
		f, queued, err := s.queue(e, open)
		if err != nil || queued {
			return err
		}
		if err := s.drain(0); err != nil {
			unix.Close(f.Fd)
			return err
		}
		_, err = s.sendOpen(e, f)
		return err
	}
	if err := s.drain(0); err != nil { // what comes before is written first
		return err
	}
	var sent bool
	var err error
	if h.Type == datapath.TypeRegular {
		sent, err = s.regular(e, open)
	} else {
		sent, err = s.special(e)
	}
	if err != nil || !sent || !linked {
		return err
	}
	s.groups++
	s.links[key] = &group{id: s.groups, path: bytes.Clone(h.Path), left: e.Nlink - 1}
	return nil
}

// link sends a later name of hardlink group g: a header referring to the
// group's first entry, and an empty trailer.
func (s *sender) link(h *datapath.FileHeader, key inode, g *group) error {
	s.lbuf = datapath.AppendHardlink(s.lbuf[:0], datapath.Hardlink{Group: g.id, Path: g.path})
	h.Ext = append(s.exts[:0], datapath.Ext{Tag: datapath.ExtHardlink, Data: s.lbuf})
	if err := s.w.Header(h); err != nil {
		return fatal(h.Path, err)
	}
	if err := s.w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoNone}); err != nil {
		return fatal(h.Path, err)
	}
	s.totals.Files++
	if g.left--; g.left == 0 { // every name seen: forget the inode
		delete(s.links, key)
	}
	return nil
}

// setExts sets the header's extensions: its extended attributes, and the
// start of a hardlink group if the inode has several names. The group id
// is the one entry hands out once the entry is sent.
func (s *sender) setExts(e *fileset.Entry, h *datapath.FileHeader, xs []datapath.Xattr) {
	h.Ext = s.exts[:0]
	if len(xs) > 0 {
		s.xbuf = datapath.AppendXattrs(s.xbuf[:0], xs)
		h.Ext = append(h.Ext, datapath.Ext{Tag: datapath.ExtXattrs, Data: s.xbuf})
	}
	if e.Nlink > 1 && h.Type != datapath.TypeDir {
		s.lbuf = datapath.AppendHardlink(s.lbuf[:0], datapath.Hardlink{Group: s.groups + 1})
		h.Ext = append(h.Ext, datapath.Ext{Tag: datapath.ExtHardlink, Data: s.lbuf})
	}
	s.exts = h.Ext[:0]
}

// xattrs reads the entry's extended attributes; a failure is a warning
// and the entry goes without them.
func (s *sender) xattrs(e *fileset.Entry, f *os.File) []datapath.Xattr {
	xs, err := e.Xattrs(f)
	if err != nil {
		s.warn(e.Header.Path, fmt.Sprintf("extended attributes not saved: %v", err))
		return nil
	}
	return xs
}

// xattrsFd is xattrs for a regular file open as fd.
func (s *sender) xattrsFd(e *fileset.Entry, fd int) []datapath.Xattr {
	xs, err := e.XattrsFd(fd)
	if err != nil {
		s.warn(e.Header.Path, fmt.Sprintf("extended attributes not saved: %v", err))
		return nil
	}
	return xs
}

// special sends an entry without content: header, then an empty trailer.
func (s *sender) special(e *fileset.Entry) (bool, error) {
	h := &e.Header
	s.setExts(e, h, s.xattrs(e, nil))
	if err := s.w.Header(h); err != nil {
		return false, fatal(h.Path, err)
	}
	if err := s.w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoNone}); err != nil {
		return false, fatal(h.Path, err)
	}
	s.totals.Files++
	return true, nil
}

// fatal wraps a stream error with the path in flight.
func fatal(path []byte, err error) error {
	return fmt.Errorf("backup: sending %q: %w", path, err)
}
