package backup

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/zeebo/blake3"

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

// Progress receives running totals and the path in flight, at most about
// every 250 ms, and once at the end.
type Progress func(files, bytes int64, path []byte)

const progressEvery = 250 * time.Millisecond

// Send walks spec and writes every entry to w, then the stream end. Errors
// writing to w are fatal and returned wrapped with the path in flight;
// per-file problems go to warn (which may be nil) and are counted.
func Send(ctx context.Context, w *datapath.Writer, spec fileset.Spec, warn Warner, progress Progress) (Totals, error) {
	s := newSender(ctx, w, warn, progress)
	err := fileset.Walk(ctx, spec, s.entry, s.walkWarning)
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

// entry sends one walked entry.
func (s *sender) entry(e *fileset.Entry, open func() (*os.File, error)) error {
	defer s.tick(e.Header.Path)
	switch e.Header.Type {
	case datapath.TypeSocket:
		s.warn(e.Header.Path, "socket skipped")
		return nil
	case datapath.TypeRegular:
		return s.regular(&e.Header, open)
	default:
		return s.special(&e.Header)
	}
}

// special sends an entry without content: header, then an empty trailer.
func (s *sender) special(h *datapath.FileHeader) error {
	if err := s.w.Header(h); err != nil {
		return fatal(h.Path, err)
	}
	if err := s.w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoNone}); err != nil {
		return fatal(h.Path, err)
	}
	s.totals.Files++
	return nil
}

// fatal wraps a stream error with the path in flight.
func fatal(path []byte, err error) error {
	return fmt.Errorf("backup: sending %q: %w", path, err)
}
