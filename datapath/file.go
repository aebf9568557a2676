package datapath

import (
	"encoding/binary"
	"fmt"
)

// FileType is the type of a stored entry. Values are stored: never renumber.
type FileType uint8

// Entry types.
const (
	TypeRegular  FileType = 1
	TypeDir      FileType = 2
	TypeSymlink  FileType = 3
	TypeFifo     FileType = 4
	TypeCharDev  FileType = 5
	TypeBlockDev FileType = 6
	TypeSocket   FileType = 7
)

func (t FileType) String() string {
	names := [...]string{"unknown", "file", "dir", "symlink", "fifo", "chardev", "blockdev", "socket"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Checksum algorithms. Values are stored: never renumber.
const (
	AlgoNone   uint8 = 0
	AlgoBLAKE3 uint8 = 1 // BLAKE3-256
)

// File flags carried in the trailer.
const (
	FlagChanged   uint32 = 1 << 0 // the file changed while it was read
	FlagTruncated uint32 = 1 << 1 // the file shrank while read: zero-padded to the announced size
)

// FileHeader is a file's metadata. Path is relative to the client's root
// (no leading '/'); LinkTarget is stored as read, never interpreted.
type FileHeader struct {
	Path       []byte
	Type       FileType
	Mode       uint32 // permission bits plus setuid/setgid/sticky (07777)
	UID, GID   uint32
	Mtime      int64 // UTC ns
	Atime      int64 // UTC ns
	Size       int64
	Rdev       uint64
	LinkTarget []byte
	// Ext holds tagged extensions: the known tags are defined, with their
	// encodings, in ext.go (ExtXattrs, ExtHardlink; DecodeExts). Unknown
	// tags are kept and skipped, so old readers read new streams.
	Ext []Ext
}

// Ext is a tagged extension of a FileHeader.
type Ext struct {
	Tag  uint64
	Data []byte
}

// FileTrailer closes a file.
type FileTrailer struct {
	Algo  uint8
	Sum   []byte
	Flags uint32
	Bytes int64 // content bytes sent for the file
}

// StreamEnd closes a stream with its totals.
type StreamEnd struct {
	Files, Bytes, Warnings int64
}

const headerFixed = 1 + 4 + 4 + 4 + 8 + 8 + 8 + 8 // type mode uid gid mtime atime size rdev

// AppendFileHeader appends h's payload encoding to dst.
func AppendFileHeader(dst []byte, h *FileHeader) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(h.Path)))
	dst = append(dst, h.Path...)
	dst = append(dst, byte(h.Type))
	dst = binary.LittleEndian.AppendUint32(dst, h.Mode)
	dst = binary.LittleEndian.AppendUint32(dst, h.UID)
	dst = binary.LittleEndian.AppendUint32(dst, h.GID)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.Mtime))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.Atime))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.Size))
	dst = binary.LittleEndian.AppendUint64(dst, h.Rdev)
	dst = binary.AppendUvarint(dst, uint64(len(h.LinkTarget)))
	dst = append(dst, h.LinkTarget...)
	dst = binary.AppendUvarint(dst, uint64(len(h.Ext)))
	for _, e := range h.Ext {
		dst = binary.AppendUvarint(dst, e.Tag)
		dst = binary.AppendUvarint(dst, uint64(len(e.Data)))
		dst = append(dst, e.Data...)
	}
	return dst
}

// DecodeFileHeader decodes a header payload. Slices in the result alias p.
func DecodeFileHeader(p []byte) (FileHeader, error) {
	var h FileHeader
	d := decoder{b: p}
	h.Path = d.bytes()
	if d.err == nil && len(d.b) < headerFixed {
		d.err = ErrShortRecord
	}
	if d.err != nil {
		return h, fmt.Errorf("%w: file header: %v", ErrBadRecord, d.err)
	}
	h.Type = FileType(d.b[0])
	h.Mode = binary.LittleEndian.Uint32(d.b[1:])
	h.UID = binary.LittleEndian.Uint32(d.b[5:])
	h.GID = binary.LittleEndian.Uint32(d.b[9:])
	h.Mtime = int64(binary.LittleEndian.Uint64(d.b[13:]))
	h.Atime = int64(binary.LittleEndian.Uint64(d.b[21:]))
	h.Size = int64(binary.LittleEndian.Uint64(d.b[29:]))
	h.Rdev = binary.LittleEndian.Uint64(d.b[37:])
	d.b = d.b[headerFixed:]
	h.LinkTarget = d.bytes()
	n := d.uvarint()
	if n > uint64(len(d.b)) { // every ext takes at least one byte
		d.fail("extension count")
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		tag := d.uvarint()
		h.Ext = append(h.Ext, Ext{Tag: tag, Data: d.bytes()})
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return h, fmt.Errorf("%w: file header: %v", ErrBadRecord, d.err)
	}
	return h, nil
}

// AppendFileTrailer appends t's payload encoding to dst.
func AppendFileTrailer(dst []byte, t *FileTrailer) []byte {
	dst = append(dst, t.Algo)
	dst = binary.AppendUvarint(dst, uint64(len(t.Sum)))
	dst = append(dst, t.Sum...)
	dst = binary.LittleEndian.AppendUint32(dst, t.Flags)
	return binary.LittleEndian.AppendUint64(dst, uint64(t.Bytes))
}

// DecodeFileTrailer decodes a trailer payload. Sum aliases p.
func DecodeFileTrailer(p []byte) (FileTrailer, error) {
	var t FileTrailer
	if len(p) < 1 {
		return t, fmt.Errorf("%w: file trailer: empty", ErrBadRecord)
	}
	t.Algo = p[0]
	d := decoder{b: p[1:]}
	t.Sum = d.bytes()
	if d.err == nil && len(d.b) != 12 {
		d.fail("length")
	}
	if d.err != nil {
		return t, fmt.Errorf("%w: file trailer: %v", ErrBadRecord, d.err)
	}
	t.Flags = binary.LittleEndian.Uint32(d.b)
	t.Bytes = int64(binary.LittleEndian.Uint64(d.b[4:]))
	return t, nil
}

// AppendStreamEnd appends e's payload encoding to dst.
func AppendStreamEnd(dst []byte, e *StreamEnd) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Files))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Bytes))
	return binary.LittleEndian.AppendUint64(dst, uint64(e.Warnings))
}

// DecodeStreamEnd decodes a stream-end payload.
func DecodeStreamEnd(p []byte) (StreamEnd, error) {
	if len(p) != 24 {
		return StreamEnd{}, fmt.Errorf("%w: stream end: %d bytes", ErrBadRecord, len(p))
	}
	return StreamEnd{
		Files:    int64(binary.LittleEndian.Uint64(p)),
		Bytes:    int64(binary.LittleEndian.Uint64(p[8:])),
		Warnings: int64(binary.LittleEndian.Uint64(p[16:])),
	}, nil
}

// AppendHole appends a hole payload: the file has no data for length bytes
// at offset.
func AppendHole(dst []byte, offset, length int64) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(offset))
	return binary.LittleEndian.AppendUint64(dst, uint64(length))
}

// DecodeHole decodes a hole payload.
func DecodeHole(p []byte) (offset, length int64, err error) {
	if len(p) != 16 {
		return 0, 0, fmt.Errorf("%w: hole: %d bytes", ErrBadRecord, len(p))
	}
	return int64(binary.LittleEndian.Uint64(p)), int64(binary.LittleEndian.Uint64(p[8:])), nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("bad %s", what)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("length")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
