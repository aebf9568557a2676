package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// volFile is what a Volume writes to; *os.File in production, a fault
// injector in tests.
type volFile interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// Volume is a volume file open for appending. Its methods, and those of its
// Session, are safe for concurrent use, but a volume carries one session at
// a time.
type Volume struct {
	mu     sync.Mutex
	name   string
	path   string
	f      volFile
	size   int64
	err    error    // sticky: set once a write or fsync failed
	sess   *Session // the open session, if any
	closed bool
	buf    []byte // block assembly buffer: header room, then payload

	// kicked is the offset up to which writeback has been started (see
	// startWriteback).
	kicked int64
}

// Create creates the volume file dir/name (it must not exist), writes its
// label and fsyncs the file and the directory.
func Create(dir, name string) (*Volume, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	v := &Volume{name: name, path: path, f: f}
	if err := v.writeLabel(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("volume %q: sync directory: %w", name, err)
	}
	return v, nil
}

func (v *Volume) writeLabel() error {
	v.resetBuf()
	v.buf = appendLabel(v.buf, v.name, time.Now().UTC())
	if err := v.emit(KindLabel, 0, 0); err != nil {
		return err
	}
	return v.sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Name returns the volume name (also its file name).
func (v *Volume) Name() string { return v.name }

// Size returns the number of bytes written to the volume file so far.
func (v *Volume) Size() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.size
}

// Failed returns non-nil (wrapping ErrFailed and the cause) once any write
// or fsync on the volume failed. The volume then takes no further writes.
func (v *Volume) Failed() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// Close closes the volume file; closing twice returns nil. If a session is
// still open it is left without an end block (its unflushed records are
// lost) and Close returns an error wrapping ErrBusy after closing the file.
func (v *Volume) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	err := v.f.Close()
	if s := v.sess; s != nil {
		v.sess = nil
		s.done = true
		busy := fmt.Errorf("volume %q: %w: session %d closed without end block", v.name, ErrBusy, s.id)
		return errors.Join(busy, err)
	}
	return err
}

// writable reports why the volume cannot take writes, if it cannot.
func (v *Volume) writable() error {
	if v.closed {
		return fmt.Errorf("volume %q: %w", v.name, ErrClosed)
	}
	return v.err
}

func (v *Volume) fail(op string, err error) error {
	v.err = fmt.Errorf("volume %q: %s: %w (%w)", v.name, op, err, ErrFailed)
	return v.err
}

// resetBuf empties the assembly buffer, keeping room for a header.
func (v *Volume) resetBuf() {
	if v.buf == nil {
		v.buf = make([]byte, HeaderSize, HeaderSize+MaxRecord)
	}
	v.buf = v.buf[:HeaderSize]
}

// pending is the payload length currently in the assembly buffer.
func (v *Volume) pending() int { return len(v.buf) - HeaderSize }

// emit seals the block in the assembly buffer and writes it with one write
// call, then empties the buffer.
func (v *Volume) emit(kind Kind, session uint64, seq uint32) error {
	if err := v.writable(); err != nil {
		return err
	}
	sealBlock(v.buf, kind, session, seq)
	n, err := v.f.Write(v.buf)
	v.size += int64(n)
	v.buf = v.buf[:HeaderSize]
	if err != nil {
		return v.fail("write", err)
	}
	if v.size-v.kicked >= writebackEvery {
		v.startWriteback()
	}
	return nil
}

// writebackEvery is how much is written to a volume before the writeback
// of those bytes is started.
const writebackEvery = 8 << 20

// startWriteback asks the kernel to start writing what was written since
// the last call (sync_file_range SYNC_FILE_RANGE_WRITE: it does not wait
// for the disk). The disk then works while the stream still arrives,
// instead of all of it in the fsync at the end of the session, which
// still waits for every byte and reports any error. Where the call is not
// supported nothing changes but the timing.
func (v *Volume) startWriteback() {
	if f, ok := v.f.(interface{ Fd() uintptr }); ok {
		_ = unix.SyncFileRange(int(f.Fd()), v.kicked, v.size-v.kicked, unix.SYNC_FILE_RANGE_WRITE)
	}
	v.kicked = v.size
}

func (v *Volume) sync() error {
	if err := v.writable(); err != nil {
		return err
	}
	if err := v.f.Sync(); err != nil {
		return v.fail("fsync", err)
	}
	return nil
}
