package schemas

import (
	"encoding/binary"
	"fmt"
)

// MaxDepth bounds how deeply arrays and maps may nest in an envelope or a
// message body. Ferry's deepest message nests three levels (a reply holding
// a list of structs), so this leaves ample room for fields added later.
const MaxDepth = 32

// checkWire walks the first msgpack value in data without decoding it and
// refuses input the msgpack decoder would handle badly:
//
//   - a declared array or map length larger than the bytes that remain
//     (every element takes at least one byte). msgpack v5.4.1 preallocates
//     slices to the declared length (its allocation limit check in
//     decodeSliceValue is inverted), so a 12-byte body declaring 2^32-1
//     FileEntry values would otherwise kill the process with a fatal,
//     unrecoverable out-of-memory error;
//   - nesting deeper than MaxDepth: the decoder skips unknown fields
//     recursively, so a few megabytes of nested one-element arrays would
//     otherwise overflow the goroutine stack, which is fatal too;
//   - a string, bin or ext length past the end of the input, and the
//     reserved byte 0xc1.
//
// The walk is iterative and allocation-free apart from a MaxDepth stack.
func checkWire(data []byte) error {
	var stack [MaxDepth + 1]uint64 // items still to read at each open level
	depth := 0
	stack[0] = 1 // the top-level value
	pos := 0
	for {
		for depth >= 0 && stack[depth] == 0 {
			depth--
		}
		if depth < 0 {
			return nil
		}
		stack[depth]--

		if pos >= len(data) {
			return fmt.Errorf("truncated at byte %d", pos)
		}
		c := data[pos]
		pos++
		// skip is the payload after the header; items the number of values
		// the header opens (arrays: n, maps: 2n).
		var skip, items uint64
		var container bool
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
			// fixint, nil, false, true
		case c >= 0x80 && c <= 0x8f:
			container, items = true, 2*uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			container, items = true, uint64(c&0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = uint64(c & 0x1f)
		default:
			var n uint64
			var ok bool
			switch c {
			case 0xc4, 0xd9: // bin8, str8
				n, pos, ok = readLen(data, pos, 1)
				skip = n
			case 0xc5, 0xda: // bin16, str16
				n, pos, ok = readLen(data, pos, 2)
				skip = n
			case 0xc6, 0xdb: // bin32, str32
				n, pos, ok = readLen(data, pos, 4)
				skip = n
			case 0xc7: // ext8: length, type, data
				n, pos, ok = readLen(data, pos, 1)
				skip = n + 1
			case 0xc8: // ext16
				n, pos, ok = readLen(data, pos, 2)
				skip = n + 1
			case 0xc9: // ext32
				n, pos, ok = readLen(data, pos, 4)
				skip = n + 1
			case 0xcc, 0xd0: // uint8, int8
				ok, skip = true, 1
			case 0xcd, 0xd1: // uint16, int16
				ok, skip = true, 2
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				ok, skip = true, 4
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				ok, skip = true, 8
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 (plus type byte)
				ok, skip = true, 1+(uint64(1)<<(c-0xd4))
			case 0xdc: // array16
				n, pos, ok = readLen(data, pos, 2)
				container, items = true, n
			case 0xdd: // array32
				n, pos, ok = readLen(data, pos, 4)
				container, items = true, n
			case 0xde: // map16
				n, pos, ok = readLen(data, pos, 2)
				container, items = true, 2*n
			case 0xdf: // map32
				n, pos, ok = readLen(data, pos, 4)
				container, items = true, 2*n
			default: // 0xc1 is never used
				return fmt.Errorf("invalid msgpack code 0x%02x at byte %d", c, pos-1)
			}
			if !ok {
				return fmt.Errorf("truncated length at byte %d", pos)
			}
		}
		rest := uint64(len(data) - pos)
		if skip > rest {
			return fmt.Errorf("value at byte %d declares %d bytes, %d remain", pos, skip, rest)
		}
		pos += int(skip)
		if !container || items == 0 {
			continue
		}
		if items > rest {
			return fmt.Errorf("container at byte %d declares %d items, %d bytes remain", pos, items, rest)
		}
		if depth+1 > MaxDepth {
			return fmt.Errorf("nesting deeper than %d at byte %d", MaxDepth, pos)
		}
		depth++
		stack[depth] = items
	}
}

// readLen reads a big-endian length of size bytes at pos.
func readLen(data []byte, pos, size int) (uint64, int, bool) {
	if len(data)-pos < size {
		return 0, pos, false
	}
	b := data[pos : pos+size]
	switch size {
	case 1:
		return uint64(b[0]), pos + 1, true
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), pos + 2, true
	default:
		return uint64(binary.BigEndian.Uint32(b)), pos + 4, true
	}
}
