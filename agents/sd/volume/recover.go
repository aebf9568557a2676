package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Recovery reports a torn or garbage tail that OpenAppend cut back: the file
// was OldSize bytes and now ends at ValidEnd, after its last whole valid
// block. The caller logs it.
type Recovery struct {
	Path     string
	ValidEnd int64
	OldSize  int64
	Reason   string // what was wrong with the first bad block
}

// OpenAppend opens the existing volume dir/name for appending. It verifies
// every block from the start; a torn or garbage tail is truncated to the
// last whole valid block and the file fsynced, which is reported in the
// non-nil *Recovery. Corruption followed by valid blocks is not repaired:
// OpenAppend returns the *CorruptError and the volume should be retired.
// A session left unended by a crash stays incomplete.
func OpenAppend(dir, name string) (*Volume, *Recovery, error) {
	if err := checkName(name); err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	v, rec, err := openAppend(f, path, name)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return v, rec, nil
}

func openAppend(f *os.File, path, name string) (*Volume, *Recovery, error) {
	r, err := newReader(f, path)
	if err != nil {
		return nil, nil, err
	}
	if r.name != name {
		return nil, nil, fmt.Errorf("%s: label names volume %q, not %q", path, r.name, name)
	}
	end, rec, err := r.validEnd()
	if err != nil {
		return nil, nil, err
	}
	if rec != nil {
		if err := cutTail(f, end); err != nil {
			return nil, nil, fmt.Errorf("%s: cut torn tail at %d: %w", path, end, err)
		}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		return nil, nil, err
	}
	return &Volume{name: name, path: path, f: f, size: end, kicked: end}, rec, nil
}

// validEnd verifies the whole volume and returns the offset after its last
// whole valid block, with a Recovery if a torn tail follows it.
func (r *Reader) validEnd() (int64, *Recovery, error) {
	size, err := r.size()
	if err != nil {
		return 0, nil, err
	}
	if _, err := r.Sessions(); err != nil {
		return 0, nil, err
	}
	if r.tornAt < 0 {
		return size, nil, nil
	}
	rec := &Recovery{Path: r.path, ValidEnd: r.tornAt, OldSize: size, Reason: r.tornReason}
	return r.tornAt, rec, nil
}

func cutTail(f *os.File, end int64) error {
	if err := f.Truncate(end); err != nil {
		return err
	}
	return f.Sync()
}

// scanChunk is how much of the file validBlockAfter searches at a time.
const scanChunk = 1 << 20

// validBlockAfter reports whether any whole valid block starts after off.
// It decides whether a bad block at off is a torn tail (nothing valid
// follows) or corruption in the middle of the volume. A false positive,
// e.g. a volume image stored inside a torn payload, errs on the safe side:
// the tail is reported as corruption, never silently cut.
func (r *Reader) validBlockAfter(off, size int64) (bool, error) {
	buf := make([]byte, min(int64(scanChunk+len(blockMagic)-1), size-off))
	for pos := off + 1; size-pos >= HeaderSize; pos += scanChunk {
		n := min(int64(len(buf)), size-pos)
		if _, err := r.f.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		found, err := r.validInChunk(buf[:n], pos, size)
		if found || err != nil {
			return found, err
		}
	}
	return false, nil
}

// validInChunk tries every block magic starting in the first scanChunk
// bytes of chunk, which begins at file offset pos.
func (r *Reader) validInChunk(chunk []byte, pos, size int64) (bool, error) {
	for i := 0; i < len(chunk) && i < scanChunk; {
		j := bytes.Index(chunk[i:], []byte(blockMagic))
		if j < 0 || i+j >= scanChunk {
			return false, nil
		}
		i += j
		var ce *CorruptError
		_, _, err := r.ReadBlockAt(pos + int64(i))
		switch {
		case err == nil:
			return true, nil
		case !errors.As(err, &ce):
			return false, err
		}
		i++
	}
	return false, nil
}
