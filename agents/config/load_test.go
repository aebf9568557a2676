package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, name, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		kind  Kind
		wants []want
	}{
		{"director", dirRes, KindDirector, nil},
		{"director by resources", `client "c" {
  address = "h"
}`, KindDirector, []want{{"director", 0, "no director block"}}},
		{"storage daemon", `storage_daemon "s" {
  nats_url   = "nats://h"
  volume_dir = "/v"
}`, KindStorageDaemon, nil},
		{"file daemon", `file_daemon "f" {
  passive            = true
  leaf_password_file = "/s"
}`, KindFileDaemon, nil},
		{"first block decides", `file_daemon "f" {
  passive            = true
  leaf_password_file = "/s"
}
director "d" {
  data_dir = "/d"
}`, KindFileDaemon, []want{{`director "d"`, 5, "a file_daemon file cannot hold a director block"}}},
		{"invalid file daemon", `file_daemon "f" {}`, KindFileDaemon,
			[]want{{`file_daemon "f".nats_url`, 1, "required when passive = false"}}},
		{"passive file daemon with nats_url", `file_daemon "f" {
  passive  = true
  nats_url = "nats://h"
}`, KindFileDaemon, []want{
			{`file_daemon "f".leaf_password_file`, 1, "required when passive = true"},
			{`file_daemon "f".nats_url`, 3, "must be empty when passive = true"},
		}},
		{"empty", ``, "", []want{{"", 0, "cannot tell what kind of configuration file this is"}}},
		{"unknown blocks only", `daemon "x" {}`, "", []want{
			{"", 0, "no director, storage_daemon or file_daemon block"},
			{"daemon", 1, "Unsupported block type"},
		}},
		{"syntax error", `director "d" {`, "", []want{{"", 1, "Unclosed configuration block"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "x.hcl", tt.src)
			kind, err := Check(path)
			if kind != tt.kind {
				t.Errorf("kind = %q, want %q", kind, tt.kind)
			}
			expectProblems(t, err, tt.wants)
			var ps Problems
			if errors.As(err, &ps) && ps[0].File != path {
				t.Errorf("problem file = %q, want %q", ps[0].File, path)
			}
		})
	}
}

func TestCheckMissingFile(t *testing.T) {
	kind, err := Check(filepath.Join(t.TempDir(), "nope.hcl"))
	if kind != "" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check(missing) = %q, %v; want fs.ErrNotExist", kind, err)
	}
}

func TestLoad(t *testing.T) {
	dir := writeFile(t, "director.hcl", dirRes)
	if d, err := LoadDirector(dir); err != nil || d.Name != "d" || len(d.Jobs) != 1 {
		t.Errorf("LoadDirector = %+v, %v", d, err)
	}
	sd := writeFile(t, "sd.hcl", "storage_daemon \"s\" {\n nats_url = \"nats://h\"\n volume_dir = \"/v\"\n}\n")
	if s, err := LoadStorageDaemon(sd); err != nil || s.VolumeDir != "/v" {
		t.Errorf("LoadStorageDaemon = %+v, %v", s, err)
	}
	fd := writeFile(t, "fd.hcl", "file_daemon \"f\" {\n passive = true\n leaf_password_file = \"/s\"\n}\n")
	if f, err := LoadFileDaemon(fd); err != nil || !f.Passive || f.LeafListen != DefaultFDLeafListen {
		t.Errorf("LoadFileDaemon = %+v, %v", f, err)
	}
	if _, err := LoadFileDaemon(dir); err == nil {
		t.Error("LoadFileDaemon accepted a director file")
	}
	if _, err := LoadDirector(filepath.Join(t.TempDir(), "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadDirector(missing) = %v", err)
	}
}
