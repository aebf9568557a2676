package director

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/schemas"
)

func (d *Director) apiRun(ctx context.Context, _ string, req schemas.RunRequest) (schemas.RunReply, error) {
	rj, err := d.backupJob(req.Job, req.Level)
	if err != nil {
		return schemas.RunReply{}, err
	}
	id, err := d.launch(ctx, rj)
	return schemas.RunReply{JobID: id}, err
}

// backupJob builds a configured backup job, not yet in the catalog.
func (d *Director) backupJob(name, levelOverride string) (*runningJob, error) {
	jc, ok := d.cfg.Job(name)
	if !ok {
		return nil, fmt.Errorf("no job named %q; configured jobs: %s", name, names(d.cfg.Jobs, func(j config.Job) string { return j.Name }))
	}
	client, _ := d.cfg.Client(jc.Client)
	storage, _ := d.cfg.Storage(jc.Storage)
	fs, _ := d.cfg.FileSet(jc.FileSet)
	level := cmpOr(levelOverride, jc.Level)
	if level != "full" {
		return nil, fmt.Errorf("job %q: level %q is not supported yet: only full backups run", name, level)
	}
	rj := newRunningJob(catalog.Job{
		Name: jc.Name, Kind: catalog.KindBackup, Level: level,
		Client: client.Name, Storage: storage.Name, FileSet: fs.Name, Status: catalog.StatusCreated,
	}, client, storage)
	rj.limits = limits{maxRun: cmpOr(jc.MaxRunTime, d.cfg.JobTimeout), noProgress: jc.NoProgressTimeout, bandwidth: jc.MaxBandwidth}
	ka := keepaliveMs(d.cfg.DataKeepalive)
	rj.open = schemas.SessionOpen{Kind: schemas.KindBackup, Client: client.Name, KeepaliveMs: ka}
	rj.prepare = schemas.PrepareJob{
		Kind: schemas.KindBackup, Storage: storage.Name, Exclude: fs.Exclude, OneFileSystem: fs.OneFileSystem, Level: level,
		BandwidthBps: jc.MaxBandwidth, KeepaliveMs: ka,
	}
	if fs.Compression == config.CompressionZstd {
		rj.prepare.Compression = fs.Compression
	}
	for _, p := range fs.Include {
		rj.prepare.Include = append(rj.prepare.Include, []byte(p))
	}
	return rj, nil
}

func (d *Director) apiRestore(ctx context.Context, _ string, req schemas.RestoreRequest) (schemas.RunReply, error) {
	src, err := d.cat.Job(ctx, req.BackupJob)
	if errors.Is(err, catalog.ErrNotFound) {
		return schemas.RunReply{}, fmt.Errorf("no job %d in the catalog", req.BackupJob)
	} else if err != nil {
		return schemas.RunReply{}, err
	}
	if src.Kind != catalog.KindBackup || (src.Status != catalog.StatusOK && src.Status != catalog.StatusWarnings) {
		return schemas.RunReply{}, fmt.Errorf("job %d is a %s job in status %s: only backups that ended ok can be restored", src.ID, src.Kind, src.Status)
	}
	if err := checkTarget(req.Target); err != nil {
		return schemas.RunReply{}, err
	}
	replace := req.Replace
	if replace == "" {
		replace = "never"
	}
	if !slices.Contains([]string{"never", "ifnewer", "always"}, replace) {
		return schemas.RunReply{}, fmt.Errorf("replace %q: use never, ifnewer or always", replace)
	}
	clientName := cmpOr(req.Client, src.Client)
	client, ok := d.cfg.Client(clientName)
	if !ok {
		return schemas.RunReply{}, fmt.Errorf("no client named %q in the director's configuration", clientName)
	}
	storage, ok := d.cfg.Storage(src.Storage)
	if !ok {
		return schemas.RunReply{}, fmt.Errorf("job %d was stored on storage %q, which is no longer configured", src.ID, src.Storage)
	}
	media, err := d.cat.JobMedia(ctx, src.ID)
	if err != nil {
		return schemas.RunReply{}, fmt.Errorf("catalog: media of job %d: %w", src.ID, err)
	}
	rj := newRunningJob(catalog.Job{
		Name: "restore-" + jobToken(src.ID), Kind: catalog.KindRestore, Level: src.Level, Client: client.Name,
		Storage: storage.Name, FileSet: src.FileSet, Status: catalog.StatusCreated, RestoreOf: src.ID, Target: string(req.Target),
	}, client, storage)
	rj.limits = limits{maxRun: d.cfg.JobTimeout, noProgress: config.DefaultNoProgressTimeout, bandwidth: req.BandwidthBps}
	if jc, ok := d.cfg.Job(src.Name); ok {
		rj.limits.noProgress = jc.NoProgressTimeout
	}
	ka := keepaliveMs(d.cfg.DataKeepalive)
	rj.open = schemas.SessionOpen{Kind: schemas.KindRestore, Client: client.Name, SourceJob: src.ID, Paths: req.Paths, BandwidthBps: req.BandwidthBps, KeepaliveMs: ka}
	for _, m := range media {
		rj.open.Media = append(rj.open.Media, schemas.MediaRef{Volume: m.Volume, Start: m.StartOffset, End: m.EndOffset})
	}
	rj.prepare = schemas.PrepareJob{Kind: schemas.KindRestore, Storage: storage.Name, Target: req.Target, Replace: replace, KeepaliveMs: ka}
	id, err := d.launch(ctx, rj)
	return schemas.RunReply{JobID: id}, err
}

// keepaliveMs puts data_keepalive in the keepalive_ms field of PrepareJob
// and SessionOpen: a period in ms, or -1 when it is off (0s). Zero is never
// sent: an absent field means "the agent's default", which is what older
// directors, knowing no such setting, get.
func keepaliveMs(d time.Duration) int64 {
	if d <= 0 {
		return -1
	}
	return max(d.Milliseconds(), 1)
}

func checkTarget(t []byte) error {
	s := string(t)
	switch {
	case s == "":
		return errors.New("restore target is empty: name a folder on the client with --to")
	case !filepath.IsAbs(s):
		return fmt.Errorf("restore target %q is not an absolute path", s)
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("restore target %q contains a NUL byte", s)
	}
	return nil
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

func names[T any](items []T, name func(T) string) string {
	if len(items) == 0 {
		return "(none)"
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, name(it))
	}
	return strings.Join(out, ", ")
}

func (d *Director) apiCancel(_ context.Context, _ string, req schemas.CancelRequest) (schemas.Ack, error) {
	d.mu.Lock()
	rj := d.running[req.JobID]
	d.mu.Unlock()
	if rj == nil {
		return schemas.Ack{}, fmt.Errorf("job %d is not running on this director", req.JobID)
	}
	d.note(req.JobID, catalog.LevelWarning, "canceled by operator")
	rj.cancel(errCanceled)
	return schemas.Ack{}, nil
}
