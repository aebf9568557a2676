package datapath

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

func BenchmarkWriterData(b *testing.B) {
	chunk := pattern(MaxChunk)
	w := NewWriter(io.Discard)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Data(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriterSmallFile writes the records of one small file (header, a
// 4 KiB data record, trailer): the per-record cost, locks included.
func BenchmarkWriterSmallFile(b *testing.B) {
	h := benchHeader()
	data := pattern(4096)
	t := FileTrailer{Algo: 1, Sum: make([]byte, 32), Bytes: int64(len(data))}
	w := NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Header(&h); err != nil {
			b.Fatal(err)
		}
		if err := w.Data(data); err != nil {
			b.Fatal(err)
		}
		if err := w.Trailer(&t); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// repeatReader yields buf over and over.
type repeatReader struct {
	buf []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.buf[r.off:])
	r.off = (r.off + n) % len(r.buf)
	return n, nil
}

func BenchmarkReaderData(b *testing.B) {
	stream := frame(rec{KindData, pattern(MaxChunk)})
	r := NewReader(&repeatReader{buf: stream})
	b.SetBytes(MaxChunk)
	b.ReportAllocs()
	for b.Loop() {
		got, err := r.Next()
		if err != nil || len(got.Payload) != MaxChunk {
			b.Fatalf("%d bytes, %v", len(got.Payload), err)
		}
	}
}

func benchHeader() FileHeader {
	return FileHeader{
		Path: []byte("home/alice/projects/ferry/agents/sd/volume/testdata/block-000042.bin"),
		Type: TypeRegular, Mode: 0o644, UID: 1000, GID: 1000,
		Mtime: 1_700_000_000_123_456_789, Atime: 1_700_000_000_123_456_789, Size: 123456,
		Ext: []Ext{{Tag: 1, Data: []byte("user.mime_type\x00text/plain")}},
	}
}

func BenchmarkHeaderEncode(b *testing.B) {
	h := benchHeader()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendFileHeader(buf[:0], &h)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkHeaderDecode(b *testing.B) {
	h := benchHeader()
	enc := AppendFileHeader(nil, &h)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeFileHeader(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoopbackStream sends 256 MiB of data records per op from an fd
// to an sd over a real, handshaken loopback TCP connection: with TLS (the
// sub-benchmark under "tls" is named after the negotiated cipher suite) and
// plain, in the same run.
func BenchmarkLoopbackStream(b *testing.B) {
	b.Run("tls", func(b *testing.B) {
		fdConn, sdConn := benchConns(b, ids[RoleSD].PublicKey(), Security{Identity: ids[RoleSD]}, Security{Identity: ids[RoleFD]})
		version, suite, _ := TLSInfo(fdConn)
		b.Logf("data socket: %s, %s", version, suite)
		b.Run(suite, func(b *testing.B) { benchStream(b, fdConn, sdConn) })
	})
	b.Run("plain", func(b *testing.B) {
		fdConn, sdConn := benchConns(b, "", Security{Insecure: true}, Security{Insecure: true})
		benchStream(b, fdConn, sdConn)
	})
}

// benchConns connects an fd (fdSec) to an sd's listener (sdSec) for one job.
func benchConns(b *testing.B, sdKey string, sdSec, fdSec Security) (fdConn, sdConn net.Conn) {
	l, err := Listen("127.0.0.1:0", RoleSD, sdSec, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go func() { _ = l.Serve(ctx) }()

	const job = 1
	key := NewKey()
	fdKey := ""
	if sdKey != "" {
		fdKey = ids[RoleFD].PublicKey()
	}
	x := l.Expect(job, RoleFD, key, fdKey)
	dctx, dcancel := context.WithTimeout(ctx, testDeadline)
	defer dcancel()
	fdConn, err = Dial(dctx, l.Addr().String(), RoleFD, job, key, sdKey, testDeadline, fdSec)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fdConn.Close() })
	sdConn, err = x.Wait(dctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sdConn.Close() })
	return fdConn, sdConn
}

// benchStream streams 256 MiB per op through a Writer and a Reader: the
// Writer hands the socket whole 1 MiB records, so TLS records are full.
func benchStream(b *testing.B, fdConn, sdConn net.Conn) {
	const perOp = 256 << 20
	chunk := pattern(MaxChunk)
	cw := &countWriter{w: fdConn}
	w := NewWriter(cw)
	r := NewReader(sdConn)
	werr := make(chan error, 1)
	b.SetBytes(perOp)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		deadline := time.Now().Add(time.Minute)
		_ = fdConn.SetDeadline(deadline)
		_ = sdConn.SetDeadline(deadline)
		go func() {
			for sent := 0; sent < perOp; sent += len(chunk) {
				if err := w.Data(chunk); err != nil {
					werr <- err
					return
				}
			}
			werr <- w.End(&StreamEnd{Files: 1, Bytes: perOp})
		}()
		var got int64
		for {
			rec, err := r.Next()
			if err != nil {
				b.Fatalf("read after %d bytes: %v", got, err)
			}
			if rec.Kind == KindStreamEnd {
				break
			}
			got += int64(len(rec.Payload))
		}
		if err := <-werr; err != nil {
			b.Fatal(err)
		}
		if got != perOp {
			b.Fatalf("received %d bytes, sent %d", got, perOp)
		}
	}
	b.StopTimer()
	if cw.writes > 0 {
		b.ReportMetric(float64(cw.bytes)/float64(cw.writes), "B/write")
	}
}

// countWriter counts the writes that reach the socket.
type countWriter struct {
	w      io.Writer
	writes int64
	bytes  int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.writes++
	c.bytes += int64(len(p))
	return c.w.Write(p)
}
