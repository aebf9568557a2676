package datapath

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func headerSeeds() [][]byte {
	var seeds [][]byte
	for _, h := range sampleHeaders() {
		seeds = append(seeds, AppendFileHeader(nil, &h))
	}
	return append(seeds, nil, []byte{0}, bytes.Repeat([]byte{0xff}, 64))
}

func FuzzDecodeFileHeader(f *testing.F) {
	for _, s := range headerSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		in := bytes.Clone(p)
		h, err := DecodeFileHeader(p)
		if !bytes.Equal(in, p) {
			t.Fatal("decoder modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v is not ErrBadRecord", err)
			}
			return
		}
		// Varints may be non-minimal on input, so compare values, not bytes.
		enc := AppendFileHeader(nil, &h)
		if len(enc) > len(p) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(p), len(enc))
		}
		h2, err := DecodeFileHeader(enc)
		if err != nil || !equalHeader(h, h2) {
			t.Fatalf("re-encoded header does not decode the same: %v", err)
		}
	})
}

func FuzzDecodeFileTrailer(f *testing.F) {
	for _, tr := range []FileTrailer{
		{Algo: AlgoBLAKE3, Sum: bytes.Repeat([]byte{9}, 32), Flags: FlagChanged, Bytes: 12},
		{},
		{Algo: 7, Sum: []byte{1}, Flags: 0xffffffff, Bytes: -1},
	} {
		f.Add(AppendFileTrailer(nil, &tr))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		tr, err := DecodeFileTrailer(p)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v is not ErrBadRecord", err)
			}
			return
		}
		enc := AppendFileTrailer(nil, &tr)
		if len(enc) > len(p) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(p), len(enc))
		}
		tr2, err := DecodeFileTrailer(enc)
		if err != nil || !equalTrailer(tr, tr2) {
			t.Fatalf("re-encoded trailer does not decode the same: %v", err)
		}
	})
}

func streamSeeds() [][]byte {
	h := sampleHeaders()["several ext with unknown tags"]
	full := frame(
		rec{KindFileHeader, AppendFileHeader(nil, &h)},
		rec{KindData, []byte("some data")},
		rec{KindHole, AppendHole(nil, 9, 4096)},
		rec{KindZData, zdataSeeds()[0]},
		rec{KindFileTrailer, AppendFileTrailer(nil, &FileTrailer{Algo: AlgoBLAKE3, Sum: make([]byte, 32), Bytes: 9 + 3000})},
		rec{KindHeartbeat, nil},
		rec{KindStreamEnd, AppendStreamEnd(nil, &StreamEnd{Files: 1, Bytes: 9})},
	)
	return [][]byte{
		full,
		full[:len(full)-3],
		nil,
		{byte(KindData)},
		AppendPrefix(nil, KindData, MaxRecordBody+1),
		AppendPrefix(nil, KindData, 1<<31),
	}
}

func FuzzSplitRecords(f *testing.F) {
	for _, s := range streamSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		var consumed []byte
		err := SplitRecords(buf, func(k Kind, payload, raw []byte) error {
			if len(raw) < PrefixLen || Kind(raw[0]) != k || int(binary.LittleEndian.Uint32(raw[1:])) != len(payload) ||
				!bytes.Equal(raw[PrefixLen:], payload) || len(payload) > MaxRecordBody {
				t.Fatalf("inconsistent record: kind %v, %d-byte payload, %d-byte raw", k, len(payload), len(raw))
			}
			consumed = append(consumed, raw...)
			return nil
		})
		if !bytes.HasPrefix(buf, consumed) {
			t.Fatal("records are not the input, in order")
		}
		switch {
		case err == nil:
			if len(consumed) != len(buf) {
				t.Fatalf("success after %d of %d bytes", len(consumed), len(buf))
			}
		case errors.Is(err, ErrShortRecord), errors.Is(err, ErrRecordSize):
			if len(consumed) == len(buf) {
				t.Fatal("error although every byte was split")
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func FuzzReader(f *testing.F) {
	for _, s := range streamSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		var consumed []byte
		var err error
		for {
			var got Record
			got, err = r.Next()
			if err != nil {
				break
			}
			if len(got.Raw) != PrefixLen+len(got.Payload) || Kind(got.Raw[0]) != got.Kind ||
				!bytes.Equal(got.Raw[PrefixLen:], got.Payload) || len(got.Payload) > MaxRecordBody {
				t.Fatal("inconsistent record")
			}
			consumed = append(consumed, got.Raw...)
		}
		if !bytes.HasPrefix(data, consumed) {
			t.Fatal("records are not the input, in order")
		}
		// The Reader and SplitRecords agree on what a valid stream is.
		splitErr := SplitRecords(data, func(Kind, []byte, []byte) error { return nil })
		switch {
		case err == io.EOF:
			if len(consumed) != len(data) {
				t.Fatalf("io.EOF after %d of %d bytes", len(consumed), len(data))
			}
			if splitErr != nil {
				t.Fatalf("Reader read a clean stream SplitRecords refuses: %v", splitErr)
			}
		case errors.Is(err, ErrShortRecord), errors.Is(err, ErrRecordSize):
			if errors.Is(err, io.EOF) {
				t.Fatalf("mid-record error %v wraps io.EOF", err)
			}
			if splitErr == nil {
				t.Fatalf("Reader refused (%v) a stream SplitRecords accepts", err)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func FuzzServerHandshake(f *testing.F) {
	hello := func(role Role, job uint64) []byte {
		b := append(magic[:], byte(role))
		b = binary.LittleEndian.AppendUint64(b, job)
		return append(b, bytes.Repeat([]byte{0x42}, nonceLen)...)
	}
	f.Add(hello(RoleFD, 7))
	f.Add(append(hello(RoleSD, 1), make([]byte, macLen)...))
	f.Add(append(hello(RoleFD, 7), bytes.Repeat([]byte{0xee}, macLen+10)...))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Add(magic[:5])
	f.Add([]byte{})
	key := bytes.Repeat([]byte{0x17}, KeyLen)

	f.Fuzz(func(t *testing.T, data []byte) {
		cc, sc := net.Pipe()
		_ = sc.SetDeadline(time.Now().Add(testDeadline))
		// The dialer: sends the bytes, then hangs up; whatever the listener
		// says is drained so its writes never block.
		go func() { _, _ = cc.Write(data); cc.Close() }()
		go func() { _, _ = io.Copy(io.Discard, cc) }()

		type result struct {
			h        Hello
			helloErr error
			err      error
		}
		done := make(chan result, 1)
		go func() {
			var r result
			r.h, r.helloErr = ReadHello(sc)
			if r.helloErr == nil {
				r.err = ServerHandshake(sc, r.h, key)
			}
			sc.Close()
			done <- r
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(testDeadline):
			t.Fatal("listener side hung")
		}
		if r.helloErr != nil {
			if len(data) >= helloLen && bytes.HasPrefix(data, magic[:]) {
				t.Fatalf("a whole hello refused: %v", r.helloErr)
			}
			if len(data) >= len(magic) && !bytes.HasPrefix(data, magic[:]) && !errors.Is(r.helloErr, ErrBadMagic) {
				t.Fatalf("bad magic reported as %v", r.helloErr)
			}
			return
		}
		if len(data) < helloLen || !bytes.HasPrefix(data, magic[:]) {
			t.Fatal("ReadHello accepted a short or foreign hello")
		}
		if r.h.Role != Role(data[8]) || r.h.Job != binary.LittleEndian.Uint64(data[9:]) {
			t.Fatalf("hello decoded as %v/%d", r.h.Role, r.h.Job)
		}
		// The listener's nonce is fresh: no fixed input can hold the proof.
		if r.err == nil {
			t.Fatal("ServerHandshake accepted a proof made without the listener's nonce")
		}
	})
}
