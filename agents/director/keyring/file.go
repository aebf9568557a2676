package keyring

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// fileVersion is the layout of the key file.
const fileVersion = 1

type fileData struct {
	Version int     `json:"version"`
	Keys    []Entry `json:"keys"`
}

func load(path string) ([]Entry, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	var d fileData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if d.Version != fileVersion {
		return nil, fmt.Errorf("key file %s: version %d, this build reads %d", path, d.Version, fileVersion)
	}
	return d.Keys, nil
}

// saveLocked writes every entry but the configured ones (the
// configuration holds those), through a temporary file that replaces the
// old one, so a crash leaves the old file or the new one.
func (r *Ring) saveLocked() error {
	if r.path == "" {
		return nil
	}
	d := fileData{Version: fileVersion}
	for _, e := range r.all() {
		if e.State == Configured {
			continue
		}
		d.Keys = append(d.Keys, e)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(r.path), "."+filepath.Base(r.path)+".*")
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, r.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("key file %s: %w", r.path, err)
	}
	return nil
}

// all lists every entry; the caller holds the lock.
func (r *Ring) all() []Entry {
	out := make([]Entry, 0, len(r.byKey))
	for _, e := range r.byKey {
		out = append(out, *e)
	}
	return out
}
