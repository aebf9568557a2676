package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/spf13/cobra"
)

type watchOptions struct {
	json     bool
	job      int64
	replay   bool
	progress bool
}

func newWatchCommand(g *globalOptions) *cobra.Command {
	o := &watchOptions{}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Print job events live (and progress with --progress)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runWatch(cmd.Context(), g, o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "one JSON object per line; non-UTF-8 paths go in path_b64 (lossless)")
	f.Int64Var(&o.job, "job", 0, "only this job")
	f.BoolVar(&o.replay, "replay", false, "first replay the events the stream still holds")
	f.BoolVar(&o.progress, "progress", false, "also print progress messages")
	return cmd
}

func runWatch(ctx context.Context, g *globalOptions, o *watchOptions) error {
	conn, err := g.console(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	jobTok := "*"
	if o.job != 0 {
		jobTok = strconv.FormatInt(o.job, 10)
	}
	filter := schemas.JobEvents.Wildcard()
	if o.job != 0 {
		filter, _ = schemas.JobEvents.Filter(jobTok, "*")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := bus.WatchEvents(ctx, conn, filter, o.replay)
	if err != nil {
		return err
	}
	out := &watchPrinter{json: o.json, enc: json.NewEncoder(os.Stdout)}
	if o.progress {
		subj := schemas.JobProgress.Wildcard()
		if o.job != 0 {
			subj, _ = schemas.JobProgress.Subject(jobTok)
		}
		if _, err := bus.Subscribe(conn, schemas.JobProgress, subj, func(_ string, p schemas.Progress) { out.progress(p) }); err != nil {
			return err
		}
	}
	for ev := range events {
		out.event(ev)
	}
	return nil
}

type watchPrinter struct {
	mu   sync.Mutex
	json bool
	enc  *json.Encoder
}

func (w *watchPrinter) event(ev schemas.JobEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.json {
		_ = w.enc.Encode(struct {
			Type string `json:"type"`
			schemas.JobEvent
		}{"job_event", ev})
		return
	}
	line := fmt.Sprintf("%s job %d %s %s", when(ev.Time), ev.JobID, ev.Event, ev.Name)
	switch ev.Event {
	case schemas.EventDataOpen:
		line += fmt.Sprintf(" %s %s → %s", direction(ev.Initiator), ev.From, ev.To)
	case schemas.EventFinished, schemas.EventFailed, schemas.EventCanceled:
		line = fmt.Sprintf("%s job %d %s", when(ev.Time), ev.JobID, jobLine(ev))
	}
	fmt.Println(line)
}

func (w *watchPrinter) progress(p schemas.Progress) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.json {
		_ = w.enc.Encode(progressJSON(p))
		return
	}
	fmt.Printf("%s job %d progress %s: %d files, %s, at %q\n", when(p.Time), p.JobID, p.Agent, p.Files, humanBytes(p.Bytes), p.Path)
}

// progressJSON carries the path as a string when it is valid UTF-8 and as
// base64 bytes in path_b64 otherwise, so no byte is lost.
func progressJSON(p schemas.Progress) any {
	out := map[string]any{"type": "progress", "job": p.JobID, "agent": p.Agent, "files": p.Files, "bytes": p.Bytes, "time": p.Time}
	if utf8.Valid(p.Path) {
		out["path"] = string(p.Path)
	} else {
		out["path_b64"] = base64.StdEncoding.EncodeToString(p.Path)
	}
	return out
}
