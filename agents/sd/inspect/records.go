package inspect

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/datapath"
)

// session is the session being walked.
type session struct {
	id   uint64
	next uint32     // expected seq of its next block
	end  SessionEnd // counted as the walk goes, emitted at the end
	file *File      // the open file: header read, no trailer yet
	// skipping: records were lost (damage); data, hole and trailer records
	// are skipped until the next file header.
	skipping bool
	skipped  int
	sum      [32]byte
}

// records decodes the records of one data block of the session.
func (s *session) records(w *walker, off int64, seq uint32, p []byte) error {
	within := 0
	err := datapath.SplitRecords(p, func(k datapath.Kind, payload, raw []byte) error {
		pos := volume.Position{Block: off, Within: uint32(within)}
		within += len(raw)
		return s.record(w, pos, seq, k, payload)
	})
	var stop stopError
	if err == nil || errors.As(err, &stop) {
		return err
	}
	// Bad framing: the rest of the block cannot be read.
	return w.corruptAt(off, seq, fmt.Sprintf("record at payload offset %d: %v", within, err))
}

// record handles one record at pos.
func (s *session) record(w *walker, pos volume.Position, seq uint32, k datapath.Kind, p []byte) error {
	s.end.Records++
	bad := func(why string) error {
		return w.corruptAt(pos.Block, seq, fmt.Sprintf("record at payload offset %d: %s", pos.Within, why))
	}
	switch k {
	case datapath.KindHeartbeat, datapath.KindStreamEnd:
		return nil // the sd does not store them; harmless if present
	case datapath.KindFileHeader:
		return s.header(w, pos, p, bad)
	case datapath.KindData, datapath.KindZData, datapath.KindHole, datapath.KindFileTrailer:
		if s.file == nil {
			if s.skipping {
				s.skipped++
				return nil
			}
			return bad(fmt.Sprintf("%s record outside a file", k))
		}
	default:
		return bad(fmt.Sprintf("unknown record kind %d", uint8(k)))
	}
	f := s.file
	switch k {
	case datapath.KindData:
		n := int64(len(p))
		f.Bytes += n
		s.end.Bytes += n
		w.sum.Bytes += n
		if w.hasher != nil {
			w.hasher.Write(p)
		}
	case datapath.KindZData:
		n, err := datapath.ZDataLen(p)
		if err != nil {
			return bad(err.Error())
		}
		f.Bytes += int64(n)
		s.end.Bytes += int64(n)
		w.sum.Bytes += int64(n)
		if w.hasher != nil {
			return w.hashZData(f, p)
		}
	case datapath.KindHole:
		_, n, err := datapath.DecodeHole(p)
		if err != nil {
			return bad(err.Error())
		}
		f.HoleBytes += n
	case datapath.KindFileTrailer:
		t, err := datapath.DecodeFileTrailer(p)
		if err != nil {
			return bad(err.Error())
		}
		return s.trailer(w, &t)
	}
	return nil
}

// hashZData decodes a zdata record and hashes its content; content that
// does not decode is a problem of the file (its sum will not match).
func (w *walker) hashZData(f *File, p []byte) error {
	if w.dec == nil {
		dec, err := datapath.NewDecompressor()
		if err != nil {
			return err
		}
		w.dec = dec
	}
	out, err := w.dec.Decode(w.zbuf, p)
	if err != nil {
		w.problem(f, fmt.Sprintf("compressed data does not decode: %v", err))
		return nil
	}
	w.zbuf = out[:0]
	w.hasher.Write(out)
	return nil
}

// header opens a file.
func (s *session) header(w *walker, pos volume.Position, p []byte, bad func(string) error) error {
	if prev := s.file; prev != nil {
		s.file = nil
		w.problem(prev, "no trailer before the next file's header")
		if err := w.emitFile(prev); err != nil {
			return err
		}
	}
	s.skipping = false
	h, err := datapath.DecodeFileHeader(p)
	if err != nil {
		return bad(err.Error())
	}
	s.file = &File{
		Session: s.id, Pos: pos,
		Path: bytes.Clone(h.Path), Type: h.Type, Mode: h.Mode, UID: h.UID, GID: h.GID,
		Mtime: h.Mtime, Size: h.Size, LinkTarget: bytes.Clone(h.LinkTarget),
	}
	if w.hasher != nil {
		w.hasher.Reset()
	}
	return nil
}

// trailer closes the open file and checks its content.
func (s *session) trailer(w *walker, t *datapath.FileTrailer) error {
	f := s.file
	s.file = nil
	f.Trailer, f.Algo, f.Sum, f.Flags, f.TrailerBytes = true, t.Algo, bytes.Clone(t.Sum), t.Flags, t.Bytes
	s.end.Files++
	if t.Bytes != f.Bytes {
		w.problem(f, fmt.Sprintf("trailer counts %d content bytes, the data records hold %d", t.Bytes, f.Bytes))
	}
	if f.Bytes > 0 && f.Type != datapath.TypeRegular {
		w.problem(f, fmt.Sprintf("%d content bytes in a %s entry", f.Bytes, f.Type))
	} else if f.Bytes > f.Size {
		w.problem(f, fmt.Sprintf("the data records hold %d bytes, more than the announced size %d", f.Bytes, f.Size))
	}
	if w.hasher != nil && t.Algo == datapath.AlgoBLAKE3 {
		got := w.hasher.Sum(s.sum[:0])
		if bytes.Equal(got, t.Sum) {
			f.Verified = true
		} else {
			w.problem(f, fmt.Sprintf("checksum mismatch: trailer has blake3 %s, the data records hash to %s", hex.EncodeToString(t.Sum), hex.EncodeToString(got)))
		}
	}
	return w.emitFile(f)
}

// lose marks the session damaged after lost or unreadable records: the
// open file is listed as damaged, and records are skipped up to the next
// file header.
func (s *session) lose(w *walker, why string) error {
	s.end.Damaged = true
	s.skipping = true
	f := s.file
	if f == nil {
		return nil
	}
	s.file = nil
	f.Damaged = true
	f.Problems = append(f.Problems, "content lost: "+why)
	return w.emitFile(f)
}

// problem records a check f fails, as a *FileError in the result.
func (w *walker) problem(f *File, reason string) {
	f.Problems = append(f.Problems, reason)
	if !f.failed {
		f.failed = true
		w.sum.BadFiles++
	}
	w.fail(&FileError{Volume: w.sum.Volume, Session: f.Session, Path: f.Path, Block: f.Pos.Block, Reason: reason})
}

func (w *walker) emitFile(f *File) error {
	w.sum.Files++
	return w.emit(Item{Kind: ItemFile, File: f})
}
