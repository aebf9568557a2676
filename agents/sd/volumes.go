package sd

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/schemas"
)

// volumes hands out volumes in the sd's folder: each session gets a volume
// of its own while it writes, so concurrent jobs never share one.
type volumes struct {
	dir, prefix string
	max         int64
	log         *slog.Logger

	mu     sync.Mutex
	busy   map[string]bool
	failed map[string]bool
	idle   map[string]*volume.Volume // open and appendable: opening checks the whole file, so it is done once
}

func openVolumes(dir, sdName string, max int64, log *slog.Logger) (*volumes, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("volume folder %s: %w", dir, err)
	}
	if max <= 0 {
		max = 50 << 30
	}
	return &volumes{dir: dir, prefix: sdName + "-", max: max, log: log, busy: map[string]bool{}, failed: map[string]bool{}, idle: map[string]*volume.Volume{}}, nil
}

// names lists this sd's volumes in the folder, lowest number first.
func (v *volumes) names() ([]string, error) {
	ents, err := os.ReadDir(v.dir)
	if err != nil {
		return nil, fmt.Errorf("volume folder %s: %w", v.dir, err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && v.number(e.Name()) > 0 {
			out = append(out, e.Name())
		}
	}
	sort.Slice(out, func(i, j int) bool { return v.number(out[i]) < v.number(out[j]) })
	return out, nil
}

func (v *volumes) number(name string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(name, v.prefix))
	if !strings.HasPrefix(name, v.prefix) || err != nil {
		return 0
	}
	return n
}

// reserve opens the first appendable volume that is not in use, or creates
// the next one.
func (v *volumes) reserve() (*volume.Volume, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	names, err := v.names()
	if err != nil {
		return nil, err
	}
	next := 1
	for _, n := range names {
		next = v.number(n) + 1
		if v.busy[n] || v.failed[n] {
			continue
		}
		if vol := v.idle[n]; vol != nil {
			delete(v.idle, n)
			v.busy[n] = true
			return vol, nil
		}
		if fi, err := os.Stat(filepath.Join(v.dir, n)); err != nil || fi.Size() >= v.max {
			continue
		}
		vol, rec, err := volume.OpenAppend(v.dir, n)
		if err != nil {
			v.log.Error("volume unusable, skipped", "volume", n, "err", err)
			v.failed[n] = true
			continue
		}
		if rec != nil {
			v.log.Warn("volume had a torn tail: cut back to the last whole block", "volume", n,
				"valid_end", rec.ValidEnd, "old_size", rec.OldSize)
		}
		v.busy[n] = true
		return vol, nil
	}
	name := fmt.Sprintf("%s%04d", v.prefix, next)
	vol, err := volume.Create(v.dir, name)
	if err != nil {
		return nil, fmt.Errorf("create volume %s in %s: %w", name, v.dir, err)
	}
	v.busy[name] = true
	return vol, nil
}

// release returns a volume after its session: kept open for the next
// session while it can take one, closed when it failed or is full.
func (v *volumes) release(vol *volume.Volume) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.busy, vol.Name())
	if err := vol.Failed(); err != nil {
		v.failed[vol.Name()] = true
		v.log.Error("volume marked failed: no further writes", "volume", vol.Name(), "err", err)
	} else if vol.Size() < v.max {
		v.idle[vol.Name()] = vol
		return
	}
	if err := vol.Close(); err != nil {
		v.log.Warn("volume close", "volume", vol.Name(), "err", err)
	}
}

// closeIdle closes the volumes kept open between sessions.
func (v *volumes) closeIdle() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for n, vol := range v.idle {
		if err := vol.Close(); err != nil {
			v.log.Warn("volume close", "volume", n, "err", err)
		}
		delete(v.idle, n)
	}
}

// path returns the file of a volume named in a restore request.
func (v *volumes) path(name string) (string, error) {
	if err := schemas.CheckToken(name); err != nil {
		return "", fmt.Errorf("volume name: %w", err)
	}
	return filepath.Join(v.dir, name), nil
}

// check verifies every volume of a restore is here.
func (v *volumes) check(media []schemas.MediaRef) error {
	if len(media) == 0 {
		return fmt.Errorf("restore names no volume")
	}
	for _, m := range media {
		p, err := v.path(m.Volume)
		if err != nil {
			return err
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("volume %s: %w", m.Volume, err)
		}
	}
	return nil
}
