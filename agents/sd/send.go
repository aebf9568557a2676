package sd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/schemas"
)

// send streams a stored job back to the fd once the director says start.
// Records are replayed as stored; a path selection drops the records of
// files outside it, and keeps hardlink groups whole (see replayer.header).
func (a *Agent) send(s *session, conn net.Conn, rep *schemas.AgentReport) error {
	if err := s.ch.WaitStart(); err != nil {
		return err
	}
	w := datapath.NewWriter(datapath.LimitWriter(s.ctx(), conn, s.open.BandwidthBps))
	// Heartbeats while the replay sends nothing (e.g. skipping what a
	// path selection leaves out); the fd's receiver skips them.
	stopBeats := w.StartHeartbeats(s.ctx(), datapath.KeepAliveFromMs(s.open.KeepaliveMs))
	defer stopBeats()
	rp := newReplayer(s.ctx(), w, uint64(s.open.SourceJob), s.open.Client, s.open.Paths)
	defer rp.close()
	for _, m := range s.open.Media {
		if err := a.replay(s, m, rp); err != nil {
			return err
		}
	}
	sel := &rp.sel
	if sel.inFile {
		return fmt.Errorf("stored session of job %d ends inside a file", s.open.SourceJob)
	}
	if err := rp.w.End(&datapath.StreamEnd{Files: sel.files, Bytes: sel.bytes}); err != nil {
		return fmt.Errorf("send to client %s: %w", s.open.Client, err)
	}
	rep.Files, rep.Bytes = sel.files, sel.bytes
	return waitPeerClose(conn)
}

func (a *Agent) replay(s *session, m schemas.MediaRef, rp *replayer) error {
	p, err := a.vols.path(m.Volume)
	if err != nil {
		return err
	}
	if err := rp.replay(p, m.Start); err != nil {
		return fmt.Errorf("read job %d from volume %s: %w", s.open.SourceJob, m.Volume, err)
	}
	return nil
}

// replayer replays the stored records of one job, through a selection, to
// a writer.
type replayer struct {
	ctx     context.Context
	w       *datapath.Writer
	job     uint64
	client  string
	sel     selection
	readers map[string]*volume.Reader // for re-reading group first entries, by volume file

	// run is the records passed to send and not written yet: adjacent
	// records of the block being replayed, written with one call (see
	// send), before the block's buffer is reused.
	run []byte
}

func newReplayer(ctx context.Context, w *datapath.Writer, job uint64, client string, paths [][]byte) *replayer {
	return &replayer{
		ctx: ctx, w: w, job: job, client: client,
		sel: selection{
			paths:  paths,
			unsent: make(map[uint64]storedEntry),
			sent:   make(map[uint64][]byte),
		},
		readers: make(map[string]*volume.Reader),
	}
}

// close closes the volumes opened for re-reading.
func (rp *replayer) close() {
	for _, r := range rp.readers {
		r.Close()
	}
	clear(rp.readers)
}

// replay replays the job's session that starts at offset start of the
// volume file at path.
func (rp *replayer) replay(path string, start int64) error {
	r, err := volume.OpenReader(path)
	if err != nil {
		return fmt.Errorf("open volume: %w", err)
	}
	defer r.Close()
	return r.ReadSession(rp.job, start, func(pos volume.Position, payload []byte) error {
		if err := rp.ctx.Err(); err != nil {
			return err
		}
		within := 0
		err := datapath.SplitRecords(payload, func(k datapath.Kind, p, raw []byte) error {
			at := volume.Position{Block: pos.Block, Within: uint32(within)}
			within += len(raw)
			return rp.record(k, p, raw, path, at)
		})
		if err != nil {
			return err
		}
		return rp.flush() // the payload's buffer is read into next
	})
}

// selection filters stored records by path and counts what is sent.
type selection struct {
	paths        [][]byte
	inFile, pass bool
	files, bytes int64

	// Hardlink groups (datapath.ExtHardlink). unsent: where the first
	// entry of a group that was left out is stored. sent: the path under
	// which each group's first entry went out in this stream.
	unsent map[uint64]storedEntry
	sent   map[uint64][]byte
}

// storedEntry locates an entry's header record in a volume.
type storedEntry struct {
	volume string // volume file
	pos    volume.Position
	path   []byte // its stored path
}

// record filters one stored record found at pos of the volume file vol.
func (rp *replayer) record(k datapath.Kind, p, raw []byte, vol string, pos volume.Position) error {
	sel := &rp.sel
	switch k {
	case datapath.KindFileHeader:
		return rp.header(p, raw, vol, pos)
	case datapath.KindFileTrailer:
		sel.inFile = false
		if !sel.pass {
			return nil
		}
		sel.files++
	case datapath.KindData, datapath.KindZData:
		if !sel.pass {
			return nil
		}
		sel.bytes += datapath.ContentLen(k, p)
	case datapath.KindStreamEnd, datapath.KindHeartbeat:
		return nil
	default:
		if !sel.pass {
			return nil
		}
	}
	return rp.send(raw)
}

// header decides about a file header and the records up to its trailer.
//
// A hardlink group keeps its content whatever the selection: when a
// selected entry is a later name of a group whose first entry was left
// out, the first entry's records are read again from the volume and sent
// under the selected name, which becomes the group's first entry in this
// stream; later selected names of the group then refer to it.
func (rp *replayer) header(p, raw []byte, vol string, pos volume.Position) error {
	sel := &rp.sel
	sel.inFile = true
	h, err := datapath.DecodeFileHeader(p)
	if err != nil {
		sel.pass = true // a bad header goes on: the fd refuses it loudly
		return rp.send(raw)
	}
	sel.pass = sel.selected(h.Path)
	ext, err := datapath.DecodeExts(h.Ext)
	if err != nil || ext.Hardlink == nil {
		if !sel.pass {
			return nil
		}
		return rp.send(raw) // a bad extension goes on too
	}
	l := ext.Hardlink
	if l.First() {
		if !sel.pass {
			sel.unsent[l.Group] = storedEntry{volume: vol, pos: pos, path: bytes.Clone(h.Path)}
			return nil
		}
		delete(sel.unsent, l.Group)
		sel.sent[l.Group] = bytes.Clone(h.Path)
		return rp.send(raw)
	}
	if !sel.pass {
		return nil
	}
	if first, ok := sel.sent[l.Group]; ok {
		if bytes.Equal(first, l.Path) {
			return rp.send(raw)
		}
		h.SetExt(datapath.ExtHardlink, datapath.AppendHardlink(nil, datapath.Hardlink{Group: l.Group, Path: first}))
		return rp.sendHeader(&h)
	}
	st, ok := sel.unsent[l.Group]
	if !ok || !bytes.Equal(st.path, l.Path) {
		return rp.send(raw) // no such first entry before: the fd refuses it
	}
	if err := rp.resend(st, h.Path, l.Group); err != nil {
		return err
	}
	delete(sel.unsent, l.Group)
	sel.sent[l.Group] = bytes.Clone(h.Path)
	sel.pass = false // this entry's own records (an empty trailer) are replaced
	return nil
}

// errStop ends a SplitRecords early.
var errStop = errors.New("stop")

// resend sends the stored entry st, from its header to its trailer, under
// path as the first entry of hardlink group. Its records are read from the
// volume with a reader of their own (the replay's buffer is in use): the
// header's block, from the header on, then the following blocks of the
// session, which are contiguous, up to the trailer.
func (rp *replayer) resend(st storedEntry, path []byte, group uint64) error {
	r, err := rp.reader(st.volume)
	if err != nil {
		return err
	}
	off, within := st.pos.Block, int(st.pos.Within)
	header, done := true, false
	for !done {
		h, payload, err := r.ReadBlockAt(off)
		if err != nil {
			return fmt.Errorf("re-read %q (hardlinked to %q) at offset %d: %w", st.path, path, off, err)
		}
		if h.Kind != volume.KindData || h.Session != rp.job || within > len(payload) {
			return fmt.Errorf("re-read %q (hardlinked to %q): %s block of session %d at offset %d, before its trailer",
				st.path, path, h.Kind, h.Session, off)
		}
		err = datapath.SplitRecords(payload[within:], func(k datapath.Kind, p, raw []byte) error {
			if header {
				header = false
				return rp.resendHeader(k, p, st, path, group)
			}
			switch k {
			case datapath.KindFileHeader, datapath.KindStreamEnd:
				return fmt.Errorf("re-read %q (hardlinked to %q): %s record before its trailer", st.path, path, k)
			case datapath.KindHeartbeat:
				return nil
			case datapath.KindData, datapath.KindZData:
				rp.sel.bytes += datapath.ContentLen(k, p)
			case datapath.KindFileTrailer:
				rp.sel.files++
				done = true
			}
			if err := rp.send(raw); err != nil {
				return err
			}
			if done {
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop {
			return err
		}
		if err := rp.flush(); err != nil { // r's buffer is read into next
			return err
		}
		off += volume.HeaderSize + int64(len(payload))
		within = 0
	}
	return nil
}

// resendHeader sends the re-read header record of st under path, as the
// first entry of its group.
func (rp *replayer) resendHeader(k datapath.Kind, p []byte, st storedEntry, path []byte, group uint64) error {
	if k != datapath.KindFileHeader {
		return fmt.Errorf("re-read %q (hardlinked to %q): a %s record where its header was", st.path, path, k)
	}
	h, err := datapath.DecodeFileHeader(p)
	if err != nil {
		return fmt.Errorf("re-read %q (hardlinked to %q): %w", st.path, path, err)
	}
	if !bytes.Equal(h.Path, st.path) {
		return fmt.Errorf("re-read %q (hardlinked to %q): found the header of %q", st.path, path, h.Path)
	}
	h.Path = path
	h.SetExt(datapath.ExtHardlink, datapath.AppendHardlink(nil, datapath.Hardlink{Group: group}))
	return rp.sendHeader(&h)
}

// reader returns the re-reading reader of the volume file at path.
func (rp *replayer) reader(path string) (*volume.Reader, error) {
	if r := rp.readers[path]; r != nil {
		return r, nil
	}
	r, err := volume.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("open volume for re-reading: %w", err)
	}
	rp.readers[path] = r
	return r, nil
}

// send sends a stored record. Records that follow each other in the
// block being replayed are gathered and written together when one that
// does not follow comes, when a header is re-encoded, or when the block
// ends (flush): a run of whole blocks goes to the socket without being
// copied record by record.
func (rp *replayer) send(raw []byte) error {
	if n := len(rp.run); n > 0 && n+len(raw) <= cap(rp.run) && &rp.run[:n+1][n] == &raw[0] {
		rp.run = rp.run[:n+len(raw)]
		return nil
	}
	if err := rp.flush(); err != nil {
		return err
	}
	rp.run = raw
	return nil
}

// flush writes the records gathered by send.
func (rp *replayer) flush() error {
	run := rp.run
	rp.run = nil
	if len(run) == 0 {
		return nil
	}
	if err := rp.w.Raw(run); err != nil {
		return fmt.Errorf("send to client %s: %w", rp.client, err)
	}
	return nil
}

func (rp *replayer) sendHeader(h *datapath.FileHeader) error {
	if err := rp.flush(); err != nil {
		return err
	}
	if err := rp.w.Header(h); err != nil {
		return fmt.Errorf("send to client %s: %w", rp.client, err)
	}
	return nil
}

// selected: no selection, the path itself, or something below it.
func (sel *selection) selected(path []byte) bool {
	if len(sel.paths) == 0 {
		return true
	}
	for _, p := range sel.paths {
		p = bytes.TrimSuffix(bytes.TrimPrefix(p, []byte("/")), []byte("/"))
		if bytes.Equal(path, p) || len(p) == 0 || bytes.HasPrefix(path, p) && path[len(p)] == '/' {
			return true
		}
	}
	return false
}

// waitPeerClose lets the fd finish reading before the socket closes.
func waitPeerClose(conn net.Conn) error {
	if tc, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	var b [1]byte
	_, _ = conn.Read(b[:])
	return nil
}
