package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferrybackup/ferry/agents/sd/inspect"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/spf13/cobra"
)

type volumeLsOptions struct {
	files  bool
	verify bool
	json   bool
}

func newVolumeCommand(_ *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Read volume files directly, on the storage host, without director or catalog",
	}
	o := &volumeLsOptions{}
	ls := &cobra.Command{
		Use:   "ls VOLUME",
		Short: "List a volume file's sessions (and files), verifying every block",
		Long: `List the sessions stored in a volume file (the path of the file on the storage
host) and, with --files, the files of each session. Every block's CRC is
verified; with --verify the BLAKE3 checksum of every file's content too.

Exit status 1 when a block is corrupt or a file fails a check. A session
without end record (the sd stopped during the job) is marked INCOMPLETE and
a torn tail (the last write was interrupted) is noted; neither is an error.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return &usageError{msg: err.Error()}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVolumeLs(cmd.Context(), os.Stdout, args[0], o)
		},
	}
	f := ls.Flags()
	f.BoolVar(&o.files, "files", false, "also list each session's files")
	f.BoolVar(&o.verify, "verify", false, "recompute every file's BLAKE3 checksum (reads all content)")
	f.BoolVar(&o.json, "json", false, "one JSON object per line; non-UTF-8 paths go in path_b64 (lossless)")
	cmd.AddCommand(ls)
	return cmd
}

func runVolumeLs(ctx context.Context, out io.Writer, path string, o *volumeLsOptions) error {
	bw := bufio.NewWriter(out)
	var p volumePrinter = &volumeText{w: bw, files: o.files}
	if o.json {
		p = &volumeJSON{enc: json.NewEncoder(bw), files: o.files}
	}
	sum, err := inspect.Volume(path, inspect.Options{Verify: o.verify}, func(it inspect.Item) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.item(it)
		return nil
	})
	if sum.Volume != "" {
		p.summary(sum)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

type volumePrinter interface {
	item(it inspect.Item)
	summary(s inspect.Summary)
}

// volumeText prints for people: a line per session, indented file lines.
type volumeText struct {
	w     io.Writer
	files bool
}

func (p *volumeText) item(it inspect.Item) {
	switch it.Kind {
	case inspect.ItemSessionStart:
		if p.files {
			s := it.Start
			lost := ""
			if s.Lost {
				lost = " (start block lost: found at this block)"
			}
			fmt.Fprintf(p.w, "job %d  start offset %d%s\n", s.ID, s.Offset, lost)
		}
	case inspect.ItemFile:
		p.file(it.File)
	case inspect.ItemSessionEnd:
		e := it.End
		stored := ""
		if e.Complete && e.Damaged { // the counts are partial: show what the end record says
			stored = fmt.Sprintf("  (end record: %d files, %d bytes)", e.Totals.Files, e.Totals.Bytes)
		}
		fmt.Fprintf(p.w, "job %d  offsets %d-%d  %s  %d files  %d bytes (%s)%s\n",
			e.ID, e.Start, e.End, sessionStatus(e), e.Files, e.Bytes, humanBytes(e.Bytes), stored)
		for _, pr := range e.Problems {
			fmt.Fprintf(p.w, "  ! job %d: %s\n", e.ID, pr)
		}
	case inspect.ItemCorrupt:
		fmt.Fprintf(p.w, "CORRUPT: %v\n", it.Corrupt)
	}
}

func (p *volumeText) file(f *inspect.File) {
	if p.files {
		var b strings.Builder
		fmt.Fprintf(&b, "  %s %5d/%-5d %12d  %s  %q", modeString(f.Type, f.Mode), f.UID, f.GID, f.Size,
			time.Unix(0, f.Mtime).UTC().Format(time.RFC3339Nano), f.Path)
		if f.Type == datapath.TypeSymlink {
			fmt.Fprintf(&b, " -> %q", f.LinkTarget)
		}
		if fl := fileFlags(f); len(fl) > 0 {
			fmt.Fprintf(&b, "  [%s]", strings.Join(fl, ", "))
		}
		fmt.Fprintln(p.w, b.String())
	}
	for _, pr := range f.Problems { // shown with or without --files
		fmt.Fprintf(p.w, "  ! job %d %q: %s\n", f.Session, f.Path, pr)
	}
}

func (p *volumeText) summary(s inspect.Summary) {
	fmt.Fprintf(p.w, "volume %q: %d bytes, created %s: %d sessions (%d incomplete), %d files, %d bytes of content\n",
		s.Volume, s.Size, s.Created.Format(time.RFC3339), s.Sessions, s.Incomplete, s.Files, s.Bytes)
	if s.TornAt >= 0 {
		fmt.Fprintf(p.w, "note: torn tail at offset %d: the last write was interrupted (%s); the sd cuts it off when it next appends to the volume\n",
			s.TornAt, s.TornReason)
	}
	if s.Corrupt > 0 || s.BadFiles > 0 {
		fmt.Fprintf(p.w, "DAMAGED: corrupt blocks %d, files failing checks %d, sessions affected %d\n", s.Corrupt, s.BadFiles, s.Damaged)
	}
}

// sessionStatus words how a session ended.
func sessionStatus(e *inspect.SessionEnd) string {
	s := "INCOMPLETE (no end record)"
	if e.Complete {
		s = e.Status.String()
	}
	if e.Damaged {
		s += ", DAMAGED"
	}
	return s
}

func fileFlags(f *inspect.File) []string {
	var fl []string
	if f.Changed() {
		fl = append(fl, "changed while read")
	}
	if f.Truncated() {
		fl = append(fl, "truncated")
	}
	if !f.Trailer {
		fl = append(fl, "no trailer")
	}
	if f.Damaged {
		fl = append(fl, "damaged")
	}
	if f.Verified {
		fl = append(fl, "verified")
	}
	return fl
}

// modeString renders type and permissions the way ls -l does.
func modeString(t datapath.FileType, mode uint32) string {
	types := "?-dlpcbs"
	b := []byte{'?'}
	if int(t) < len(types) {
		b[0] = types[t]
	}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		c := byte('-')
		if mode&(1<<(8-i)) != 0 {
			c = rwx[i]
		}
		b = append(b, c)
	}
	special := func(bit uint32, at int, set byte) {
		if mode&bit == 0 {
			return
		}
		if b[at] == '-' {
			set -= 'a' - 'A' // no execute bit: upper case
		}
		b[at] = set
	}
	special(0o4000, 3, 's')
	special(0o2000, 6, 's')
	special(0o1000, 9, 't')
	return string(b)
}

// volumeJSON prints one object per line, with a "type" field:
// session_start, file, session, corrupt, torn, summary.
type volumeJSON struct {
	enc   *json.Encoder
	files bool
}

func (p *volumeJSON) item(it inspect.Item) {
	switch it.Kind {
	case inspect.ItemSessionStart:
		s := it.Start
		_ = p.enc.Encode(map[string]any{"type": "session_start", "job": s.ID, "offset": s.Offset, "start_lost": s.Lost})
	case inspect.ItemFile:
		if p.files || len(it.File.Problems) > 0 {
			_ = p.enc.Encode(fileJSON(it.File))
		}
	case inspect.ItemSessionEnd:
		e := it.End
		status := "incomplete"
		if e.Complete {
			status = e.Status.String()
		}
		_ = p.enc.Encode(map[string]any{"type": "session", "job": e.ID, "start": e.Start, "end": e.End,
			"status": status, "complete": e.Complete, "damaged": e.Damaged, "files": e.Files, "bytes": e.Bytes,
			"records": e.Records, "problems": nonNil(e.Problems)})
	case inspect.ItemCorrupt:
		c := it.Corrupt
		_ = p.enc.Encode(map[string]any{"type": "corrupt", "volume": c.Volume, "offset": c.Offset, "seq": c.Seq,
			"reason": c.Reason, "error": c.Error()})
	}
}

func (p *volumeJSON) summary(s inspect.Summary) {
	if s.TornAt >= 0 {
		_ = p.enc.Encode(map[string]any{"type": "torn", "offset": s.TornAt, "reason": s.TornReason})
	}
	_ = p.enc.Encode(map[string]any{"type": "summary", "volume": s.Volume, "size": s.Size,
		"created": s.Created.Format(time.RFC3339Nano), "sessions": s.Sessions, "incomplete": s.Incomplete,
		"damaged": s.Damaged, "files": s.Files, "bytes": s.Bytes, "corrupt_blocks": s.Corrupt,
		"bad_files": s.BadFiles, "torn_at": s.TornAt})
}

// fileJSON carries byte strings (path, link target) as strings when valid
// UTF-8 and as base64 in *_b64 otherwise, so no byte is lost.
func fileJSON(f *inspect.File) map[string]any {
	m := map[string]any{"type": "file", "job": f.Session, "file_type": f.Type.String(), "mode": f.Mode,
		"mode_string": modeString(f.Type, f.Mode), "uid": f.UID, "gid": f.GID, "mtime": f.Mtime,
		"mtime_rfc3339": time.Unix(0, f.Mtime).UTC().Format(time.RFC3339Nano), "size": f.Size, "bytes": f.Bytes,
		"block": f.Pos.Block, "within": f.Pos.Within, "trailer": f.Trailer, "changed": f.Changed(),
		"truncated": f.Truncated(), "damaged": f.Damaged, "verified": f.Verified, "problems": nonNil(f.Problems)}
	putBytes(m, "path", f.Path)
	if f.Type == datapath.TypeSymlink {
		putBytes(m, "link", f.LinkTarget)
	}
	if f.Trailer {
		m["algo"], m["checksum"] = inspect.AlgoName(f.Algo), f.SumHex()
	}
	return m
}

func putBytes(m map[string]any, key string, b []byte) {
	if utf8.Valid(b) {
		m[key] = string(b)
	} else {
		m[key+"_b64"] = base64.StdEncoding.EncodeToString(b)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
