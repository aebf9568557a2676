package config

import (
	"path/filepath"
	"testing"
)

// TestDeploySamples loads every sample in deploy/ and checks its kind.
func TestDeploySamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]Kind{
		"director.hcl":   KindDirector,
		"sd.hcl":         KindStorageDaemon,
		"fd-passive.hcl": KindFileDaemon,
		"fd-active.hcl":  KindFileDaemon,
	}
	if len(files) < len(kinds) {
		t.Fatalf("found %d samples %v, want at least %d", len(files), files, len(kinds))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			kind, err := Check(f)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if want, ok := kinds[filepath.Base(f)]; ok && kind != want {
				t.Errorf("kind = %q, want %q", kind, want)
			}
		})
	}
}

// TestDeployDirector checks the sample director matches the sample daemons.
func TestDeployDirector(t *testing.T) {
	deploy := filepath.Join("..", "..", "deploy")
	d, err := LoadDirector(filepath.Join(deploy, "director.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Clients) != 2 || len(d.Storages) != 1 || len(d.FileSets) != 2 || len(d.Jobs) != 2 {
		t.Errorf("director has %d clients, %d storages, %d filesets, %d jobs; want 2, 1, 2, 2",
			len(d.Clients), len(d.Storages), len(d.FileSets), len(d.Jobs))
	}
	for file, passive := range map[string]bool{"fd-passive.hcl": true, "fd-active.hcl": false} {
		fd, err := LoadFileDaemon(filepath.Join(deploy, file))
		if err != nil {
			t.Fatal(err)
		}
		c, ok := d.Client(fd.Name)
		if !ok || c.Passive != passive || fd.Passive != passive {
			t.Errorf("%s: client %q = %+v, %v; want passive=%v on both sides", file, fd.Name, c, ok, passive)
		}
	}
	sd, err := LoadStorageDaemon(filepath.Join(deploy, "sd.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Storage(sd.Name); !ok {
		t.Errorf("sd.hcl names storage %q, which director.hcl lacks", sd.Name)
	}
}
