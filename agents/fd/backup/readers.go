package backup

import (
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/datapath"
)

// Small files are read by a pool of readers, in order: the walk opens a
// file (so the walker's checks stay where they were) and queues it; a
// reader reads it whole, hashes it, compresses it if asked, reads its
// extended attributes, checks that it did not change, closes it and
// encodes its header, content and trailer records; the walk writes the
// encoded files to the stream in walk order. A file qualifies when it has
// one name, its blocks cover its size (no hole to look for) and it holds
// at most readMax bytes; anything else waits until every queued file is
// written and is sent by the walk itself, as before.
const (
	readers   = 4
	readAhead = 16 // files queued or read, not written yet
	readMax   = 128 << 10
)

// readJob is one small file: what the walk knows, then what the reader
// made of it.
type readJob struct {
	f    fileset.File
	hdr  datapath.FileHeader // Path owned by the job; no extensions
	done chan struct{}

	out   []byte // encoded records, nil if the file is skipped
	bytes int64  // content bytes in out
	warns []string
}

// readerPool runs the readers of one Send.
type readerPool struct {
	jobs chan *readJob
	wg   sync.WaitGroup
	free chan []byte // out buffers for reuse
}

func newReaderPool(compression string) (*readerPool, error) {
	p := &readerPool{jobs: make(chan *readJob, readAhead), free: make(chan []byte, readAhead+readers)}
	rs := make([]*reader, readers)
	for i := range rs {
		comp, err := datapath.NewCompressor(compression)
		if err != nil {
			return nil, err
		}
		rs[i] = &reader{comp: comp, hasher: blake3.New(), buf: make([]byte, readMax)}
	}
	p.wg.Add(readers)
	for _, r := range rs {
		go func() {
			defer p.wg.Done()
			for j := range p.jobs {
				j.out = r.read(j, p.buffer())
				close(j.done)
			}
		}()
	}
	return p, nil
}

func (p *readerPool) buffer() []byte {
	select {
	case b := <-p.free:
		return b[:0]
	default:
		return make([]byte, 0, 16<<10)
	}
}

func (p *readerPool) recycle(b []byte) {
	select {
	case p.free <- b:
	default:
	}
}

// stop lets the readers finish what is queued (closing every file) and
// ends them.
func (p *readerPool) stop() {
	close(p.jobs)
	p.wg.Wait()
}

// reader is one reader's reused state.
type reader struct {
	comp   *datapath.Compressor
	hasher *blake3.Hasher
	xr     fileset.XattrReader
	buf    []byte // readMax bytes of content
	zbuf   []byte
	sum    [32]byte
	exts   [1]datapath.Ext
	xbuf   []byte
}

// read reads, hashes and encodes one file into out, and closes it. A file
// whose read fails is skipped with a warning (nil); one that ended early
// is zero-padded to its announced size, one that changed is flagged, as
// the walk's own sending does. Without compression the content is read
// straight into its data record in out.
func (r *reader) read(j *readJob, out []byte) []byte {
	defer unix.Close(j.f.Fd)
	st := &j.f.Stat
	h := j.hdr
	h.Size, h.Mtime = st.Size, st.Mtim.Nano() // as opened, closest to the content
	if xs, err := r.xr.ReadFd(j.f.Fd); err != nil {
		j.warns = append(j.warns, fmt.Sprintf("extended attributes not saved: %v", err))
	} else if len(xs) > 0 {
		r.xbuf = datapath.AppendXattrs(r.xbuf[:0], xs)
		r.exts[0] = datapath.Ext{Tag: datapath.ExtXattrs, Data: r.xbuf}
		h.Ext = r.exts[:]
	}
	out = record(out, datapath.KindFileHeader, func(b []byte) []byte { return datapath.AppendFileHeader(b, &h) })
	inPlace := r.comp == nil && h.Size > 0
	content := r.buf[:h.Size]
	if inPlace {
		out = datapath.AppendPrefix(out, datapath.KindData, int(h.Size))
		at := len(out)
		out = slices.Grow(out, int(h.Size))[:at+int(h.Size)]
		content = out[at:]
	}
	n, err := readAt(j.f.Fd, content, 0)
	if err != nil && !isEOF(err) {
		j.warns = append(j.warns, fmt.Sprintf("skipped: read: %v", err))
		return nil
	}
	var c sent
	if int64(n) < h.Size {
		clear(content[n:])
		c.flags |= datapath.FlagTruncated | datapath.FlagChanged
		c.problem = shrunk(err)
	}
	c.checkChanged(j.f.Fd, st)
	if c.problem != "" {
		j.warns = append(j.warns, c.problem)
	}

	r.hasher.Reset()
	if len(content) > 0 {
		r.hasher.Write(content)
	}
	if len(content) > 0 && !inPlace {
		if z, ok := r.compress(content); ok {
			out = append(datapath.AppendPrefix(out, datapath.KindZData, len(z)), z...)
		} else {
			out = append(datapath.AppendPrefix(out, datapath.KindData, len(content)), content...)
		}
	}
	t := datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: r.hasher.Sum(r.sum[:0]), Flags: c.flags, Bytes: h.Size}
	j.bytes = h.Size
	return record(out, datapath.KindFileTrailer, func(b []byte) []byte { return datapath.AppendFileTrailer(b, &t) })
}

func (r *reader) compress(p []byte) ([]byte, bool) {
	if r.comp == nil {
		return nil, false
	}
	z, ok := r.comp.AppendZData(r.zbuf[:0], p)
	if ok {
		r.zbuf = z
	}
	return z, ok
}

// record appends a record whose payload enc appends.
func record(out []byte, k datapath.Kind, enc func([]byte) []byte) []byte {
	start := len(out)
	out = enc(datapath.AppendPrefix(out, k, 0))
	n := len(out) - start - datapath.PrefixLen
	return datapath.AppendPrefix(out[:start], k, n)[:start+datapath.PrefixLen+n]
}

// queue opens a regular file and gives it to a reader if it qualifies;
// queued reports whether it did. A file that does not qualify comes back
// open in f.
func (s *sender) queue(e *fileset.Entry, open func() (*os.File, error)) (f fileset.File, queued bool, err error) {
	f, err = openRegular(e, open)
	if err != nil {
		s.warn(e.Header.Path, fmt.Sprintf("skipped: %v", err))
		return f, true, nil // nothing more to do
	}
	if f.Stat.Size > readMax || f.Stat.Blocks*512 < f.Stat.Size {
		return f, false, nil
	}
	hdr := e.Header
	hdr.Path = append([]byte(nil), hdr.Path...)
	hdr.LinkTarget, hdr.Ext = nil, nil
	j := &readJob{f: f, hdr: hdr, done: make(chan struct{})}
	s.pending = append(s.pending, j)
	s.pool.jobs <- j
	return f, true, s.drain(readAhead)
}

// drain writes the read files at the head of the queue, in order: those
// done while more than keep are queued, then, with keep files or fewer,
// those already done.
func (s *sender) drain(keep int) error {
	for len(s.pending) > 0 {
		j := s.pending[0]
		if len(s.pending) <= keep {
			select {
			case <-j.done:
			default:
				return nil
			}
		} else {
			<-j.done
		}
		s.pending[0] = nil
		s.pending = s.pending[1:]
		if err := s.emit(j); err != nil {
			return err
		}
	}
	return nil
}

// emit writes one read file.
func (s *sender) emit(j *readJob) error {
	for _, w := range j.warns {
		s.warn(j.hdr.Path, w)
	}
	if j.out == nil {
		return nil
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if err := s.w.Raw(j.out); err != nil {
		return fatal(j.hdr.Path, err)
	}
	s.pool.recycle(j.out)
	s.totals.Files++
	s.totals.Bytes += j.bytes
	if j.bytes > 0 {
		s.report(j.hdr.Path)
	} else {
		s.tick(j.hdr.Path)
	}
	return nil
}
