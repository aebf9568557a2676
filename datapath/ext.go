package datapath

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
)

// Extension tags of a FileHeader (FileHeader.Ext). Values are stored in
// volumes: never renumber, never reuse. A reader skips a tag it does not
// know; a known tag whose data does not decode is a malformed record.
const (
	// ExtXattrs carries the extended attributes of an entry (ACLs and file
	// capabilities included: system.posix_acl_access,
	// system.posix_acl_default, security.capability):
	//
	//	count uvarint, then count times:
	//	name uvarint-length bytes, value uvarint-length bytes
	//
	// Names are unique and sorted by bytes, 1..XattrNameMax bytes without
	// NUL; values are at most XattrValueMax bytes.
	ExtXattrs uint64 = 1
	// ExtHardlink marks an entry whose inode has several names:
	//
	//	group id uvarint, path uvarint-length bytes
	//
	// The group's first entry in the stream carries an empty path and is
	// sent in full; every later entry of the group carries the path of that
	// first entry, as stored in the same stream, and no content.
	ExtHardlink uint64 = 2
)

// Limits of an extended attribute (those of the Linux VFS).
const (
	XattrNameMax  = 255
	XattrValueMax = 64 << 10
)

// Xattr is one extended attribute.
type Xattr struct {
	Name, Value []byte
}

// Hardlink is the data of an ExtHardlink extension.
type Hardlink struct {
	Group uint64
	// Path is the stored path of the group's first entry in the stream;
	// empty for the first entry itself.
	Path []byte
}

// First reports whether l marks the first entry of its group.
func (l Hardlink) First() bool { return len(l.Path) == 0 }

// Exts holds the known extensions of a header, decoded.
type Exts struct {
	Xattrs   []Xattr   // nil if the header has none
	Hardlink *Hardlink // nil if the entry is not part of a hardlink group
}

// SortXattrs sorts xs by name, the order AppendXattrs requires.
func SortXattrs(xs []Xattr) {
	slices.SortFunc(xs, func(a, b Xattr) int { return bytes.Compare(a.Name, b.Name) })
}

// AppendXattrs appends the ExtXattrs encoding of xs, which must be sorted
// by name (SortXattrs) and within the limits, to dst.
func AppendXattrs(dst []byte, xs []Xattr) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(xs)))
	for _, x := range xs {
		dst = binary.AppendUvarint(dst, uint64(len(x.Name)))
		dst = append(dst, x.Name...)
		dst = binary.AppendUvarint(dst, uint64(len(x.Value)))
		dst = append(dst, x.Value...)
	}
	return dst
}

// CheckXattrs reports an attribute list AppendXattrs must not encode: names
// unsorted or repeated, empty, too long or holding a NUL, values too long.
func CheckXattrs(xs []Xattr) error {
	for i, x := range xs {
		switch {
		case len(x.Name) == 0:
			return fmt.Errorf("%w: xattrs: empty name", ErrBadRecord)
		case len(x.Name) > XattrNameMax:
			return fmt.Errorf("%w: xattrs: name of %d bytes", ErrBadRecord, len(x.Name))
		case bytes.IndexByte(x.Name, 0) >= 0:
			return fmt.Errorf("%w: xattrs: name %q holds a NUL byte", ErrBadRecord, x.Name)
		case len(x.Value) > XattrValueMax:
			return fmt.Errorf("%w: xattrs: %q has a value of %d bytes", ErrBadRecord, x.Name, len(x.Value))
		case i > 0 && bytes.Compare(xs[i-1].Name, x.Name) >= 0:
			return fmt.Errorf("%w: xattrs: %q after %q: names not sorted or repeated", ErrBadRecord, x.Name, xs[i-1].Name)
		}
	}
	return nil
}

// DecodeXattrs decodes ExtXattrs data. Slices in the result alias p.
func DecodeXattrs(p []byte) ([]Xattr, error) {
	d := decoder{b: p}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b))/2 { // every attribute takes at least two bytes
		d.fail("xattr count")
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: xattrs: %v", ErrBadRecord, d.err)
	}
	xs := make([]Xattr, 0, n)
	for range n {
		name := d.bytes()
		value := d.bytes()
		if d.err != nil {
			return nil, fmt.Errorf("%w: xattrs: %v", ErrBadRecord, d.err)
		}
		xs = append(xs, Xattr{Name: name, Value: value})
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: xattrs: %d trailing bytes", ErrBadRecord, len(d.b))
	}
	if err := CheckXattrs(xs); err != nil {
		return nil, err
	}
	return xs, nil
}

// AppendHardlink appends the ExtHardlink encoding of l to dst.
func AppendHardlink(dst []byte, l Hardlink) []byte {
	dst = binary.AppendUvarint(dst, l.Group)
	dst = binary.AppendUvarint(dst, uint64(len(l.Path)))
	return append(dst, l.Path...)
}

// DecodeHardlink decodes ExtHardlink data. Path aliases p. The path is not
// checked: a restorer checks it like any stored path.
func DecodeHardlink(p []byte) (Hardlink, error) {
	d := decoder{b: p}
	var l Hardlink
	l.Group = d.uvarint()
	l.Path = d.bytes()
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return Hardlink{}, fmt.Errorf("%w: hardlink: %v", ErrBadRecord, d.err)
	}
	return l, nil
}

// DecodeExts decodes the known extensions among exts and skips the others.
// A known tag that appears twice, or whose data does not decode, is an
// error wrapping ErrBadRecord. Slices in the result alias the ext data.
func DecodeExts(exts []Ext) (Exts, error) {
	var out Exts
	var seenX bool
	for _, e := range exts {
		switch e.Tag {
		case ExtXattrs:
			if seenX {
				return Exts{}, fmt.Errorf("%w: xattrs extension repeated", ErrBadRecord)
			}
			seenX = true
			xs, err := DecodeXattrs(e.Data)
			if err != nil {
				return Exts{}, err
			}
			if len(xs) > 0 {
				out.Xattrs = xs
			}
		case ExtHardlink:
			if out.Hardlink != nil {
				return Exts{}, fmt.Errorf("%w: hardlink extension repeated", ErrBadRecord)
			}
			l, err := DecodeHardlink(e.Data)
			if err != nil {
				return Exts{}, err
			}
			out.Hardlink = &l
		}
	}
	return out, nil
}

// ExtData returns the data of h's first extension with tag.
func (h *FileHeader) ExtData(tag uint64) ([]byte, bool) {
	for _, e := range h.Ext {
		if e.Tag == tag {
			return e.Data, true
		}
	}
	return nil, false
}

// SetExt sets h's extension tag to data, replacing every extension with
// that tag. It does not modify the Ext slice h held before.
func (h *FileHeader) SetExt(tag uint64, data []byte) {
	h.Ext = append(dropExt(h.Ext, tag), Ext{Tag: tag, Data: data})
}

// DropExt removes h's extensions with tag. It does not modify the Ext
// slice h held before.
func (h *FileHeader) DropExt(tag uint64) {
	h.Ext = dropExt(h.Ext, tag)
}

// dropExt returns a new slice of exts without tag.
func dropExt(exts []Ext, tag uint64) []Ext {
	out := make([]Ext, 0, len(exts)+1)
	for _, e := range exts {
		if e.Tag != tag {
			out = append(out, e)
		}
	}
	return out
}
