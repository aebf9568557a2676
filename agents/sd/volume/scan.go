package volume

import (
	"encoding/binary"
	"fmt"
	"io"
)

// scanner reads and verifies blocks sequentially, one read per block:
// the payload together with the header of the block after it, straight
// into the reader's payload buffer (no copy through a read buffer).
type scanner struct {
	r         *Reader
	off, size int64
	hdr       [HeaderSize]byte
	ahead     bool // hdr holds the header at off, read with the last payload
}

// tornTail is a bad block with no valid block after it: the tail of the
// file was cut or scribbled by a crash.
type tornTail struct {
	off    int64
	reason string
}

func (t *tornTail) Error() string {
	return fmt.Sprintf("torn tail at offset %d: %s", t.off, t.reason)
}

// scan starts a sequential scan at off.
func (r *Reader) scan(off int64) (*scanner, error) {
	size, err := r.size()
	if err != nil {
		return nil, err
	}
	if off < 0 || off > size {
		return nil, fmt.Errorf("volume %q: offset %d outside volume of %d bytes", r.name, off, size)
	}
	return &scanner{r: r, off: off, size: size}, nil
}

// next returns the next verified block. It returns io.EOF at the end of the
// file, a *tornTail for a bad block ending the file and a *CorruptError for
// a bad block followed by valid ones. After an error the scan is over.
func (s *scanner) next() (Header, []byte, error) {
	if s.off == s.size {
		return Header{}, nil, io.EOF
	}
	if s.size-s.off < HeaderSize {
		return Header{}, nil, s.bad(0, "truncated block header")
	}
	if !s.ahead {
		if err := readFullAt(s.r.f, s.hdr[:], s.off); err != nil {
			return Header{}, nil, err
		}
	}
	s.ahead = false
	h, why := inspectHeader(s.hdr[:], s.off, s.size)
	if why != "" {
		return h, nil, s.bad(h.Seq, why)
	}
	end := s.off + HeaderSize + int64(h.Length)
	next := min(HeaderSize, s.size-end) // the next block's header, where the file holds one
	p, more, err := s.r.readPayload(s.hdr[:], h, s.off, int(next))
	if err == errChecksum {
		return h, nil, s.bad(h.Seq, err.Error())
	}
	if err != nil {
		return h, nil, err
	}
	if len(more) == HeaderSize {
		copy(s.hdr[:], more)
		s.ahead = true
	}
	s.off = end
	return h, p, nil
}

// bad classifies the bad block at s.off as a torn tail or corruption.
func (s *scanner) bad(seq uint32, reason string) error {
	valid, err := s.r.validBlockAfter(s.off, s.size)
	switch {
	case err != nil:
		return err
	case valid:
		return s.r.corrupt(s.off, seq, reason)
	}
	return &tornTail{off: s.off, reason: reason}
}

// inspectHeader decodes the header of the block at off in a file of size
// bytes and says what is wrong with it, if anything. A bad header still
// carries the seq field as stored.
func inspectHeader(hdr []byte, off, size int64) (Header, string) {
	h, err := DecodeHeader(hdr)
	switch {
	case err != nil:
		return Header{Seq: binary.LittleEndian.Uint32(hdr[16:])}, err.Error()
	case int64(h.Length) > size-off-HeaderSize:
		return h, "payload extends past end of volume"
	}
	return h, ""
}

// sessionList rebuilds sessions from a stream of verified blocks and checks
// their structure.
type sessionList struct {
	out  []SessionInfo
	open bool   // the last session in out has no end block yet
	next uint32 // expected seq of its next block
}

func (l *sessionList) add(r *Reader, off, end int64, h Header, p []byte) error {
	if h.Kind == KindSessionStart {
		return l.start(r, off, end, h, p)
	}
	if h.Kind == KindLabel {
		return r.corrupt(off, h.Seq, "label block inside the volume")
	}
	if !l.open || l.cur().ID != h.Session {
		return r.corrupt(off, h.Seq, fmt.Sprintf("%s block of session %d outside its session", h.Kind, h.Session))
	}
	if h.Seq != l.next {
		return r.corrupt(off, h.Seq, fmt.Sprintf("out of sequence, want seq %d", l.next))
	}
	l.cur().End = end
	l.next++
	if h.Kind == KindSessionEnd {
		return l.end(r, off, h, p)
	}
	return nil
}

func (l *sessionList) cur() *SessionInfo { return &l.out[len(l.out)-1] }

func (l *sessionList) start(r *Reader, off, end int64, h Header, p []byte) error {
	if h.Seq != 0 {
		return r.corrupt(off, h.Seq, "session start block with nonzero seq")
	}
	l.out = append(l.out, SessionInfo{ID: h.Session, Start: off, End: end, StartMeta: clone(p)})
	l.open, l.next = true, 1
	return nil
}

func (l *sessionList) end(r *Reader, off int64, h Header, p []byte) error {
	st, t, meta, err := decodeEnd(p)
	if err != nil {
		return r.corrupt(off, h.Seq, err.Error())
	}
	if t.DataBlocks != h.Seq-1 {
		return r.corrupt(off, h.Seq, fmt.Sprintf("end block counts %d data blocks, session has %d", t.DataBlocks, h.Seq-1))
	}
	c := l.cur()
	c.Complete, c.Status, c.Totals, c.EndMeta = true, st, t, clone(meta)
	l.open = false
	return nil
}

func clone(b []byte) []byte { return append([]byte{}, b...) }
