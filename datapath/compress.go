package datapath

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Compression names, as a FileSet and schemas.PrepareJob give them.
const (
	CompressionNone = ""
	CompressionZstd = "zstd"
)

// ErrCompressed is wrapped by the errors for a zdata record that does not
// decode to what it announces.
var ErrCompressed = errors.New("datapath: bad compressed data")

// minGain is what a chunk must save, in bytes, to go compressed: below it
// the receiver's decoding costs more than the bytes saved.
const minGain = 64

// Compressor encodes data records as zstd frames (KindZData). One is
// meant per sending goroutine; it is safe for concurrent use all the same.
type Compressor struct {
	enc *zstd.Encoder
}

// NewCompressor returns a Compressor for name: nil, without error, for
// CompressionNone or "none".
func NewCompressor(name string) (*Compressor, error) {
	switch name {
	case CompressionNone, "none":
		return nil, nil
	case CompressionZstd:
	default:
		return nil, fmt.Errorf("datapath: unknown compression %q", name)
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(MaxChunk), // a frame never needs a larger window to decode
		zstd.WithEncoderCRC(false),    // the trailer's BLAKE3 covers the content
		zstd.WithZeroFrames(true),
	)
	if err != nil {
		return nil, fmt.Errorf("datapath: zstd encoder: %w", err)
	}
	return &Compressor{enc: enc}, nil
}

// AppendZData appends to dst the payload of a zdata record holding p (at
// most MaxChunk bytes): uvarint len(p), then one zstd frame. ok is false,
// and dst returned as it was, when p does not shrink by at least minGain
// bytes: then p goes as a plain data record.
func (c *Compressor) AppendZData(dst, p []byte) (out []byte, ok bool) {
	if len(p) <= minGain || len(p) > MaxChunk {
		return dst, false
	}
	start := len(dst)
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	dst = c.enc.EncodeAll(p, dst)
	if len(dst)-start > len(p)-minGain {
		return dst[:start], false
	}
	return dst, true
}

// ZDataLen returns the content length a zdata payload announces, without
// decoding it.
func ZDataLen(p []byte) (int, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > MaxChunk {
		return 0, fmt.Errorf("%w: zdata length", ErrBadRecord)
	}
	return int(n), nil
}

// ContentLen is the number of file content bytes a record carries: its
// payload for a data record, the announced length for a zdata record, 0
// for any other (or a malformed zdata record).
func ContentLen(k Kind, p []byte) int64 {
	switch k {
	case KindData:
		return int64(len(p))
	case KindZData:
		n, _ := ZDataLen(p)
		return int64(n)
	}
	return 0
}

// Decompressor decodes zdata records. Its memory is bounded: a frame may
// not ask for a window or an output larger than MaxChunk. It is safe for
// concurrent use.
type Decompressor struct {
	dec *zstd.Decoder
}

// NewDecompressor returns a Decompressor.
func NewDecompressor() (*Decompressor, error) {
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(MaxChunk),
		zstd.WithDecoderMaxWindow(MaxChunk),
		zstd.WithDecodeAllCapLimit(true),
	)
	if err != nil {
		return nil, fmt.Errorf("datapath: zstd decoder: %w", err)
	}
	return &Decompressor{dec: dec}, nil
}

// Decode decodes zdata payload p into dst[:0] (grown if needed) and
// returns the content. The frame must decode to exactly the announced
// length.
func (d *Decompressor) Decode(dst, p []byte) ([]byte, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > MaxChunk {
		return nil, fmt.Errorf("%w: zdata length", ErrBadRecord)
	}
	if uint64(cap(dst)) < n {
		dst = make([]byte, 0, n)
	}
	out, err := d.dec.DecodeAll(p[k:], dst[:0:n])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCompressed, err)
	}
	if uint64(len(out)) != n {
		return nil, fmt.Errorf("%w: %d bytes announced, %d decoded", ErrCompressed, n, len(out))
	}
	return out, nil
}

// Close releases the decoder's resources.
func (d *Decompressor) Close() { d.dec.Close() }
