package volume

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
	"time"
)

// FuzzReader (fuzz_test.go) mutates raw bytes, which rarely get past the
// block checksums. FuzzBlocks seals every block it builds, so the fuzzer
// reaches what lies behind the checksum: block order, sessions interleaved
// or restarted, sequence gaps, end blocks with odd totals, labels out of
// place. FuzzReadVolume mutates the label too.

// blockSpec turns spec into blocks after the label. Per block: a kind byte
// (bit 7 set: the block is left unsealed, as a torn or corrupt write), a
// session id byte, a seq byte, a payload length byte, then the payload (cut
// at the end of spec).
func blocksFrom(spec []byte) []byte {
	var out []byte
	for len(spec) >= 4 {
		kind, session, seq, n := spec[0], spec[1], spec[2], int(spec[3])
		spec = spec[4:]
		n = min(n, len(spec))
		b := make([]byte, HeaderSize, HeaderSize+n)
		b = append(b, spec[:n]...)
		spec = spec[n:]
		sealBlock(b, Kind(kind&0x7f), uint64(session), uint32(seq))
		if kind&0x80 != 0 {
			b[28] ^= 0xff // a checksum that does not match
		}
		out = append(out, b...)
	}
	return out
}

// specOf is the inverse of blocksFrom for the small blocks of a real
// volume: it makes the seeds.
func specOf(f *testing.F, blocks []byte) []byte {
	var spec []byte
	for len(blocks) >= HeaderSize {
		h, err := DecodeHeader(blocks)
		if err != nil || h.Length > 255 || h.Session > 255 || h.Seq > 255 || int(h.Length) > len(blocks)-HeaderSize {
			f.Fatalf("seed block %+v does not fit a spec: %v", h, err)
		}
		spec = append(spec, byte(h.Kind), byte(h.Session), byte(h.Seq), byte(h.Length))
		spec = append(spec, blocks[HeaderSize:HeaderSize+int(h.Length)]...)
		blocks = blocks[HeaderSize+int(h.Length):]
	}
	return spec
}

// allocBound is what reading a volume of n bytes may allocate: its
// buffers are bounded by the file (see exerciseReader), so a huge length
// declared in a small file must not show here.
func allocBound(n int) uint64 { return 16*uint64(n) + 1<<20 }

// allocated returns the bytes fn allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func FuzzBlocks(f *testing.F) {
	whole := specOf(f, volumeTail(f, true))
	f.Add(whole)
	f.Add(specOf(f, volumeTail(f, false)))
	f.Add(whole[:len(whole)/2])
	end := appendEnd(nil, SessionOK, Totals{DataBlocks: 0}, nil)
	f.Add(append([]byte{byte(KindSessionStart), 1, 0, 0, byte(KindSessionEnd), 1, 1, byte(len(end))}, end...))
	f.Add([]byte{byte(KindSessionStart), 1, 0, 0, byte(KindSessionStart), 1, 0, 0})        // restarted
	f.Add([]byte{byte(KindData), 1, 1, 1, 'x'})                                            // data outside a session
	f.Add([]byte{byte(KindSessionStart), 1, 0, 0, byte(KindData), 1, 5, 0})                // seq gap
	f.Add([]byte{byte(KindSessionStart), 1, 0, 0, byte(KindSessionEnd), 1, 1, 3, 1, 2, 3}) // short end
	f.Add([]byte{byte(KindSessionStart), 1, 0, 0, byte(KindData) | 0x80, 1, 1, 1, 'x', byte(KindSessionEnd), 1, 2, 0})
	f.Add([]byte{byte(KindLabel), 0, 0, 0})
	label := make([]byte, HeaderSize, labelSize())
	label = appendLabel(label, "fz", time.Unix(0, 0))
	sealBlock(label, KindLabel, 0, 0)
	f.Fuzz(func(t *testing.T, spec []byte) {
		file := append(label[:len(label):len(label)], blocksFrom(spec)...)
		var infos []SessionInfo
		if n := allocated(func() { infos = exerciseReader(t, file) }); n > allocBound(len(file)) {
			t.Fatalf("reading a %d-byte volume allocated %d bytes", len(file), n)
		}
		if n := allocated(func() { exerciseRecovery(t, file, infos) }); n > allocBound(len(file)) {
			t.Fatalf("recovering a %d-byte volume allocated %d bytes", len(file), n)
		}
	})
}

// FuzzReadVolume feeds whole files, label included: a file that is not a
// volume is refused with ErrNotVolume; one that opens reads like any other,
// within bounded memory.
func FuzzReadVolume(f *testing.F) {
	label := make([]byte, HeaderSize, labelSize())
	label = appendLabel(label, "fz", time.Unix(0, 0))
	sealBlock(label, KindLabel, 0, 0)
	tail := volumeTail(f, true)
	f.Add(append(label[:len(label):len(label)], tail...))
	f.Add(label)
	f.Add(label[:HeaderSize])
	f.Add([]byte{})
	long := make([]byte, HeaderSize, HeaderSize+labelFixed+MaxNameLen)
	long = appendLabel(long, string(make([]byte, MaxNameLen)), time.Unix(-1, 0))
	sealBlock(long, KindLabel, 0, 0)
	f.Add(long)
	huge := append([]byte(nil), label...)
	binary.LittleEndian.PutUint32(huge[20:], MaxPayload) // declares 8 MiB, holds 20 bytes
	f.Add(huge)
	notFirst := append([]byte(nil), label...)
	sealBlock(notFirst, KindData, 1, 1)
	f.Add(notFirst)
	f.Fuzz(func(t *testing.T, file []byte) {
		var r *Reader
		var err error
		if n := allocated(func() { r, err = newReader(memFile{bytes.NewReader(file)}, "fz") }); n > allocBound(len(file)) {
			t.Fatalf("opening a %d-byte file allocated %d bytes", len(file), n)
		}
		if err != nil {
			if !errors.Is(err, ErrNotVolume) {
				t.Fatalf("a file that does not open: %v, want ErrNotVolume", err)
			}
			return
		}
		size := int64(len(file))
		n := allocated(func() {
			infos, err := r.Sessions()
			var ce *CorruptError
			if err != nil && (!errors.As(err, &ce) || ce.Offset <= 0 || ce.Offset >= size) {
				t.Fatalf("Sessions: %v", err)
			}
			for _, in := range infos {
				if in.Start <= 0 || in.End <= in.Start || in.End > size {
					t.Fatalf("session %+v out of bounds (size %d)", in, size)
				}
				readSession(t, r, in, size)
			}
			if _, _, err := r.validEnd(); err != nil && !errors.As(err, &ce) {
				t.Fatalf("validEnd: %v", err)
			}
		})
		if n > allocBound(len(file)) {
			t.Fatalf("reading a %d-byte volume allocated %d bytes", len(file), n)
		}
		if cap(r.buf) > len(file) {
			t.Fatalf("a payload buffer of %d bytes for a %d-byte file", cap(r.buf), len(file))
		}
	})
}
