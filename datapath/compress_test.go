package datapath

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestZDataRoundTrip(t *testing.T) {
	c, err := NewCompressor(CompressionZstd)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDecompressor()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tests := []struct {
		name   string
		in     []byte
		shrink bool
	}{
		{"text", bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 2000), true},
		{"zeros, full chunk", make([]byte, MaxChunk), true},
		{"random", pattern(64 << 10), false},
		{"tiny", []byte("abc"), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, ok := c.AppendZData([]byte("keep"), tt.in)
			if ok != tt.shrink {
				t.Fatalf("compressed %v, want %v (%d -> %d bytes)", ok, tt.shrink, len(tt.in), len(z)-4)
			}
			if string(z[:4]) != "keep" {
				t.Fatal("dst prefix lost")
			}
			if !ok {
				if len(z) != 4 {
					t.Fatalf("not compressed but dst grew to %d", len(z))
				}
				return
			}
			p := z[4:]
			if n, err := ZDataLen(p); err != nil || n != len(tt.in) || ContentLen(KindZData, p) != int64(len(tt.in)) {
				t.Fatalf("ZDataLen %d, %v; want %d", n, err, len(tt.in))
			}
			out, err := d.Decode(nil, p)
			if err != nil || !bytes.Equal(out, tt.in) {
				t.Fatalf("decoded %d bytes, %v", len(out), err)
			}
		})
	}
}

func TestNewCompressorNames(t *testing.T) {
	for _, name := range []string{"", "none"} {
		if c, err := NewCompressor(name); c != nil || err != nil {
			t.Errorf("%q: %v, %v; want nil, nil", name, c, err)
		}
	}
	if _, err := NewCompressor("lz4"); err == nil {
		t.Error("unknown compression accepted")
	}
}

// TestZDataBounded: a frame that decodes to more than it announces, or to
// more than MaxChunk, is refused without decoding it all.
func TestZDataBounded(t *testing.T) {
	d, err := NewDecompressor()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	big := enc.EncodeAll(make([]byte, 8<<20), nil) // a zip bomb in small
	tests := []struct {
		name string
		p    []byte
		want error
	}{
		{"announces less than it holds", append(binary.AppendUvarint(nil, 100), enc.EncodeAll(make([]byte, 1000), nil)...), ErrCompressed},
		{"announces more than it holds", append(binary.AppendUvarint(nil, 2000), enc.EncodeAll(make([]byte, 1000), nil)...), ErrCompressed},
		{"bomb", append(binary.AppendUvarint(nil, MaxChunk), big...), ErrCompressed},
		{"length over MaxChunk", append(binary.AppendUvarint(nil, MaxChunk+1), big...), ErrBadRecord},
		{"no length", nil, ErrBadRecord},
		{"garbage frame", append(binary.AppendUvarint(nil, 10), 1, 2, 3, 4, 5, 6, 7, 8), ErrCompressed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := d.Decode(nil, tt.p)
			if !errors.Is(err, tt.want) {
				t.Fatalf("decoded %d bytes, err %v; want %v", len(out), err, tt.want)
			}
		})
	}
}

func zdataSeeds() [][]byte {
	c, _ := NewCompressor(CompressionZstd)
	text, _ := c.AppendZData(nil, bytes.Repeat([]byte("ferry "), 500))
	zeros, _ := c.AppendZData(nil, make([]byte, 4096))
	return [][]byte{text, zeros, text[:len(text)/2], nil, {0}, binary.AppendUvarint(nil, MaxChunk+1)}
}

func FuzzDecodeZData(f *testing.F) {
	for _, s := range zdataSeeds() {
		f.Add(s)
	}
	d, err := NewDecompressor()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		in := bytes.Clone(p)
		out, err := d.Decode(nil, p)
		if !bytes.Equal(in, p) {
			t.Fatal("decoder modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrBadRecord) && !errors.Is(err, ErrCompressed) {
				t.Fatalf("error %v is neither ErrBadRecord nor ErrCompressed", err)
			}
			return
		}
		if n, _ := ZDataLen(p); n != len(out) || len(out) > MaxChunk {
			t.Fatalf("decoded %d bytes, %d announced", len(out), n)
		}
	})
}
