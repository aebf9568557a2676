package datapath

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"
)

// bufSize is the socket buffer on each side: large enough that a 1 MiB data
// record costs few syscalls, small enough to keep daemons lean.
const bufSize = 256 << 10

// Writer frames records onto a stream. Its methods may be called from
// several goroutines (each record is written whole, under a lock), which
// lets StartHeartbeats write between the sender's records.
type Writer struct {
	mu      sync.Mutex // guards everything below, and writes to bw
	bw      *bufio.Writer
	out     wire
	scratch []byte
	pre     [PrefixLen]byte // reused record prefix: no allocation per record
	ended   bool            // End was called: no heartbeat follows
}

// wire is the Writer's view of its stream: it notes when bytes last went
// out. Only written under Writer.mu (bufio writes to it from there).
type wire struct {
	w    io.Writer
	last time.Time
}

func (x *wire) Write(p []byte) (int, error) {
	n, err := x.w.Write(p)
	x.last = time.Now()
	return n, err
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	nw := &Writer{out: wire{w: w, last: time.Now()}, scratch: make([]byte, 0, 512)}
	nw.bw = bufio.NewWriterSize(&nw.out, bufSize)
	return nw
}

// Header writes a file header record.
func (w *Writer) Header(h *FileHeader) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scratch = AppendFileHeader(w.scratch[:0], h)
	return w.record(KindFileHeader, w.scratch)
}

// Data writes p as one or more data records of at most MaxChunk bytes.
func (w *Writer) Data(p []byte) error {
	for len(p) > 0 {
		n := min(len(p), MaxChunk)
		w.mu.Lock()
		err := w.record(KindData, p[:n])
		w.mu.Unlock()
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// ZData writes one zdata record: payload is what Compressor.AppendZData
// made of at most MaxChunk bytes of content.
func (w *Writer) ZData(payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.record(KindZData, payload)
}

// Hole writes a hole record.
func (w *Writer) Hole(offset, length int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scratch = AppendHole(w.scratch[:0], offset, length)
	return w.record(KindHole, w.scratch)
}

// Trailer writes a file trailer record.
func (w *Writer) Trailer(t *FileTrailer) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scratch = AppendFileTrailer(w.scratch[:0], t)
	return w.record(KindFileTrailer, w.scratch)
}

// Heartbeat writes an empty heartbeat record and flushes it.
func (w *Writer) Heartbeat() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.heartbeat()
}

func (w *Writer) heartbeat() error {
	if err := w.record(KindHeartbeat, nil); err != nil {
		return err
	}
	return w.bw.Flush()
}

// End writes the stream-end record and flushes. No heartbeat follows it.
func (w *Writer) End(e *StreamEnd) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = true
	w.scratch = AppendStreamEnd(w.scratch[:0], e)
	if err := w.record(KindStreamEnd, w.scratch); err != nil {
		return err
	}
	return w.bw.Flush()
}

// Raw writes already framed records (as stored in a volume), one or
// several in a row.
func (w *Writer) Raw(rec []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.bw.Write(rec)
	return err
}

// Flush sends buffered records.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bw.Flush()
}

// record writes one record; the caller holds mu.
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

// StartHeartbeats keeps the stream from going quiet while the sender has
// nothing to send (a walk through unchanged files, a read blocked on a slow
// file): whenever nothing went out for every, it pushes out the records
// still buffered or, with none, writes a heartbeat record, and flushes.
// Receivers skip heartbeats (the sd never stores them), so the stream
// means the same with or without them; what they buy is traffic that
// middleboxes with an idle timeout (NAT, firewalls, proxies that end TCP
// and so never forward kernel keepalives) see, and records arriving at
// most every late.
//
// The heartbeats stop when ctx ends, when End is called, after a failed
// write (the sender sees the same error on its next record: bufio keeps
// it), or when stop is called; stop waits until no heartbeat is being
// written. every <= 0 starts nothing.
func (w *Writer) StartHeartbeats(ctx context.Context, every time.Duration) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	w.mu.Lock()
	w.out.last = time.Now() // quiet is counted from now
	w.mu.Unlock()
	go func() {
		defer close(exited)
		t := time.NewTimer(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-quit:
				return
			case <-t.C:
			}
			next, ok := w.beat(every)
			if !ok {
				return
			}
			t.Reset(next)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-exited
	}
}

// beat sends a sign of life if nothing went out for every. It returns when
// to look again, and false once heartbeats must stop.
func (w *Writer) beat(every time.Duration) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return 0, false
	}
	if quiet := time.Since(w.out.last); quiet < every {
		return every - quiet, true
	}
	var err error
	if w.bw.Buffered() > 0 {
		err = w.bw.Flush() // buffered records are sign enough
	} else {
		err = w.heartbeat()
	}
	if err != nil {
		return 0, false
	}
	return every, true
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
	return &Reader{br: bufio.NewReaderSize(r, bufSize)}
}

// Next reads the next record. io.EOF only at a clean record boundary.
// A record that fits the read buffer is returned in place, without a copy
// (most records of a small-file stream); a larger one is copied out.
func (r *Reader) Next() (Record, error) {
	pre, err := r.br.Peek(PrefixLen)
	if err != nil {
		if err == io.EOF && len(pre) > 0 {
			err = fmt.Errorf("%w: truncated prefix", ErrShortRecord)
		}
		return Record{}, err
	}
	k := Kind(pre[0])
	n := binary.LittleEndian.Uint32(pre[1:PrefixLen])
	if n > MaxRecordBody {
		return Record{}, fmt.Errorf("%w: %s record of %d bytes", ErrRecordSize, k, n)
	}
	end := PrefixLen + int(n)
	if end <= r.br.Size() {
		raw, err := r.br.Peek(end)
		if err != nil {
			return Record{}, shortRecord(k, err)
		}
		_, _ = r.br.Discard(end) // the bytes stay in place until the next read
		return Record{Kind: k, Payload: raw[PrefixLen:], Raw: raw}, nil
	}
	if end > len(r.buf) {
		r.buf = make([]byte, end)
	}
	if _, err := io.ReadFull(r.br, r.buf[:end]); err != nil {
		return Record{}, shortRecord(k, err)
	}
	return Record{Kind: k, Payload: r.buf[PrefixLen:end], Raw: r.buf[:end]}, nil
}

// shortRecord is the error for a record of kind k cut by err.
func shortRecord(k Kind, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %s record: %v", ErrShortRecord, k, err)
}
