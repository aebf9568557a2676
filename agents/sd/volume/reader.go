package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// source is what a Reader reads: an *os.File, or memory in fuzz tests.
type source interface {
	io.ReaderAt
	io.Closer
	Stat() (os.FileInfo, error)
}

// Reader reads a volume file without any catalog. It is not safe for
// concurrent use.
type Reader struct {
	f       source
	path    string
	name    string
	created time.Time
	buf     []byte // payload buffer, reused
	tornAt  int64
	// tornReason says what was wrong with the block at tornAt.
	tornReason string
}

// OpenReader opens the volume file at path and checks its label.
func OpenReader(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := newReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func newReader(f source, path string) (*Reader, error) {
	r := &Reader{f: f, path: path, name: filepath.Base(path), tornAt: -1}
	h, p, err := r.ReadBlockAt(0)
	if err == nil && (h.Kind != KindLabel || h.Session != 0 || h.Seq != 0) {
		err = fmt.Errorf("first block is a %s block", h.Kind)
	}
	if err == nil {
		r.name, r.created, err = decodeLabel(p)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrNotVolume, err)
	}
	return r, nil
}

// Name returns the volume name recorded in the label.
func (r *Reader) Name() string { return r.name }

// Created returns when the volume was created, from its label.
func (r *Reader) Created() time.Time { return r.created }

// TornAt returns the offset of the torn tail found by the last Sessions
// call, or -1 if the volume ended on a whole block.
func (r *Reader) TornAt() int64 { return r.tornAt }

// Close closes the volume file.
func (r *Reader) Close() error { return r.f.Close() }

func (r *Reader) size() (int64, error) {
	fi, err := r.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// payloadBuf returns the reused payload buffer sized n.
func (r *Reader) payloadBuf(n uint32) []byte {
	if uint32(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	return r.buf[:n]
}

func (r *Reader) corrupt(off int64, seq uint32, reason string) *CorruptError {
	return &CorruptError{Volume: r.name, Offset: off, Seq: seq, Reason: reason}
}

// ReadBlockAt reads and verifies the block at offset off. The payload is
// valid until the next call on r.
func (r *Reader) ReadBlockAt(off int64) (Header, []byte, error) {
	size, err := r.size()
	if err != nil {
		return Header{}, nil, err
	}
	if off < 0 || size-off < HeaderSize {
		return Header{}, nil, r.corrupt(off, 0, "no block header at this offset")
	}
	var hdr [HeaderSize]byte
	if err := readFullAt(r.f, hdr[:], off); err != nil {
		return Header{}, nil, err
	}
	h, why := inspectHeader(hdr[:], off, size)
	if why != "" {
		return h, nil, r.corrupt(off, h.Seq, why)
	}
	p, _, err := r.readPayload(hdr[:], h, off, 0)
	if err == errChecksum {
		err = r.corrupt(off, h.Seq, err.Error())
	}
	return h, p, err
}

// errChecksum is readPayload's verdict on a payload that does not match
// its header's checksum.
var errChecksum = errors.New("checksum mismatch")

// readPayload reads the payload of the block at off, whose header hdr
// (decoded: h) has been read and inspected, into the reader's payload
// buffer, together with the extra bytes that follow it in the file (more),
// and verifies it: errChecksum if it does not match.
func (r *Reader) readPayload(hdr []byte, h Header, off int64, extra int) (p, more []byte, err error) {
	buf := r.payloadBuf(h.Length + uint32(extra))
	if err := readFullAt(r.f, buf, off+HeaderSize); err != nil {
		return nil, nil, err
	}
	p = buf[:h.Length]
	if !checksumOK(hdr, p, h.CRC) {
		return nil, nil, errChecksum
	}
	return p, buf[h.Length:], nil
}

// readFullAt fills p from off; a short read is io.ErrUnexpectedEOF.
func readFullAt(f io.ReaderAt, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// SessionInfo describes one session found in a volume. Start is the offset
// of its start block, End the offset just past its last valid block (the end
// block when Complete).
type SessionInfo struct {
	ID         uint64
	Start, End int64
	Complete   bool
	Status     Status
	Totals     Totals
	StartMeta  []byte
	EndMeta    []byte
}

// Sessions scans and verifies the whole volume and returns its sessions in
// order. An unended session has Complete false. The scan stops at a torn
// tail (see TornAt). A block failing verification with valid blocks after
// it is corruption: the sessions before it are returned with a
// *CorruptError.
func (r *Reader) Sessions() ([]SessionInfo, error) {
	r.tornAt, r.tornReason = -1, ""
	sc, err := r.scan(0)
	if err != nil {
		return nil, err
	}
	if _, _, err := sc.next(); err != nil { // the label, checked at open
		return nil, r.tailOrErr(err)
	}
	var l sessionList
	for {
		off := sc.off
		h, p, err := sc.next()
		if err != nil {
			return l.out, r.tailOrErr(err)
		}
		if err := l.add(r, off, sc.off, h, p); err != nil {
			return l.out, err
		}
	}
}

// tailOrErr turns the end of a scan into Sessions' result: nil at the end
// of the file or a torn tail, the error otherwise.
func (r *Reader) tailOrErr(err error) error {
	var t *tornTail
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &t):
		r.tornAt, r.tornReason = t.off, t.reason
		return nil
	}
	return err
}

// ReadSession reads the session whose start block is at start, verifying
// every block, and calls fn for each data block in order with the block's
// position (Within 0) and payload; the payload may be reused after fn
// returns. It stops at the end block. A session without an end block yields
// an error wrapping ErrIncomplete after its data; a bad block mid-volume a
// *CorruptError; an error from fn is returned as is.
func (r *Reader) ReadSession(id uint64, start int64, fn func(pos Position, payload []byte) error) error {
	sc, err := r.scan(start)
	if err != nil {
		return err
	}
	var l sessionList
	for {
		off := sc.off
		h, p, err := sc.next()
		if err != nil {
			return r.sessionCut(id, off, err)
		}
		if done, err := r.readStep(&l, id, off, sc.off, h, p, fn); done || err != nil {
			return err
		}
	}
}

// readStep handles one block of ReadSession; done means the session ended.
func (r *Reader) readStep(l *sessionList, id uint64, off, end int64, h Header, p []byte, fn func(Position, []byte) error) (bool, error) {
	if l.out == nil && (h.Kind != KindSessionStart || h.Session != id) {
		return true, fmt.Errorf("volume %q: no start of session %d at offset %d (found %s block of session %d)", r.name, id, off, h.Kind, h.Session)
	}
	if l.out != nil && h.Kind == KindSessionStart { // the next session began
		return true, r.sessionCut(id, off, io.EOF)
	}
	if err := l.add(r, off, end, h, p); err != nil {
		return true, err
	}
	switch h.Kind {
	case KindData:
		return false, fn(Position{Block: off}, p)
	case KindSessionEnd:
		return true, nil
	}
	return false, nil
}

// sessionCut reports a session that stops before its end block at off.
func (r *Reader) sessionCut(id uint64, off int64, err error) error {
	var t *tornTail
	if errors.Is(err, io.EOF) || errors.As(err, &t) {
		return fmt.Errorf("volume %q: session %d stops at offset %d: %w", r.name, id, off, ErrIncomplete)
	}
	return err
}
