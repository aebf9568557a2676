package volume

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// On-disk format, version 1.
//
// A volume file is a sequence of blocks and nothing else. Every block is a
// 32-byte header followed by its payload. All integers are little endian.
//
//	offset size field
//	     0    4 magic "FBLK"
//	     4    1 format version (1)
//	     5    1 kind (1 label, 2 session start, 3 data, 4 session end)
//	     6    2 flags (none defined in version 1; must be 0)
//	     8    8 session id (the job id; 0 for the label)
//	    16    4 block seq (0, 1, 2, ... within the session; 0 for the label)
//	    20    4 payload length (at most MaxPayload, 8 MiB)
//	    24    4 reserved (must be 0)
//	    28    4 CRC-32C (Castagnoli) over the 32 header bytes, with this
//	            field zeroed, followed by the payload bytes
//
// Payloads by kind:
//
//	label (1)          "FERRYVOL" (8), created UTC Unix ns i64 (8),
//	                   name length u16 (2), volume name (UTF-8)
//	session start (2)  caller meta bytes (opaque)
//	data (3)           whole records as handed to Session.Add, back to back
//	                   (opaque; never split across blocks)
//	session end (4)    status u8 (1 ok, 2 failed, 3 canceled), files u64,
//	                   bytes u64, records u64, data blocks u32, then caller
//	                   meta bytes (opaque) to the end of the payload
//
// The label is the first block of every volume and appears only there. The
// blocks of one session are contiguous: a start block (seq 0), data blocks
// (seq 1..n) and an end block (seq n+1, data blocks = n). A session is
// complete only when its end block is present and valid. A volume may end in
// an unended session (the writer stopped) or in a torn block (a crash during
// a write); OpenAppend cuts such a tail back to the last whole valid block.
// A block that fails verification is a torn tail when no valid block follows
// it anywhere in the file, and corruption otherwise.

// Format constants.
const (
	FormatVersion = 1
	HeaderSize    = 32
	MaxPayload    = 8 << 20 // a larger payload length is corruption
	BlockTarget   = 1 << 20 // a data block is written once it holds this much
	MaxRecord     = 2 << 20 // largest record Session.Add accepts
	LabelMagic    = "FERRYVOL"
	MaxNameLen    = 255

	blockMagic   = "FBLK"
	endFixedSize = 1 + 8 + 8 + 8 + 4
	labelFixed   = len(LabelMagic) + 8 + 2
)

// Kind is the type of a block.
type Kind uint8

// Block kinds.
const (
	KindLabel        Kind = 1
	KindSessionStart Kind = 2
	KindData         Kind = 3
	KindSessionEnd   Kind = 4
)

func (k Kind) String() string {
	switch k {
	case KindLabel:
		return "label"
	case KindSessionStart:
		return "session start"
	case KindData:
		return "data"
	case KindSessionEnd:
		return "session end"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Status is how a session ended.
type Status uint8

// Session statuses.
const (
	SessionOK       Status = 1
	SessionFailed   Status = 2
	SessionCanceled Status = 3
)

func (s Status) String() string {
	switch s {
	case SessionOK:
		return "ok"
	case SessionFailed:
		return "failed"
	case SessionCanceled:
		return "canceled"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

func (s Status) valid() bool { return s >= SessionOK && s <= SessionCanceled }

// Totals are the counts stored in a session's end block.
type Totals struct {
	Files, Bytes, Records uint64
	DataBlocks            uint32
}

// Header is a decoded block header.
type Header struct {
	Version uint8
	Kind    Kind
	Flags   uint16
	Session uint64
	Seq     uint32
	Length  uint32 // payload length
	CRC     uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// DecodeHeader decodes and sanity-checks a block header. It does not verify
// the CRC, which also covers the payload.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, errors.New("short header")
	}
	if string(b[0:4]) != blockMagic {
		return Header{}, errors.New("bad block magic")
	}
	h := Header{
		Version: b[4],
		Kind:    Kind(b[5]),
		Flags:   binary.LittleEndian.Uint16(b[6:]),
		Session: binary.LittleEndian.Uint64(b[8:]),
		Seq:     binary.LittleEndian.Uint32(b[16:]),
		Length:  binary.LittleEndian.Uint32(b[20:]),
		CRC:     binary.LittleEndian.Uint32(b[28:]),
	}
	return h, checkHeader(h, binary.LittleEndian.Uint32(b[24:]))
}

func checkHeader(h Header, reserved uint32) error {
	switch {
	case h.Version != FormatVersion:
		return fmt.Errorf("unsupported format version %d", h.Version)
	case h.Kind < KindLabel || h.Kind > KindSessionEnd:
		return fmt.Errorf("unknown block kind %d", uint8(h.Kind))
	case h.Flags != 0:
		return fmt.Errorf("unknown flags %#x", h.Flags)
	case reserved != 0:
		return errors.New("reserved field not zero")
	case h.Length > MaxPayload:
		return fmt.Errorf("payload length %d exceeds %d", h.Length, MaxPayload)
	}
	return nil
}

// sealBlock fills in the header at b[:HeaderSize] for the payload that
// follows it in b, including the CRC. b holds the whole block.
func sealBlock(b []byte, kind Kind, session uint64, seq uint32) {
	copy(b[0:4], blockMagic)
	b[4] = FormatVersion
	b[5] = byte(kind)
	binary.LittleEndian.PutUint16(b[6:], 0)
	binary.LittleEndian.PutUint64(b[8:], session)
	binary.LittleEndian.PutUint32(b[16:], seq)
	binary.LittleEndian.PutUint32(b[20:], uint32(len(b)-HeaderSize))
	binary.LittleEndian.PutUint32(b[24:], 0)
	binary.LittleEndian.PutUint32(b[28:], 0)
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b, castagnoli))
}

// checksumOK verifies the CRC of a block given its raw header and payload.
func checksumOK(hdr, payload []byte, want uint32) bool {
	var h [HeaderSize]byte
	copy(h[:], hdr)
	clear(h[28:32])
	c := crc32.Update(0, castagnoli, h[:])
	return crc32.Update(c, castagnoli, payload) == want
}

func appendLabel(b []byte, name string, created time.Time) []byte {
	b = append(b, LabelMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(created.UnixNano()))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(name)))
	return append(b, name...)
}

func decodeLabel(p []byte) (name string, created time.Time, err error) {
	if len(p) < labelFixed || string(p[:len(LabelMagic)]) != LabelMagic {
		return "", time.Time{}, errors.New("bad label magic")
	}
	ns := int64(binary.LittleEndian.Uint64(p[8:]))
	n := int(binary.LittleEndian.Uint16(p[16:]))
	if len(p) != labelFixed+n {
		return "", time.Time{}, errors.New("bad label length")
	}
	return string(p[labelFixed:]), time.Unix(0, ns).UTC(), nil
}

func appendEnd(b []byte, st Status, t Totals, meta []byte) []byte {
	b = append(b, byte(st))
	b = binary.LittleEndian.AppendUint64(b, t.Files)
	b = binary.LittleEndian.AppendUint64(b, t.Bytes)
	b = binary.LittleEndian.AppendUint64(b, t.Records)
	b = binary.LittleEndian.AppendUint32(b, t.DataBlocks)
	return append(b, meta...)
}

func decodeEnd(p []byte) (Status, Totals, []byte, error) {
	if len(p) < endFixedSize {
		return 0, Totals{}, nil, errors.New("short session end payload")
	}
	st := Status(p[0])
	if !st.valid() {
		return 0, Totals{}, nil, fmt.Errorf("bad session status %d", p[0])
	}
	t := Totals{
		Files:      binary.LittleEndian.Uint64(p[1:]),
		Bytes:      binary.LittleEndian.Uint64(p[9:]),
		Records:    binary.LittleEndian.Uint64(p[17:]),
		DataBlocks: binary.LittleEndian.Uint32(p[25:]),
	}
	return st, t, p[endFixedSize:], nil
}

// checkName rejects volume names that are not a plain file name.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > MaxNameLen {
		return fmt.Errorf("invalid volume name %q", name)
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == '\\' || name[i] == 0 {
			return fmt.Errorf("invalid volume name %q", name)
		}
	}
	return nil
}
