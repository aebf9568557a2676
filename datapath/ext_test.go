package datapath

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestExtTagsAreStable(t *testing.T) {
	// Stored values: a change here breaks every stored volume.
	if ExtXattrs != 1 || ExtHardlink != 2 {
		t.Fatalf("extension tags renumbered: xattrs %d hardlink %d", ExtXattrs, ExtHardlink)
	}
}

func TestXattrsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		xs   []Xattr
	}{
		{"none", nil},
		{"one", []Xattr{{Name: []byte("user.a"), Value: []byte("1")}}},
		{"empty value", []Xattr{{Name: []byte("user.empty"), Value: nil}}},
		{"binary value and every namespace", []Xattr{
			{Name: []byte("security.capability"), Value: []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
			{Name: []byte("system.posix_acl_access"), Value: []byte{2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff}},
			{Name: []byte("trusted.x"), Value: []byte{0, 0xff}},
			{Name: []byte("user.\xff\xfe"), Value: bytes.Repeat([]byte{7}, 300)},
		}},
		{"largest", []Xattr{{Name: bytes.Repeat([]byte("n"), XattrNameMax), Value: make([]byte, XattrValueMax)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckXattrs(tc.xs); err != nil {
				t.Fatal(err)
			}
			enc := AppendXattrs([]byte("prefix"), tc.xs)
			got, err := DecodeXattrs(enc[len("prefix"):])
			if err != nil {
				t.Fatal(err)
			}
			if !equalXattrs(got, tc.xs) {
				t.Fatalf("decoded %q, want %q", got, tc.xs)
			}
		})
	}
}

func TestXattrsRefused(t *testing.T) {
	enc := func(xs ...Xattr) []byte { return AppendXattrs(nil, xs) }
	x := func(name, value string) Xattr { return Xattr{Name: []byte(name), Value: []byte(value)} }
	valid := enc(x("user.a", "1"), x("user.b", "2"))
	tests := []struct {
		name string
		p    []byte
	}{
		{"empty data", nil},
		{"count beyond the data", binary.AppendUvarint(nil, 3)},
		{"huge count", binary.AppendUvarint(nil, math.MaxUint64)},
		{"bad varint", bytes.Repeat([]byte{0xff}, 11)},
		{"name length beyond the data", append(binary.AppendUvarint([]byte{1}, 1000), "user.a"...)},
		{"missing value", append([]byte{1, 6}, "user.a"...)},
		{"trailing bytes", append(bytes.Clone(valid), 0)},
		{"unsorted", enc(x("user.b", "2"), x("user.a", "1"))},
		{"repeated", enc(x("user.a", "1"), x("user.a", "2"))},
		{"empty name", enc(x("", "1"))},
		{"NUL in name", enc(x("user.a\x00b", "1"))},
		{"name too long", enc(Xattr{Name: bytes.Repeat([]byte("n"), XattrNameMax+1)})},
		{"value too long", enc(Xattr{Name: []byte("user.big"), Value: make([]byte, XattrValueMax+1)})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeXattrs(tc.p); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("err %v, want ErrBadRecord", err)
			}
		})
	}
}

func TestHardlinkExt(t *testing.T) {
	tests := []struct {
		name string
		l    Hardlink
	}{
		{"first entry", Hardlink{Group: 1}},
		{"later entry", Hardlink{Group: 7, Path: []byte("home/u/a")}},
		{"any bytes", Hardlink{Group: math.MaxUint64, Path: []byte("d\xff/\nx")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeHardlink(AppendHardlink(nil, tc.l))
			if err != nil || got.Group != tc.l.Group || !bytes.Equal(got.Path, tc.l.Path) || got.First() != (len(tc.l.Path) == 0) {
				t.Fatalf("decoded %+v %v, want %+v", got, err, tc.l)
			}
		})
	}
	for name, p := range map[string][]byte{
		"empty":          nil,
		"no path":        {5},
		"path too short": {5, 3, 'a'},
		"trailing":       {5, 1, 'a', 'b'},
	} {
		t.Run("refused/"+name, func(t *testing.T) {
			if _, err := DecodeHardlink(p); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("err %v, want ErrBadRecord", err)
			}
		})
	}
}

func TestDecodeExts(t *testing.T) {
	xs := AppendXattrs(nil, []Xattr{{Name: []byte("user.a"), Value: []byte("v")}})
	hl := AppendHardlink(nil, Hardlink{Group: 3, Path: []byte("a")})
	tests := []struct {
		name     string
		exts     []Ext
		xattrs   int
		hardlink bool
		bad      bool
	}{
		{"none", nil, 0, false, false},
		{"unknown tags skipped", []Ext{{Tag: 0, Data: []byte{0xff}}, {Tag: 999, Data: nil}}, 0, false, false},
		{"both", []Ext{{Tag: ExtHardlink, Data: hl}, {Tag: 77}, {Tag: ExtXattrs, Data: xs}}, 1, true, false},
		{"empty xattr list", []Ext{{Tag: ExtXattrs, Data: []byte{0}}}, 0, false, false},
		{"xattrs twice", []Ext{{Tag: ExtXattrs, Data: xs}, {Tag: ExtXattrs, Data: xs}}, 0, false, true},
		{"hardlink twice", []Ext{{Tag: ExtHardlink, Data: hl}, {Tag: ExtHardlink, Data: hl}}, 0, false, true},
		{"bad xattrs", []Ext{{Tag: ExtXattrs, Data: []byte{1}}}, 0, false, true},
		{"bad hardlink", []Ext{{Tag: ExtHardlink, Data: nil}}, 0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := DecodeExts(tc.exts)
			if tc.bad {
				if !errors.Is(err, ErrBadRecord) {
					t.Fatalf("err %v, want ErrBadRecord", err)
				}
				return
			}
			if err != nil || len(e.Xattrs) != tc.xattrs || (e.Hardlink != nil) != tc.hardlink {
				t.Fatalf("decoded %+v %v", e, err)
			}
		})
	}
}

func TestHeaderExtHelpers(t *testing.T) {
	orig := []Ext{{Tag: 9, Data: []byte("keep")}, {Tag: ExtHardlink, Data: []byte("old")}, {Tag: ExtHardlink, Data: []byte("old2")}}
	h := FileHeader{Ext: orig}
	h.SetExt(ExtHardlink, []byte("new"))
	if d, ok := h.ExtData(ExtHardlink); !ok || string(d) != "new" || len(h.Ext) != 2 {
		t.Fatalf("after SetExt: %+v", h.Ext)
	}
	if string(orig[1].Data) != "old" || len(orig) != 3 {
		t.Fatal("SetExt modified the previous slice")
	}
	h.DropExt(ExtHardlink)
	if _, ok := h.ExtData(ExtHardlink); ok || len(h.Ext) != 1 || h.Ext[0].Tag != 9 {
		t.Fatalf("after DropExt: %+v", h.Ext)
	}
}

func equalXattrs(a, b []Xattr) bool {
	return slices.EqualFunc(a, b, func(x, y Xattr) bool {
		return bytes.Equal(x.Name, y.Name) && bytes.Equal(x.Value, y.Value)
	})
}

// FuzzDecodeExt feeds arbitrary data under each tag: decoding never panics
// nor modifies its input, errors wrap ErrBadRecord, and what decodes
// re-encodes to an equal value that is no longer than the input.
func FuzzDecodeExt(f *testing.F) {
	f.Add(ExtXattrs, AppendXattrs(nil, []Xattr{{Name: []byte("user.a"), Value: []byte("1")}, {Name: []byte("user.b")}}))
	f.Add(ExtXattrs, []byte{0})
	f.Add(ExtXattrs, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(ExtHardlink, AppendHardlink(nil, Hardlink{Group: 1}))
	f.Add(ExtHardlink, AppendHardlink(nil, Hardlink{Group: 1 << 40, Path: []byte("a/b")}))
	f.Add(uint64(99), []byte("unknown"))
	f.Fuzz(func(t *testing.T, tag uint64, p []byte) {
		in := bytes.Clone(p)
		e, err := DecodeExts([]Ext{{Tag: tag, Data: p}})
		if !bytes.Equal(in, p) {
			t.Fatal("decoder modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v is not ErrBadRecord", err)
			}
			return
		}
		switch tag {
		case ExtXattrs:
			if err := CheckXattrs(e.Xattrs); err != nil {
				t.Fatalf("decoded attributes fail the check: %v", err)
			}
			enc := AppendXattrs(nil, e.Xattrs)
			if len(enc) > len(p) {
				t.Fatalf("re-encoding grew from %d to %d bytes", len(p), len(enc))
			}
			back, err := DecodeXattrs(enc)
			if err != nil || !equalXattrs(back, e.Xattrs) {
				t.Fatalf("re-encoded attributes differ: %v", err)
			}
		case ExtHardlink:
			if e.Hardlink == nil {
				t.Fatal("hardlink decoded to nothing")
			}
			enc := AppendHardlink(nil, *e.Hardlink)
			if len(enc) > len(p) {
				t.Fatalf("re-encoding grew from %d to %d bytes", len(p), len(enc))
			}
			back, err := DecodeHardlink(enc)
			if err != nil || back.Group != e.Hardlink.Group || !bytes.Equal(back.Path, e.Hardlink.Path) {
				t.Fatalf("re-encoded hardlink differs: %v", err)
			}
		default:
			if e.Xattrs != nil || e.Hardlink != nil {
				t.Fatalf("unknown tag %d decoded to %+v", tag, e)
			}
		}
	})
}
