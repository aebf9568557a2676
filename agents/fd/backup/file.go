package backup

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/datapath"
)

// regular sends a regular file. It opens the file and reads its first chunk
// of data before the header, so a file that cannot be read is skipped
// whole; sent reports whether it was sent.
//
// The content goes region by region as the file system reports them
// (SEEK_DATA/SEEK_HOLE on the open file): a hole record for every hole,
// a trailing one included, data records for the data in between, all in
// offset order. Only what the file system reports as a hole is one: a file
// of zeros that is allocated stays data. Where holes cannot be asked for,
// or the file's allocated blocks cover its size (st_blocks*512 >= size,
// as for nearly every file), the whole file is data without asking. The trailer's sum is BLAKE3 over the data
// payloads in order, its Bytes their total; holes are not hashed.
func (s *sender) regular(e *fileset.Entry, open func() (*os.File, error)) (bool, error) {
	f, err := openRegular(e, open)
	if err != nil {
		s.warn(e.Header.Path, fmt.Sprintf("skipped: %v", err))
		return false, nil
	}
	return s.sendOpen(e, f)
}

// sendOpen is regular for a file already open; it closes it.
func (s *sender) sendOpen(e *fileset.Entry, f fileset.File) (bool, error) {
	defer unix.Close(f.Fd)
	h := e.Header
	var err error
	before := &f.Stat
	h.Size, h.Mtime = before.Size, before.Mtim.Nano() // as opened, closest to the content
	s.layout.reset(f.Fd, h.Size)
	if before.Blocks*512 >= h.Size {
		s.layout.dense = true // allocated throughout: no hole to ask for
	}
	start, end := s.layout.next(0)
	n := 0
	if start < h.Size {
		n, err = readAt(f.Fd, s.buf[:min(end-start, datapath.MaxChunk)], start)
		if err != nil && !isEOF(err) {
			s.warn(h.Path, fmt.Sprintf("skipped: read: %v", err))
			return false, nil
		}
	}
	s.setExts(e, &h, s.xattrsFd(e, f.Fd))
	if err := s.w.Header(&h); err != nil {
		return false, fatal(h.Path, err)
	}
	c, err := s.content(f.Fd, h.Path, h.Size, start, end, n)
	if err != nil {
		return false, fatal(h.Path, err)
	}
	c.checkChanged(f.Fd, before)
	if c.problem != "" {
		s.warn(h.Path, c.problem)
	}
	t := datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: s.hasher.Sum(s.sum[:0]), Flags: c.flags, Bytes: c.sent}
	if err := s.w.Trailer(&t); err != nil {
		return false, fatal(h.Path, err)
	}
	s.totals.Files++
	return true, nil
}

// openRegular opens a regular file through the walker (two system calls)
// or, for an entry built by hand, through its open function.
func openRegular(e *fileset.Entry, open func() (*os.File, error)) (fileset.File, error) {
	f, err := e.OpenFile()
	if err != fileset.ErrNoWalker {
		return f, err
	}
	osf, err := open()
	if err != nil {
		return f, err
	}
	defer osf.Close()
	if f.Fd, err = unix.Dup(int(osf.Fd())); err != nil {
		return f, err
	}
	if err := unix.Fstat(f.Fd, &f.Stat); err != nil {
		unix.Close(f.Fd)
		f.Fd = -1
		return f, fmt.Errorf("fstat: %w", err)
	}
	return f, nil
}

// readAt reads len(p) bytes at off, as os.File.ReadAt: fewer only at the
// end of the file (io.EOF) or on an error.
func readAt(fd int, p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Pread(fd, p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// layout finds the data regions of an open file with SEEK_DATA and
// SEEK_HOLE, or reports the whole file as data where the file system
// cannot tell.
type layout struct {
	fd    int
	size  int64 // announced size: regions are cut to it
	dense bool
}

func (l *layout) reset(fd int, size int64) { *l = layout{fd: fd, size: size} }

// next returns the first data region at or after off, [start, end), cut
// to the announced size; start == size when only a hole is left.
func (l *layout) next(off int64) (start, end int64) {
	if off >= l.size {
		return l.size, l.size
	}
	if l.dense {
		return off, l.size
	}
	start, err := unix.Seek(l.fd, off, unix.SEEK_DATA)
	if err == unix.ENXIO { // no data after off (or the file shrank below it)
		return l.size, l.size
	}
	if err != nil { // holes unsupported here: all data
		l.dense = true
		return off, l.size
	}
	if start >= l.size {
		return l.size, l.size
	}
	end, err = unix.Seek(l.fd, start, unix.SEEK_HOLE)
	if err != nil || end > l.size {
		end = l.size
	}
	if end <= start { // shrank between the two calls: ask again next time
		end = min(start+1, l.size)
	}
	return start, end
}

// sent describes the content sent for one file.
type sent struct {
	sent    int64 // data bytes
	flags   uint32
	problem string // warning for the file, "" if none
}

// content sends the content of f up to size and hashes its data: from
// offset 0, a hole record up to each data region, then the region in data
// records. [start, end) is the first data region (start == size: none),
// whose first n bytes are already in s.buf. A file that ends early, or
// fails to read, is padded with zeros to size. Only errors writing the
// stream, or ctx's, are returned.
func (s *sender) content(fd int, path []byte, size, start, end int64, n int) (sent, error) {
	var c sent
	s.hasher.Reset()
	s.skip = 0
	off := int64(0)
	for {
		if start > off {
			if start == size {
				s.shrankTo(fd, off, size, &c)
			}
			if err := s.hole(off, start-off); err != nil {
				return c, err
			}
			off = start
		}
		if off >= size {
			return c, nil
		}
		if err := s.chunk(s.buf[:n], &c, path); err != nil {
			return c, err
		}
		off += int64(n)
		for off < end {
			want := min(end-off, datapath.MaxChunk)
			n, err := readAt(fd, s.buf[:want], off)
			if err := s.chunk(s.buf[:n], &c, path); err != nil {
				return c, err
			}
			off += int64(n)
			if int64(n) < want {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				c.problem = shrunk(err)
				return c, s.pad(&c, off, size, path)
			}
		}
		start, end = s.layout.next(off)
		n = 0
	}
}

// shrankTo flags a file that now ends before its announced size, when
// the rest from off is about to go as a hole: the file shrank while read.
func (s *sender) shrankTo(fd int, off, size int64, c *sent) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Size >= size {
		return
	}
	c.flags |= datapath.FlagTruncated | datapath.FlagChanged
	c.problem = shrunk(io.EOF)
}

// hole sends a hole record.
func (s *sender) hole(off, n int64) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	return s.w.Hole(off, n)
}

// chunk hashes and sends one chunk of content.
func (s *sender) chunk(p []byte, c *sent, path []byte) error {
	if len(p) == 0 {
		return nil
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	s.hasher.Write(p)
	if err := s.put(p); err != nil {
		return err
	}
	first := c.sent == 0
	c.sent += int64(len(p))
	s.totals.Bytes += int64(len(p))
	if first {
		s.report(path) // a file's first data is always reported: a blocked socket must not hide where the job stands
	} else {
		s.tick(path)
	}
	return nil
}

// put writes content p (at most MaxChunk bytes) as a data record, or as a
// zdata record when compression is on and p shrinks. After a chunk that
// does not shrink, the next skipChunks chunks of the same file go as they
// are without trying: random data costs a try every few MiB.
func (s *sender) put(p []byte) error {
	if s.comp == nil || s.skip > 0 {
		s.skip = max(s.skip-1, 0)
		return s.w.Data(p)
	}
	z, ok := s.comp.AppendZData(s.zbuf[:0], p)
	if !ok {
		s.skip = skipChunks
		return s.w.Data(p)
	}
	s.zbuf = z
	return s.w.ZData(z)
}

// skipChunks is how many chunks of a file go uncompressed, untried, after
// one that did not shrink.
const skipChunks = 7

// pad sends zeros from off up to size for a file that ended early.
func (s *sender) pad(c *sent, off, size int64, path []byte) error {
	c.flags |= datapath.FlagTruncated | datapath.FlagChanged
	clear(s.buf)
	for off < size {
		n := min(size-off, datapath.MaxChunk)
		if err := s.chunk(s.buf[:n], c, path); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// shrunk words the warning for a file that ended early with err.
func shrunk(err error) string {
	if isEOF(err) {
		return "file shrank while read: zero-padded to its announced size"
	}
	return fmt.Sprintf("read: %v: zero-padded to its announced size", err)
}

// checkChanged flags a file whose size or mtime changed while it was read.
func (c *sent) checkChanged(fd int, before *unix.Stat_t) {
	var after unix.Stat_t
	if err := unix.Fstat(fd, &after); err != nil {
		after.Size = -1
	}
	if after.Size == before.Size && after.Mtim == before.Mtim {
		return
	}
	c.flags |= datapath.FlagChanged
	if c.problem == "" {
		c.problem = "file changed while read"
	}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
