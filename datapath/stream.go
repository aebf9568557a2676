package datapath

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// bufSize is the socket buffer on each side: large enough that a 1 MiB data
// record costs few syscalls, small enough to keep daemons lean.
const bufSize = 256 << 10

// Writer frames records onto a stream. Not safe for concurrent use.
type Writer struct {
	bw      *bufio.Writer
	scratch []byte
	pre     [PrefixLen]byte // reused record prefix: no allocation per record
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, bufSize), scratch: make([]byte, 0, 512)}
}

// Header writes a file header record.
func (w *Writer) Header(h *FileHeader) error {
	w.scratch = AppendFileHeader(w.scratch[:0], h)
	return w.record(KindFileHeader, w.scratch)
}

// Data writes p as one or more data records of at most MaxChunk bytes.
func (w *Writer) Data(p []byte) error {
	for len(p) > 0 {
		n := min(len(p), MaxChunk)
		if err := w.record(KindData, p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// Hole writes a hole record.
func (w *Writer) Hole(offset, length int64) error {
	w.scratch = AppendHole(w.scratch[:0], offset, length)
	return w.record(KindHole, w.scratch)
}

// Trailer writes a file trailer record.
func (w *Writer) Trailer(t *FileTrailer) error {
	w.scratch = AppendFileTrailer(w.scratch[:0], t)
	return w.record(KindFileTrailer, w.scratch)
}

// Heartbeat writes an empty heartbeat record and flushes it.
func (w *Writer) Heartbeat() error {
	if err := w.record(KindHeartbeat, nil); err != nil {
		return err
	}
	return w.bw.Flush()
}

// End writes the stream-end record and flushes.
func (w *Writer) End(e *StreamEnd) error {
	w.scratch = AppendStreamEnd(w.scratch[:0], e)
	if err := w.record(KindStreamEnd, w.scratch); err != nil {
		return err
	}
	return w.bw.Flush()
}

// Raw writes an already framed record (as stored in a volume).
func (w *Writer) Raw(rec []byte) error {
	_, err := w.bw.Write(rec)
	return err
}

// Flush sends buffered records.
func (w *Writer) Flush() error { return w.bw.Flush() }

func (w *Writer) record(k Kind, p []byte) error {
	if len(p) > MaxRecordBody {
		// Every Reader and SplitRecords refuses such a record: writing it
		// would store a stream that cannot be restored.
		return fmt.Errorf("%w: %s record of %d bytes", ErrRecordSize, k, len(p))
	}
	w.pre[0] = byte(k)
	binary.LittleEndian.PutUint32(w.pre[1:], uint32(len(p)))
	if _, err := w.bw.Write(w.pre[:]); err != nil {
		return err
	}
	_, err := w.bw.Write(p)
	return err
}

// Record is one record read from a stream. Its slices are valid until the
// next call to Next.
type Record struct {
	Kind    Kind
	Payload []byte
	Raw     []byte // prefix and payload, as stored in volumes
}

// Reader reads records from a stream.
type Reader struct {
	br  *bufio.Reader
	buf []byte
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, bufSize), buf: make([]byte, PrefixLen+MaxChunk+64)}
}

// Next reads the next record. io.EOF only at a clean record boundary.
func (r *Reader) Next() (Record, error) {
	if _, err := io.ReadFull(r.br, r.buf[:PrefixLen]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: truncated prefix", ErrShortRecord)
		}
		return Record{}, err
	}
	n := binary.LittleEndian.Uint32(r.buf[1:PrefixLen])
	if n > MaxRecordBody {
		return Record{}, fmt.Errorf("%w: %s record of %d bytes", ErrRecordSize, Kind(r.buf[0]), n)
	}
	end := PrefixLen + int(n)
	if end > len(r.buf) {
		grown := make([]byte, end)
		copy(grown, r.buf[:PrefixLen])
		r.buf = grown
	}
	if _, err := io.ReadFull(r.br, r.buf[PrefixLen:end]); err != nil {
		return Record{}, fmt.Errorf("%w: %s record: %v", ErrShortRecord, Kind(r.buf[0]), err)
	}
	return Record{Kind: Kind(r.buf[0]), Payload: r.buf[PrefixLen:end], Raw: r.buf[:end]}, nil
}
