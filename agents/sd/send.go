package sd

import (
	"bytes"
	"context"
	"fmt"
	"net"

	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/schemas"
)

// send streams a stored job back to the fd once the director says start.
// Records are replayed as stored; a path selection drops the records of
// files outside it.
func (a *Agent) send(s *session, conn net.Conn, rep *schemas.AgentReport) error {
	select {
	case <-s.started:
	case <-s.ctx.Done():
		return fmt.Errorf("session ended before the director said start: %w", context.Cause(s.ctx))
	}
	w := datapath.NewWriter(conn)
	sel := selection{paths: s.open.Paths}
	for _, m := range s.open.Media {
		if err := a.replay(s, m, w, &sel); err != nil {
			return err
		}
	}
	if sel.inFile {
		return fmt.Errorf("stored session of job %d ends inside a file", s.open.SourceJob)
	}
	if err := w.End(&datapath.StreamEnd{Files: sel.files, Bytes: sel.bytes}); err != nil {
		return fmt.Errorf("send to client %s: %w", s.open.Client, err)
	}
	rep.Files, rep.Bytes = sel.files, sel.bytes
	return waitPeerClose(conn)
}

func (a *Agent) replay(s *session, m schemas.MediaRef, w *datapath.Writer, sel *selection) error {
	p, err := a.vols.path(m.Volume)
	if err != nil {
		return err
	}
	r, err := volume.OpenReader(p)
	if err != nil {
		return fmt.Errorf("open volume %s: %w", m.Volume, err)
	}
	defer r.Close()
	err = r.ReadSession(uint64(s.open.SourceJob), m.Start, func(_ volume.Position, payload []byte) error {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		return datapath.SplitRecords(payload, func(k datapath.Kind, p, raw []byte) error {
			if !sel.keep(k, p) {
				return nil
			}
			if err := w.Raw(raw); err != nil {
				return fmt.Errorf("send to client %s: %w", s.open.Client, err)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read job %d from volume %s: %w", s.open.SourceJob, m.Volume, err)
	}
	return nil
}

// selection filters stored records by path and counts what it keeps.
type selection struct {
	paths        [][]byte
	inFile, pass bool
	files, bytes int64
}

func (sel *selection) keep(k datapath.Kind, p []byte) bool {
	switch k {
	case datapath.KindFileHeader:
		h, err := datapath.DecodeFileHeader(p)
		sel.inFile = true
		sel.pass = err != nil || sel.selected(h.Path) // a bad header goes on: the fd refuses it loudly
		return sel.pass
	case datapath.KindFileTrailer:
		sel.inFile = false
		if sel.pass {
			sel.files++
		}
		return sel.pass
	case datapath.KindData:
		if sel.pass {
			sel.bytes += int64(len(p))
		}
		return sel.pass
	case datapath.KindStreamEnd, datapath.KindHeartbeat:
		return false
	}
	return sel.pass
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
