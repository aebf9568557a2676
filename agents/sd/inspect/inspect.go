package inspect

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/zeebo/blake3"

	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/datapath"
)

// Options tune Volume.
type Options struct {
	// Verify recomputes the BLAKE3 checksum of every file's data records and
	// compares it with the trailer's. Without it only the byte counts are
	// checked (the blocks' CRCs are always verified).
	Verify bool
}

// ItemKind says what an Item carries.
type ItemKind uint8

// Item kinds, in the order a session yields them: a start, its files, an
// end. A corrupt block may come anywhere.
const (
	ItemSessionStart ItemKind = iota + 1
	ItemFile
	ItemSessionEnd
	ItemCorrupt
)

func (k ItemKind) String() string {
	switch k {
	case ItemSessionStart:
		return "session start"
	case ItemFile:
		return "file"
	case ItemSessionEnd:
		return "session end"
	case ItemCorrupt:
		return "corrupt block"
	}
	return fmt.Sprintf("item(%d)", uint8(k))
}

// Item is one thing found in the volume; exactly the field named by Kind is
// set. What it points to is the callback's to keep.
type Item struct {
	Kind    ItemKind
	Start   *SessionStart
	File    *File
	End     *SessionEnd
	Corrupt *volume.CorruptError
}

// SessionStart is a session's start block.
type SessionStart struct {
	ID     uint64 // session id = job id
	Offset int64  // offset of the start block
	Meta   []byte // the start block's meta (the sd writes "job=N client=NAME")
	// Lost: the start block is corrupt or missing, and Meta unknown. Offset
	// is that of the bad start block when its header still named the
	// session, else that of the first block of the session found after
	// the damage.
	Lost bool
}

// File is one file (any entry: directory, symlink, ...) of a session.
type File struct {
	Session uint64          // the job id
	Pos     volume.Position // the data block holding the file header and the header's offset in its payload

	Path       []byte // as stored: relative to the client's root, any bytes
	Type       datapath.FileType
	Mode       uint32 // permission bits plus setuid/setgid/sticky
	UID, GID   uint32
	Mtime      int64 // UTC ns
	Size       int64 // size announced in the header
	LinkTarget []byte

	Bytes     int64 // content bytes in the file's data records
	HoleBytes int64 // bytes announced by hole records

	// Trailer: the file's trailer was read and Algo, Sum, Flags and
	// TrailerBytes are its fields. A file cut off by the end of an
	// incomplete session, or by damage, has none.
	Trailer      bool
	Algo         uint8
	Sum          []byte
	Flags        uint32 // datapath.FlagChanged, datapath.FlagTruncated
	TrailerBytes int64  // content bytes the trailer counts

	// Verified: Options.Verify recomputed the BLAKE3 checksum and it
	// matches the trailer's.
	Verified bool
	// Damaged: part of the file was in a corrupt block, or its records are
	// malformed; the block is reported as corrupt separately.
	Damaged bool
	// Problems describe what is wrong with the file, if anything: a byte
	// count or checksum mismatch, a missing trailer in a session that ended
	// ok, damage. Each one other than damage is also in the error Volume
	// returns, as a *FileError. (A file cut off by the end of an incomplete,
	// failed or canceled session just has Trailer false.)
	Problems []string

	failed bool // counted in Summary.BadFiles
}

// Changed reports the trailer's changed-while-read flag.
func (f *File) Changed() bool { return f.Flags&datapath.FlagChanged != 0 }

// Truncated reports the trailer's flag for a file that shrank while read
// and was zero-padded to its announced size.
func (f *File) Truncated() bool { return f.Flags&datapath.FlagTruncated != 0 }

// SumHex returns the trailer's checksum in hex ("" without one).
func (f *File) SumHex() string { return hex.EncodeToString(f.Sum) }

// AlgoName names the trailer's checksum algorithm.
func AlgoName(a uint8) string {
	switch a {
	case datapath.AlgoNone:
		return "none"
	case datapath.AlgoBLAKE3:
		return "blake3"
	}
	return fmt.Sprintf("algo(%d)", a)
}

// SessionEnd closes a session: its end block, or the point where it stops
// without one.
type SessionEnd struct {
	ID    uint64
	Start int64 // offset of the start block (of the first block found if Lost)
	End   int64 // offset just past the end block, or past the last valid block of the session
	// Complete: the end block was read; Status, Totals and Meta are its.
	Complete bool
	Status   volume.Status
	Totals   volume.Totals
	Meta     []byte
	// What the listing counted: files closed by a trailer, content bytes
	// in data records, records and data blocks read.
	Files      int64
	Bytes      int64
	Records    uint64
	DataBlocks uint32
	// Damaged: some of the session's blocks are corrupt or missing (Lost
	// start, corrupt block, sequence gap); its counts are then partial.
	Damaged bool
	Lost    bool // the start block is missing or corrupt
	// Problems of the session as a whole (totals that disagree with the
	// data, records skipped after damage).
	Problems []string
}

// Summary describes the whole volume.
type Summary struct {
	Volume  string // name from the label
	Created time.Time
	Size    int64 // bytes in the file when the walk began

	Sessions   int   // sessions found, complete or not
	Incomplete int   // sessions without a valid end block
	Damaged    int   // sessions with corrupt or missing blocks
	Files      int64 // files listed (with or without trailer)
	Bytes      int64 // content bytes in data records
	Corrupt    int   // corrupt blocks (and blocks with malformed records)
	BadFiles   int   // files with a problem reported as a *FileError

	// TornAt is the offset of a torn tail (a bad block with nothing valid
	// after it: the last write was interrupted), -1 if the volume ends on
	// a whole block. TornReason says what is wrong with that block.
	TornAt     int64
	TornReason string
}

// FileError reports a file whose stored content fails a check.
type FileError struct {
	Volume  string
	Session uint64
	Path    []byte
	Block   int64 // offset of the data block holding the file header
	Reason  string
}

func (e *FileError) Error() string {
	return fmt.Sprintf("volume %q: session %d: file %q (header in block at offset %d): %s", e.Volume, e.Session, e.Path, e.Block, e.Reason)
}

// maxErrors bounds the errors Volume joins into its result; the rest are
// counted in the Summary and announced.
const maxErrors = 20

// Volume reads the volume file at path from start to end, verifying every
// block, and calls fn for each session start, file, session end and
// corrupt block in volume order. An error from fn stops the walk and is
// returned as is.
//
// The error is non-nil when the file is not a readable volume, and when the
// walk found corruption (*volume.CorruptError: a bad block followed by valid
// ones, a block out of place, malformed records) or a file failing a check
// (*FileError); these are joined (at most 20, then a count), after the walk
// went on as far as it could. Incomplete sessions and a torn tail are not
// errors: they are reported in the items and the Summary.
func Volume(path string, opt Options, fn func(Item) error) (Summary, error) {
	r, err := volume.OpenReader(path)
	if err != nil {
		return Summary{}, err
	}
	defer r.Close()
	f, err := os.Open(path)
	if err != nil {
		return Summary{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Summary{}, err
	}
	label, _, err := r.ReadBlockAt(0)
	if err != nil {
		return Summary{}, err
	}
	w := &walker{
		r: r, f: f, size: fi.Size(), fn: fn,
		sum: Summary{Volume: r.Name(), Created: r.Created(), Size: fi.Size(), TornAt: -1},
	}
	if opt.Verify {
		w.hasher = blake3.New()
	}
	defer func() {
		if w.dec != nil {
			w.dec.Close()
		}
	}()
	if err := w.run(volume.HeaderSize + int64(label.Length)); err != nil {
		var s stopError
		if errors.As(err, &s) {
			return w.sum, s.err
		}
		return w.sum, err
	}
	return w.sum, w.result()
}

// result joins the problems found into Volume's error.
func (w *walker) result() error {
	if len(w.errs) == 0 {
		return nil
	}
	errs := w.errs
	if w.nerrs > len(errs) {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("volume %q: and %d more problems", w.sum.Volume, w.nerrs-len(errs)))
	}
	return errors.Join(errs...)
}

// stopError carries an error from the caller's fn out of the walk.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }
func (e stopError) Unwrap() error { return e.err }
