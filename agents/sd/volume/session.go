package volume

import (
	"fmt"
	"math"
)

// Session is one job's stream of records being written into a volume.
type Session struct {
	v       *Volume
	id      uint64
	start   int64
	seq     uint32 // seq of the next block
	blocks  uint32 // data blocks written
	records uint64 // records added
	done    bool
}

// BeginSession writes the start block of session id (the job id, not 0)
// carrying meta. Only one session may be open on a volume at a time.
func (v *Volume) BeginSession(id uint64, meta []byte) (*Session, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.writable(); err != nil {
		return nil, err
	}
	if err := v.checkBegin(id, meta); err != nil {
		return nil, err
	}
	s := &Session{v: v, id: id, start: v.size}
	v.resetBuf()
	v.buf = append(v.buf, meta...)
	if err := v.emit(KindSessionStart, id, 0); err != nil {
		return nil, err
	}
	s.seq = 1
	v.sess = s
	return s, nil
}

func (v *Volume) checkBegin(id uint64, meta []byte) error {
	switch {
	case v.sess != nil:
		return fmt.Errorf("volume %q: %w (session %d)", v.name, ErrBusy, v.sess.id)
	case id == 0:
		return fmt.Errorf("volume %q: session id 0 is reserved", v.name)
	case len(meta) > MaxPayload:
		return fmt.Errorf("volume %q: session start meta: %w", v.name, ErrTooLarge)
	}
	return nil
}

// StartOffset returns the byte offset of the session's start block.
func (s *Session) StartOffset() int64 { return s.start }

// Add buffers a whole record (at most MaxRecord bytes; the caller may reuse
// rec afterwards) and returns where it will be: the offset of its data block
// and its offset inside that block's payload. A data block is written when
// the buffer reaches BlockTarget; a record never straddles two blocks. The
// record is durable, and its position final, once End returns nil.
func (s *Session) Add(rec []byte) (Position, error) {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := s.usable(); err != nil {
		return Position{}, err
	}
	if len(rec) > MaxRecord {
		return Position{}, fmt.Errorf("volume %q: record of %d bytes: %w", v.name, len(rec), ErrTooLarge)
	}
	if p := v.pending(); p > 0 && p+len(rec) > BlockTarget {
		if err := s.flush(); err != nil {
			return Position{}, err
		}
	}
	pos := Position{Block: v.size, Within: uint32(v.pending())}
	v.buf = append(v.buf, rec...)
	s.records++
	if v.pending() >= BlockTarget {
		if err := s.flush(); err != nil {
			return Position{}, err
		}
	}
	return pos, nil
}

// Position locates a record: Block is the byte offset of its data block in
// the volume file, Within the offset of the record inside the block payload.
type Position struct {
	Block  int64
	Within uint32
}

func (s *Session) usable() error {
	if s.done {
		return fmt.Errorf("volume %q: session %d: %w", s.v.name, s.id, ErrClosed)
	}
	return s.v.writable()
}

// flush writes the buffered records as one data block, if there are any.
func (s *Session) flush() error {
	if s.v.pending() == 0 {
		return nil
	}
	if s.seq == math.MaxUint32 {
		return fmt.Errorf("volume %q: session %d: %w: block sequence exhausted", s.v.name, s.id, ErrTooLarge)
	}
	if err := s.v.emit(KindData, s.id, s.seq); err != nil {
		return err
	}
	s.seq++
	s.blocks++
	return nil
}

// End flushes the buffered records, writes the end block with st, t and meta
// and fsyncs the volume: the session is then durable. t.DataBlocks is set by
// the session to the number of data blocks it wrote. endOffset is the offset
// just past the end block (SessionInfo.End).
func (s *Session) End(st Status, t Totals, meta []byte) (endOffset int64, err error) {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := s.usable(); err != nil {
		return 0, err
	}
	if err := s.checkEnd(st, meta); err != nil {
		return 0, err
	}
	return s.finish(st, t, meta)
}

func (s *Session) checkEnd(st Status, meta []byte) error {
	if !st.valid() {
		return fmt.Errorf("volume %q: session %d: invalid status %d", s.v.name, s.id, uint8(st))
	}
	if len(meta) > MaxPayload-endFixedSize {
		return fmt.Errorf("volume %q: session end meta: %w", s.v.name, ErrTooLarge)
	}
	return nil
}

// finish flushes, writes the end block and fsyncs. The session is over
// whatever happens.
func (s *Session) finish(st Status, t Totals, meta []byte) (int64, error) {
	v := s.v
	s.done = true
	v.sess = nil
	if err := s.flush(); err != nil {
		return 0, err
	}
	t.DataBlocks = s.blocks
	v.buf = appendEnd(v.buf[:HeaderSize], st, t, meta)
	if err := v.emit(KindSessionEnd, s.id, s.seq); err != nil {
		return 0, err
	}
	if err := v.sync(); err != nil {
		return 0, err
	}
	return v.size, nil
}

// Abort ends the session as SessionFailed with meta: it flushes, writes the
// end block (Records and DataBlocks as counted by the session) and fsyncs.
// Meta too large for an end block is dropped. Aborting an ended session does
// nothing and returns nil, so Abort can be deferred after End.
func (s *Session) Abort(meta []byte) error { return s.AbortAs(SessionFailed, meta) }

// AbortAs is Abort with the status to record: SessionFailed or
// SessionCanceled (an operator's cancel).
func (s *Session) AbortAs(st Status, meta []byte) error {
	if st != SessionCanceled {
		st = SessionFailed
	}
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	if s.done {
		return nil
	}
	if len(meta) > MaxPayload-endFixedSize {
		meta = nil
	}
	_, err := s.finish(st, Totals{Records: s.records}, meta)
	return err
}
