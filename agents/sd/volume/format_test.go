package volume

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// encodeHeader lays out h as the format specifies (test oracle).
func encodeHeader(h Header) []byte {
	b := []byte(blockMagic)
	b = append(b, h.Version, byte(h.Kind))
	b = binary.LittleEndian.AppendUint16(b, h.Flags)
	b = binary.LittleEndian.AppendUint64(b, h.Session)
	b = binary.LittleEndian.AppendUint32(b, h.Seq)
	b = binary.LittleEndian.AppendUint32(b, h.Length)
	b = binary.LittleEndian.AppendUint32(b, 0)
	return binary.LittleEndian.AppendUint32(b, h.CRC)
}

func TestDecodeHeader(t *testing.T) {
	good := Header{Version: 1, Kind: KindData, Session: 42, Seq: 7, Length: 1000, CRC: 0xdeadbeef}
	tests := []struct {
		name   string
		b      []byte
		want   Header
		errHas string
	}{
		{"valid", encodeHeader(good), good, ""},
		{"max payload", encodeHeader(Header{Version: 1, Kind: KindSessionEnd, Length: MaxPayload}), Header{Version: 1, Kind: KindSessionEnd, Length: MaxPayload}, ""},
		{"short", encodeHeader(good)[:31], Header{}, "short header"},
		{"bad magic", append([]byte("XBLK"), encodeHeader(good)[4:]...), Header{}, "magic"},
		{"version 2", encodeHeader(Header{Version: 2, Kind: KindData}), Header{}, "version"},
		{"kind 0", encodeHeader(Header{Version: 1}), Header{}, "kind"},
		{"kind 5", encodeHeader(Header{Version: 1, Kind: 5}), Header{}, "kind"},
		{"flags set", encodeHeader(Header{Version: 1, Kind: KindData, Flags: 1}), Header{}, "flags"},
		{"payload too long", encodeHeader(Header{Version: 1, Kind: KindData, Length: MaxPayload + 1}), Header{}, "exceeds"},
		{"reserved set", func() []byte { b := encodeHeader(good); b[25] = 1; return b }(), Header{}, "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := DecodeHeader(tt.b)
			if tt.errHas == "" {
				if err != nil || h != tt.want {
					t.Fatalf("DecodeHeader = %+v, %v; want %+v", h, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("DecodeHeader error %v, want one mentioning %q", err, tt.errHas)
			}
		})
	}
}

func TestSealBlockChecksum(t *testing.T) {
	b := make([]byte, HeaderSize, HeaderSize+5)
	b = append(b, "hello"...)
	sealBlock(b, KindSessionStart, 3, 0)
	h, err := DecodeHeader(b)
	if err != nil || h.Length != 5 || h.Session != 3 || h.Kind != KindSessionStart {
		t.Fatalf("DecodeHeader(sealed) = %+v, %v", h, err)
	}
	if !checksumOK(b[:HeaderSize], b[HeaderSize:], h.CRC) {
		t.Fatal("checksum of a sealed block does not verify")
	}
	b[HeaderSize] ^= 1
	if checksumOK(b[:HeaderSize], b[HeaderSize:], h.CRC) {
		t.Fatal("checksum verifies a changed payload")
	}
}

func TestLabelAndEndPayloads(t *testing.T) {
	name, _, err := decodeLabel(appendLabel(nil, "Full-0001", time.Unix(0, 0)))
	if err != nil || name != "Full-0001" {
		t.Fatalf("label round trip: %q %v", name, err)
	}
	tot := Totals{Files: 1, Bytes: 2, Records: 3, DataBlocks: 4}
	st, got, meta, err := decodeEnd(appendEnd(nil, SessionCanceled, tot, []byte("m")))
	if err != nil || st != SessionCanceled || got != tot || string(meta) != "m" {
		t.Fatalf("end round trip: %v %+v %q %v", st, got, meta, err)
	}
	if _, _, _, err := decodeEnd(appendEnd(nil, 0, tot, nil)); err == nil {
		t.Fatal("status 0 accepted")
	}
}

func FuzzDecodeHeader(f *testing.F) {
	f.Add(encodeHeader(Header{Version: 1, Kind: KindData, Session: 1, Seq: 1, Length: 10}))
	f.Add(encodeHeader(Header{Version: 1, Kind: KindLabel}))
	f.Add([]byte("FBLK"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if err != nil {
			return
		}
		if h.Length > MaxPayload || h.Kind < KindLabel || h.Kind > KindSessionEnd || h.Version != FormatVersion {
			t.Fatalf("accepted invalid header %+v", h)
		}
		if !bytes.Equal(encodeHeader(h), b[:HeaderSize]) {
			t.Fatalf("header %+v does not re-encode to its bytes", h)
		}
	})
}
