package sd

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/schemas"
)

// store receives a backup stream from the fd and writes it into the
// session's volume. The records go to the volume unchanged; headers and
// trailers also feed the file list sent to the director (delivered from a
// chunkSender while the stream goes on). The volume is
// fsynced (session end) before the report says OK.
func (a *Agent) store(s *session, conn net.Conn, rep *schemas.AgentReport) error {
	meta := []byte("job=" + strconv.FormatInt(s.open.JobID, 10) + " client=" + s.open.Client)
	vs, err := s.vol.BeginSession(uint64(s.open.JobID), meta)
	if err != nil {
		return fmt.Errorf("volume %s: begin session: %w; %s", s.vol.Name(), err, a.volumeHint())
	}
	st := &storeState{a: a, s: s, vs: vs}
	chunks := newChunkSender(s.ctx(), st.deliverChunk)
	defer chunks.stop()
	st.files = bus.NewBatcher(a.bus, entrySize, chunks.send)
	if err := st.receive(datapath.NewReader(conn)); err != nil {
		if aerr := vs.AbortAs(s.endStatus(), meta); aerr != nil {
			a.log.Error("volume session not closed", "volume", s.vol.Name(), "job", s.open.JobID, "err", aerr)
		}
		return err
	}
	totals := volume.Totals{Files: uint64(st.nfiles), Bytes: uint64(st.nbytes), Records: st.records}
	end, err := vs.End(volume.SessionOK, totals, meta)
	if err != nil {
		return fmt.Errorf("volume %s: end session: %w; %s", s.vol.Name(), err, a.volumeHint())
	}
	if err := st.files.Flush(); err != nil {
		return err
	}
	if err := chunks.wait(); err != nil {
		return err
	}
	rep.Files, rep.Bytes, rep.FileChunks = st.nfiles, st.nbytes, st.files.Chunks()
	rep.Media = []schemas.MediaRef{{Volume: s.vol.Name(), Start: vs.StartOffset(), End: end}}
	rep.FirstData = st.first.UnixNano()
	return nil
}

type storeState struct {
	a       *Agent
	s       *session
	vs      *volume.Session
	files   *bus.Batcher[schemas.FileEntry]
	cur     schemas.FileEntry
	inFile  bool
	nfiles  int64
	nbytes  int64
	records uint64
	first   time.Time
}

func (st *storeState) receive(r *datapath.Reader) error {
	for {
		rec, err := r.Next()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("data stream from client %s ended before its end record: %w", st.s.open.Client, err)
		}
		if st.first.IsZero() && rec.Kind != datapath.KindHeartbeat {
			st.first = time.Now() // a heartbeat is no data
		}
		done, err := st.record(rec)
		if err != nil || done {
			return err
		}
	}
}

func (st *storeState) record(rec datapath.Record) (bool, error) {
	switch rec.Kind {
	case datapath.KindHeartbeat:
		return false, nil
	case datapath.KindStreamEnd:
		return true, st.end(rec.Payload)
	case datapath.KindFileHeader:
		if err := st.header(rec.Payload); err != nil {
			return false, err
		}
	case datapath.KindData, datapath.KindZData: // zdata is stored compressed, as it came
		if !st.inFile {
			return false, fmt.Errorf("data record outside a file")
		}
		if rec.Kind == datapath.KindZData {
			if _, err := datapath.ZDataLen(rec.Payload); err != nil {
				return false, err
			}
		}
		st.nbytes += datapath.ContentLen(rec.Kind, rec.Payload)
	case datapath.KindHole:
		if !st.inFile {
			return false, fmt.Errorf("hole record outside a file")
		}
	case datapath.KindFileTrailer:
		if err := st.trailer(rec.Payload); err != nil {
			return false, err
		}
	default:
		return false, fmt.Errorf("unknown record kind %d in the data stream", rec.Kind)
	}
	pos, err := st.vs.Add(rec.Raw)
	if err != nil {
		return false, fmt.Errorf("%w; %s", err, st.a.volumeHint()) // the volume's error names it and the write
	}
	st.records++
	if rec.Kind == datapath.KindFileHeader {
		st.cur.Volume, st.cur.Block = st.s.vol.Name(), pos.Block
	}
	return false, nil
}

func (st *storeState) header(p []byte) error {
	if st.inFile {
		return fmt.Errorf("file header before the previous file's trailer")
	}
	h, err := datapath.DecodeFileHeader(p)
	if err != nil {
		return err
	}
	st.inFile = true
	st.cur = schemas.FileEntry{
		Path: append([]byte(nil), h.Path...), Type: uint8(h.Type), Mode: h.Mode, UID: h.UID, GID: h.GID,
		Mtime: h.Mtime, Size: h.Size, LinkTarget: append([]byte(nil), h.LinkTarget...),
	}
	return nil
}

func (st *storeState) trailer(p []byte) error {
	if !st.inFile {
		return fmt.Errorf("file trailer without a header")
	}
	t, err := datapath.DecodeFileTrailer(p)
	if err != nil {
		return err
	}
	st.inFile = false
	st.cur.Algo, st.cur.Sum, st.cur.Flags = t.Algo, append([]byte(nil), t.Sum...), t.Flags
	st.nfiles++
	return st.files.Add(st.cur)
}

func (st *storeState) end(p []byte) error {
	e, err := datapath.DecodeStreamEnd(p)
	if err != nil {
		return err
	}
	if st.inFile {
		return fmt.Errorf("stream ended inside a file")
	}
	if e.Files != st.nfiles || e.Bytes != st.nbytes {
		return fmt.Errorf("stream totals disagree with what arrived: fd says %d files, %d bytes; received %d files, %d bytes",
			e.Files, e.Bytes, st.nfiles, st.nbytes)
	}
	return nil
}

// sendChunk delivers a file-list chunk and waits for the director's ack.
func (st *storeState) sendChunk(seq int, files []schemas.FileEntry) error {
	return st.deliverChunk(st.s.ctx(), seq, files)
}

func (st *storeState) deliverChunk(ctx context.Context, seq int, files []schemas.FileEntry) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	chunk := schemas.FileChunk{JobID: st.s.open.JobID, Seq: seq, Files: files}
	if _, err := bus.Deliver(ctx, st.a.bus, schemas.DirFiles, chunk, st.a.cfg.Name); err != nil {
		return fmt.Errorf("file list chunk %d to the director: %w", seq, err)
	}
	return nil
}

func entrySize(f schemas.FileEntry) int {
	return len(f.Path) + len(f.LinkTarget) + len(f.Sum) + len(f.Volume) + 96
}

// volumeHint says what to check when a volume write fails.
func (a *Agent) volumeHint() string {
	return fmt.Sprintf("check free space and the disk under %s on storage daemon %s; the volume takes no further writes", a.cfg.VolumeDir, a.cfg.Name)
}
