package restore

import (
	"bytes"
	"fmt"

	"github.com/zeebo/blake3"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
)

// regular starts writing the current regular file (see make).
func (rv *receiver) regular() error {
	c := &rv.cur
	if c.hdr.Size < 0 {
		return fmt.Errorf("%w: %q announces size %d", ErrStream, c.hdr.Path, c.hdr.Size)
	}
	if rv.lazyCreate() {
		return nil
	}
	fd := -1
	if !rv.make("skipped: create", func(name string) (err error) {
		fd, err = createFile(c.dir, name)
		return err
	}) {
		return nil
	}
	c.fd = fd
	rv.hasher.Reset()
	if rv.deferrable() {
		c.deferred, c.buf = true, rv.pool.buffer()
	}
	return nil
}

// createFile creates regular file name in dir, refusing an existing name.
func createFile(dir int, name string) (int, error) { return createFileMode(dir, name, 0o600) }

// createFileMode is createFile with the mode to create the file with.
func createFileMode(dir int, name string, perm uint32) (int, error) {
	return unix.Openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
}

// data writes a data record of the current file at its next offset.
func (rv *receiver) data(p []byte) error { return rv.content(datapath.KindData, p, len(p)) }

// zdata writes a zdata record's content as data does. It is decoded here,
// or by the writer that finishes the file; the content of a skipped file
// is counted, not decoded.
func (rv *receiver) zdata(p []byte) error {
	n, err := datapath.ZDataLen(p)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrStream, rv.cur.hdr.Path, err)
	}
	return rv.content(datapath.KindZData, p, n)
}

// content takes record p of kind k (data or zdata) carrying n bytes of the
// current file's content, at its next offset.
func (rv *receiver) content(k datapath.Kind, p []byte, n int) error {
	c := &rv.cur
	if !c.active || c.hdr.Type != datapath.TypeRegular {
		return fmt.Errorf("%w: data record outside a regular file", ErrStream)
	}
	if c.linkTo != nil {
		return fmt.Errorf("%w: data record for %q, a later name of a hardlink group", ErrStream, c.hdr.Path)
	}
	rv.seen.Bytes += int64(n)
	if c.fd < 0 && !c.lazy {
		return nil
	}
	if err := rv.cancelled(); err != nil {
		return err
	}
	if int64(n) > c.hdr.Size-c.pos {
		return fmt.Errorf("%w: %q: data beyond its size %d", ErrStream, c.hdr.Path, c.hdr.Size)
	}
	if c.deferred && len(c.buf)+datapath.PrefixLen+len(p) > deferMax+datapath.PrefixLen+64 {
		if err := rv.undefer(); err != nil { // records larger than their content: write them here
			return err
		}
		if c.fd < 0 { // not created after all
			return nil
		}
	}
	if c.deferred { // records from offset 0 without a hole, for the writer
		c.buf = append(datapath.AppendPrefix(c.buf, k, len(p)), p...)
	} else {
		if k == datapath.KindZData {
			out, err := rv.decode(p)
			if err != nil {
				return err
			}
			p = out
		}
		rv.hasher.Write(p)
		if err := pwriteAll(c.fd, p, c.pos); err != nil {
			return fmt.Errorf("restore: write %q: %w", c.hdr.Path, err)
		}
	}
	c.pos += int64(n)
	c.end = c.pos
	if !c.deferred && c.pos-c.flushed >= flushEvery {
		// Start the writeback of what this file has so far: the disk
		// works while the rest arrives instead of all in the final
		// syncfs, which still waits for it (and reports its errors).
		_ = unix.SyncFileRange(c.fd, c.flushed, c.pos-c.flushed, unix.SYNC_FILE_RANGE_WRITE)
		c.flushed = c.pos
	}
	c.wrote += int64(n)
	rv.totals.Bytes += int64(n)
	rv.tick(c.hdr.Path)
	return nil
}

// flushEvery is how much of a large file is written before its writeback
// is started.
const flushEvery = 8 << 20

// decode decodes zdata payload p of the current file into rv.zbuf.
func (rv *receiver) decode(p []byte) ([]byte, error) {
	out, err := decodeZData(&rv.dec, rv.zbuf, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrStream, rv.cur.hdr.Path, err)
	}
	rv.zbuf = out[:0]
	return out, nil
}

// decodeZData decodes zdata payload p into dst, making *dec at first use.
func decodeZData(dec **datapath.Decompressor, dst, p []byte) ([]byte, error) {
	if *dec == nil {
		d, err := datapath.NewDecompressor()
		if err != nil {
			return nil, err
		}
		*dec = d
	}
	return (*dec).Decode(dst, p)
}

// writeRecords writes data and zdata records recs, the content of fd from
// offset 0, hashing the content with h; it returns the bytes written.
func writeRecords(fd int, recs []byte, h *blake3.Hasher, dec **datapath.Decompressor, zbuf *[]byte) (int64, error) {
	var off int64
	err := datapath.SplitRecords(recs, func(k datapath.Kind, p, _ []byte) error {
		if k == datapath.KindZData {
			out, err := decodeZData(dec, *zbuf, p)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrStream, err)
			}
			*zbuf, p = out[:0], out
		}
		h.Write(p)
		if err := pwriteAll(fd, p, off); err != nil {
			return err
		}
		off += int64(len(p))
		return nil
	})
	return off, err
}

// hole skips a hole of the current file.
func (rv *receiver) hole(p []byte) error {
	off, n, err := datapath.DecodeHole(p)
	if err != nil {
		return err
	}
	c := &rv.cur
	if !c.active || c.hdr.Type != datapath.TypeRegular {
		return fmt.Errorf("%w: hole record outside a regular file", ErrStream)
	}
	if c.linkTo != nil {
		return fmt.Errorf("%w: hole record for %q, a later name of a hardlink group", ErrStream, c.hdr.Path)
	}
	if c.fd < 0 && !c.lazy {
		return nil
	}
	// Holes are not hashed: their place is checked instead. Data and holes
	// follow each other without gap or overlap, within the size.
	if off != c.pos || n < 0 || off > c.hdr.Size || n > c.hdr.Size-off {
		return fmt.Errorf("%w: %q: hole [%d,+%d) not at offset %d or beyond size %d", ErrStream, c.hdr.Path, off, n, c.pos, c.hdr.Size)
	}
	if c.deferred {
		if err := rv.undefer(); err != nil {
			return err
		}
		if c.fd < 0 { // not created after all
			return nil
		}
	}
	c.pos = off + n
	return nil
}

func pwriteAll(fd int, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := unix.Pwrite(fd, p, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// finishFile verifies, completes and places the current file.
func (rv *receiver) finishFile(t *datapath.FileTrailer) error {
	c := &rv.cur
	if t.Bytes != c.wrote {
		return fmt.Errorf("%w: %q: trailer counts %d bytes, %d received", ErrStream, c.hdr.Path, t.Bytes, c.wrote)
	}
	if c.deferred {
		rv.handOver(t)
		return nil
	}
	if err := rv.verify(t); err != nil {
		return err
	}
	if c.end < c.hdr.Size { // a trailing hole, announced or not
		if err := unix.Ftruncate(c.fd, c.hdr.Size); err != nil {
			return fmt.Errorf("restore: truncate %q: %w", c.hdr.Path, err)
		}
	}
	if err := rv.fdAttrs(c.fd, &c.hdr, c.xattrs, c.direct && c.inClean); err != nil {
		rv.warnErr(c.hdr.Path, "attributes", err)
	}
	fd := c.fd
	c.fd = -1
	if err := unix.Close(fd); err != nil {
		unix.Unlinkat(c.dir, c.tmp, 0)
		return fmt.Errorf("restore: close %q: %w", c.hdr.Path, err)
	}
	rv.place(c.tmp)
	return nil
}

// verify checks the content written against the trailer's sum.
func (rv *receiver) verify(t *datapath.FileTrailer) error {
	switch t.Algo {
	case datapath.AlgoBLAKE3:
		if !bytes.Equal(rv.hasher.Sum(rv.sum[:0]), t.Sum) {
			return fmt.Errorf("%w: %q", ErrChecksum, rv.cur.hdr.Path)
		}
	case datapath.AlgoNone:
	default:
		rv.warn(rv.cur.hdr.Path, fmt.Sprintf("unknown checksum algorithm %d: content not verified", t.Algo))
	}
	return nil
}

// discard removes a file left half written by a failed restore.
func (rv *receiver) discard() {
	c := &rv.cur
	if c.fd < 0 {
		return
	}
	unix.Close(c.fd)
	unix.Unlinkat(c.dir, c.tmp, 0)
	c.fd = -1
}
