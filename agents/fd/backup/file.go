package backup

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// regular sends a regular file. It opens the file and reads its first chunk
// before the header, so a file that cannot be read is skipped whole.
func (s *sender) regular(lh *datapath.FileHeader, open func() (*os.File, error)) error {
	f, err := open()
	if err != nil {
		s.warn(lh.Path, fmt.Sprintf("skipped: %v", err))
		return nil
	}
	defer f.Close()
	h := *lh
	var before unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &before); err != nil {
		s.warn(h.Path, fmt.Sprintf("skipped: fstat: %v", err))
		return nil
	}
	h.Size, h.Mtime = before.Size, before.Mtim.Nano() // as opened, closest to the content
	n, err := io.ReadFull(f, s.buf[:min(h.Size, datapath.MaxChunk)])
	if err != nil && !isEOF(err) {
		s.warn(h.Path, fmt.Sprintf("skipped: read: %v", err))
		return nil
	}
	if err := s.w.Header(&h); err != nil {
		return fatal(h.Path, err)
	}
	c, err := s.content(f, h.Path, h.Size, n)
	if err != nil {
		return fatal(h.Path, err)
	}
	c.checkChanged(f, &before)
	if c.problem != "" {
		s.warn(h.Path, c.problem)
	}
	t := datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: s.hasher.Sum(s.sum[:0]), Flags: c.flags, Bytes: c.sent}
	if err := s.w.Trailer(&t); err != nil {
		return fatal(h.Path, err)
	}
	s.totals.Files++
	return nil
}

// sent describes the content sent for one file.
type sent struct {
	sent    int64
	flags   uint32
	problem string // warning for the file, "" if none
}

// content sends size bytes of f, whose first n bytes are already in s.buf,
// and hashes them. A file that ends early, or fails to read, is padded
// with zeros to size. Only errors writing the stream, or ctx's, are
// returned.
func (s *sender) content(f *os.File, path []byte, size int64, n int) (sent, error) {
	var c sent
	s.hasher.Reset()
	for {
		if err := s.chunk(s.buf[:n], &c, path); err != nil {
			return c, err
		}
		want := min(size-c.sent, datapath.MaxChunk)
		if want == 0 {
			return c, nil
		}
		var err error
		n, err = io.ReadFull(f, s.buf[:want])
		if err != nil {
			if err := s.chunk(s.buf[:n], &c, path); err != nil {
				return c, err
			}
			c.problem = shrunk(err)
			return c, s.pad(&c, size, path)
		}
	}
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
	if err := s.w.Data(p); err != nil {
		return err
	}
	c.sent += int64(len(p))
	s.totals.Bytes += int64(len(p))
	s.tick(path)
	return nil
}

// pad sends zeros up to size for a file that ended early.
func (s *sender) pad(c *sent, size int64, path []byte) error {
	c.flags |= datapath.FlagTruncated | datapath.FlagChanged
	clear(s.buf)
	for c.sent < size {
		if err := s.chunk(s.buf[:min(size-c.sent, datapath.MaxChunk)], c, path); err != nil {
			return err
		}
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
func (c *sent) checkChanged(f *os.File, before *unix.Stat_t) {
	var after unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &after); err != nil {
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
