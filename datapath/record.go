package datapath

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind is a record kind.
type Kind uint8

// Record kinds. Values are stored in volumes: never renumber.
const (
	KindFileHeader  Kind = 1
	KindData        Kind = 2
	KindHole        Kind = 3
	KindFileTrailer Kind = 4
	KindStreamEnd   Kind = 5
	KindHeartbeat   Kind = 6
	KindZData       Kind = 7 // data compressed with zstd: see compress.go
)

func (k Kind) String() string {
	switch k {
	case KindFileHeader:
		return "file-header"
	case KindData:
		return "data"
	case KindHole:
		return "hole"
	case KindFileTrailer:
		return "file-trailer"
	case KindStreamEnd:
		return "stream-end"
	case KindHeartbeat:
		return "heartbeat"
	case KindZData:
		return "zdata"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Record framing limits.
const (
	PrefixLen     = 5       // kind + length
	MaxChunk      = 1 << 20 // largest data record payload a sender produces
	MaxRecordBody = 2 << 20 // largest payload a reader accepts
)

// Record decoding errors.
var (
	ErrShortRecord = errors.New("datapath: short record")
	ErrRecordSize  = errors.New("datapath: record larger than allowed")
	ErrBadRecord   = errors.New("datapath: malformed record")
)

// AppendPrefix appends a record prefix for a payload of n bytes.
func AppendPrefix(dst []byte, k Kind, n int) []byte {
	dst = append(dst, byte(k))
	return binary.LittleEndian.AppendUint32(dst, uint32(n))
}

// SplitRecords calls fn for each whole record in buf (a volume block payload
// holds whole records only). raw includes the prefix.
func SplitRecords(buf []byte, fn func(k Kind, payload, raw []byte) error) error {
	for len(buf) > 0 {
		if len(buf) < PrefixLen {
			return fmt.Errorf("%w: %d trailing bytes", ErrShortRecord, len(buf))
		}
		n := binary.LittleEndian.Uint32(buf[1:5])
		if n > MaxRecordBody {
			return fmt.Errorf("%w: %d bytes", ErrRecordSize, n)
		}
		end := PrefixLen + int(n)
		if len(buf) < end {
			return fmt.Errorf("%w: need %d bytes, have %d", ErrShortRecord, end, len(buf))
		}
		if err := fn(Kind(buf[0]), buf[PrefixLen:end], buf[:end]); err != nil {
			return err
		}
		buf = buf[end:]
	}
	return nil
}
