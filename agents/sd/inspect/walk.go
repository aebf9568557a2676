package inspect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/zeebo/blake3"

	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/datapath"
)

// walker is the state of one Volume call.
type walker struct {
	r      *volume.Reader
	f      *os.File // for searching past a bad block
	size   int64
	fn     func(Item) error
	hasher *blake3.Hasher         // with Options.Verify
	dec    *datapath.Decompressor // with Options.Verify, at the first zdata record
	zbuf   []byte                 // decoded zdata, reused

	sum   Summary
	errs  []error // the first maxErrors problems
	nerrs int     // all problems
	sess  *session
	// resync: the walk resumed at the first valid block after a bad one;
	// that block's place in its session is not held against it (the damage
	// is reported already).
	resync bool
	chunk  []byte // search buffer
}

// fail records a problem for Volume's error.
func (w *walker) fail(err error) {
	w.nerrs++
	if len(w.errs) < maxErrors {
		w.errs = append(w.errs, err)
	}
}

func (w *walker) emit(it Item) error {
	if err := w.fn(it); err != nil {
		return stopError{err}
	}
	return nil
}

// run walks the blocks from off (just past the label) to the end.
func (w *walker) run(off int64) error {
	for off < w.size {
		h, p, err := w.r.ReadBlockAt(off)
		if err != nil {
			next, err := w.badBlock(off, h, err)
			if err != nil {
				return err
			}
			if next < 0 {
				break // torn tail
			}
			off = next
			continue
		}
		if err := w.block(off, h, p); err != nil {
			return err
		}
		off += volume.HeaderSize + int64(h.Length)
	}
	return w.closeOpen()
}

// badBlock handles a block at off that failed verification with err. It
// returns where to resume, or -1 after a torn tail.
//
// When the bad block's header still reads as the block the session expects
// next (the damage is in its payload, say), the walk jumps over it by its
// length and keeps checking the sequence strictly, so a wrong length that
// happens to land on another block cannot skip valid blocks unnoticed.
// Otherwise it resumes at the first valid block after off, and that
// block's place in its session is taken as it is.
func (w *walker) badBlock(off int64, h volume.Header, err error) (int64, error) {
	var ce *volume.CorruptError
	if !errors.As(err, &ce) {
		return -1, err
	}
	if w.plausible(h) {
		next := off + volume.HeaderSize + int64(h.Length)
		ok, err := w.validAt(next)
		if err != nil {
			return -1, err
		}
		if ok {
			return next, w.jump(off, next, h, ce)
		}
	}
	next, err := w.nextValid(off)
	if err != nil {
		return -1, err
	}
	if next < 0 {
		w.sum.TornAt, w.sum.TornReason = off, ce.Reason
		return -1, nil
	}
	if err := w.corrupt(ce); err != nil {
		return -1, err
	}
	w.resync = true
	return next, nil
}

// plausible reports whether the header of a bad block decoded and is the
// block the walk expects: a session start, or the next block of the
// current session.
func (w *walker) plausible(h volume.Header) bool {
	switch h.Kind {
	case volume.KindSessionStart:
		return h.Seq == 0 && h.Session != 0
	case volume.KindData, volume.KindSessionEnd:
		return w.sess != nil && h.Session == w.sess.id && h.Seq == w.sess.next
	}
	return false // not decoded (Kind 0), or a label
}

// jump accounts for the bad block at off, ending at next, whose header is
// plausible: its session goes on without it (a lost end block leaves the
// session open, to be closed as incomplete), or a lost start block opens
// the session it names.
func (w *walker) jump(off, next int64, h volume.Header, ce *volume.CorruptError) error {
	if h.Kind == volume.KindSessionStart {
		if err := w.closeOpen(); err != nil {
			return err
		}
		if err := w.corrupt(ce); err != nil {
			return err
		}
		return w.begin(&SessionStart{ID: h.Session, Offset: off, Lost: true}, next)
	}
	if err := w.corrupt(ce); err != nil {
		return err
	}
	w.sess.next++
	w.sess.end.End = next
	return nil
}

// corrupt reports a bad block: as an item, in the result, and as damage to
// the session it interrupts.
func (w *walker) corrupt(ce *volume.CorruptError) error {
	w.sum.Corrupt++
	w.fail(ce)
	if err := w.emit(Item{Kind: ItemCorrupt, Corrupt: ce}); err != nil {
		return err
	}
	if w.sess != nil {
		return w.sess.lose(w, fmt.Sprintf("block at offset %d is corrupt", ce.Offset))
	}
	return nil
}

// corruptAt reports a valid block that is out of place, or holds malformed
// records.
func (w *walker) corruptAt(off int64, seq uint32, reason string) error {
	return w.corrupt(&volume.CorruptError{Volume: w.sum.Volume, Offset: off, Seq: seq, Reason: reason})
}

// nextValid returns the offset of the first valid block after the bad one
// at off, or -1 if there is none (a torn tail): it tries every block magic
// after off, as volume.Reader does to tell corruption from a torn tail.
func (w *walker) nextValid(off int64) (int64, error) {
	if w.chunk == nil {
		w.chunk = make([]byte, 1<<20)
	}
	magic := []byte("FBLK")
	for pos := off + 1; w.size-pos >= volume.HeaderSize; pos += int64(len(w.chunk) - len(magic) + 1) {
		n, err := w.f.ReadAt(w.chunk, pos)
		if err != nil && !errors.Is(err, io.EOF) {
			return -1, err
		}
		buf := w.chunk[:n]
		for i := 0; ; i++ {
			j := bytes.Index(buf[i:], magic)
			if j < 0 {
				break
			}
			i += j
			ok, err := w.validAt(pos + int64(i))
			if ok || err != nil {
				return pos + int64(i), err
			}
		}
		if n < len(w.chunk) {
			break
		}
	}
	return -1, nil
}

// validAt reports whether a whole valid block starts at off.
func (w *walker) validAt(off int64) (bool, error) {
	_, _, err := w.r.ReadBlockAt(off)
	var ce *volume.CorruptError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ce):
		return false, nil
	}
	return false, err
}

// block handles one valid block.
func (w *walker) block(off int64, h volume.Header, p []byte) error {
	resync := w.resync
	w.resync = false
	end := off + volume.HeaderSize + int64(h.Length)
	switch h.Kind {
	case volume.KindLabel:
		return w.corruptAt(off, h.Seq, "label block inside the volume")
	case volume.KindSessionStart:
		if err := w.closeOpen(); err != nil {
			return err
		}
		if h.Seq != 0 {
			if err := w.corruptAt(off, h.Seq, "session start block with nonzero seq"); err != nil {
				return err
			}
		}
		return w.begin(&SessionStart{ID: h.Session, Offset: off, Meta: bytes.Clone(p)}, end)
	}
	s := w.sess
	if s == nil || s.id != h.Session {
		if !resync {
			if err := w.corruptAt(off, h.Seq, fmt.Sprintf("%s block of session %d outside its session", h.Kind, h.Session)); err != nil {
				return err
			}
		}
		if err := w.closeOpen(); err != nil {
			return err
		}
		if err := w.begin(&SessionStart{ID: h.Session, Offset: off, Lost: true}, off); err != nil {
			return err
		}
		s = w.sess
		s.next = h.Seq
	}
	if h.Seq != s.next {
		if !resync {
			if err := w.corruptAt(off, h.Seq, fmt.Sprintf("out of sequence, want seq %d", s.next)); err != nil {
				return err
			}
		}
		if err := s.lose(w, fmt.Sprintf("blocks missing before offset %d", off)); err != nil {
			return err
		}
	}
	s.next = h.Seq + 1
	s.end.End = end
	if h.Kind == volume.KindData {
		s.end.DataBlocks++
		return s.records(w, off, h.Seq, p)
	}
	return w.finish(off, h, p)
}

// begin opens a session.
func (w *walker) begin(st *SessionStart, end int64) error {
	w.sum.Sessions++
	w.sess = &session{id: st.ID, next: 1, end: SessionEnd{ID: st.ID, Start: st.Offset, End: end, Lost: st.Lost}}
	if st.Lost {
		w.sess.end.Damaged = true
		w.sess.skipping = true // it may begin in the middle of a file
	}
	return w.emit(Item{Kind: ItemSessionStart, Start: st})
}

// finish handles the end block of the current session.
func (w *walker) finish(off int64, h volume.Header, p []byte) error {
	s := w.sess
	st, t, meta, why := decodeEnd(p)
	if why != "" {
		if err := w.corruptAt(off, h.Seq, why); err != nil {
			return err
		}
		return w.closeOpen() // as incomplete
	}
	if t.DataBlocks != h.Seq-1 {
		if err := w.corruptAt(off, h.Seq, fmt.Sprintf("end block counts %d data blocks, session has %d", t.DataBlocks, h.Seq-1)); err != nil {
			return err
		}
	}
	e := &s.end
	e.Complete, e.Status, e.Totals, e.Meta = true, st, t, bytes.Clone(meta)
	return w.closeOpen()
}

// closeOpen ends the current session, if any: at its end block when
// Complete is set, else as incomplete.
func (w *walker) closeOpen() error {
	s := w.sess
	if s == nil {
		return nil
	}
	w.sess = nil
	e := &s.end
	if f := s.file; f != nil {
		s.file = nil
		// The sd ends a session ok only after whole files; a failed,
		// canceled or unended one may stop inside a file (Trailer false).
		if e.Complete && e.Status == volume.SessionOK && !e.Damaged {
			w.problem(f, "no trailer: the session ends inside the file")
		}
		if err := w.emitFile(f); err != nil {
			return err
		}
	}
	if s.skipped > 0 {
		e.Problems = append(e.Problems, fmt.Sprintf("%d records of files whose header was lost were skipped", s.skipped))
	}
	if e.Complete && !e.Damaged {
		w.checkTotals(e)
	}
	if !e.Complete {
		w.sum.Incomplete++
	}
	if e.Damaged {
		w.sum.Damaged++
	}
	return w.emit(Item{Kind: ItemSessionEnd, End: e})
}

// checkTotals compares an intact session's end block with its data, the
// way the sd counted it: records added, and for an ok session files closed
// by a trailer and content bytes.
func (w *walker) checkTotals(e *SessionEnd) {
	t := e.Totals
	var why string
	switch {
	case t.Records != e.Records:
		why = fmt.Sprintf("end block counts %d records, the data holds %d", t.Records, e.Records)
	case e.Status == volume.SessionOK && (t.Files != uint64(e.Files) || t.Bytes != uint64(e.Bytes)):
		why = fmt.Sprintf("end block counts %d files and %d bytes, the data holds %d and %d", t.Files, t.Bytes, e.Files, e.Bytes)
	default:
		return
	}
	e.Problems = append(e.Problems, why)
	w.fail(fmt.Errorf("volume %q: session %d (offsets %d-%d): %s", w.sum.Volume, e.ID, e.Start, e.End, why))
}

// decodeEnd decodes a session end payload as laid out in volume's
// format.go: status u8, files u64, bytes u64, records u64, data blocks
// u32, meta. It returns why the payload is bad, if it is.
func decodeEnd(p []byte) (volume.Status, volume.Totals, []byte, string) {
	const fixed = 1 + 8 + 8 + 8 + 4
	if len(p) < fixed {
		return 0, volume.Totals{}, nil, "short session end payload"
	}
	st := volume.Status(p[0])
	if st < volume.SessionOK || st > volume.SessionCanceled {
		return 0, volume.Totals{}, nil, fmt.Sprintf("bad session status %d", p[0])
	}
	t := volume.Totals{
		Files:      binary.LittleEndian.Uint64(p[1:]),
		Bytes:      binary.LittleEndian.Uint64(p[9:]),
		Records:    binary.LittleEndian.Uint64(p[17:]),
		DataBlocks: binary.LittleEndian.Uint32(p[25:]),
	}
	return st, t, p[fixed:], ""
}
