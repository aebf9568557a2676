package volume

import (
	"errors"
	"fmt"
)

var (
	// ErrIncomplete: a session has no end block (the writer crashed or the
	// volume was cut); the data read before it is intact.
	ErrIncomplete = errors.New("session incomplete: no end block")
	// ErrFailed: a write or fsync on the volume failed; it takes no further
	// writes, ever.
	ErrFailed = errors.New("volume failed, no further writes")
	// ErrBusy: a session is already open on the volume.
	ErrBusy = errors.New("volume busy: a session is open")
	// ErrClosed: the volume was closed or the session has ended.
	ErrClosed = errors.New("closed")
	// ErrNotVolume: the file does not start with a valid Ferry volume label.
	ErrNotVolume = errors.New("not a Ferry volume")
	// ErrTooLarge: a record or meta blob exceeds the format's limits.
	ErrTooLarge = errors.New("too large")
)

// CorruptError reports a block that fails verification in the middle of a
// volume (a torn tail is not corruption, see Reader.TornAt and OpenAppend).
type CorruptError struct {
	Volume string // volume name from the label (or file name if unreadable)
	Offset int64  // byte offset of the block in the file
	Seq    uint32 // block sequence number as stored in the header
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("volume %q: block at offset %d (seq %d): %s", e.Volume, e.Offset, e.Seq, e.Reason)
}
