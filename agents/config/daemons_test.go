package config

import (
	"reflect"
	"testing"
)

func TestParseStorageDaemon(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		want  *StorageDaemon
		wants []want
	}{
		{"defaults", `storage_daemon "site1" {
  nats_url   = "nats://127.0.0.1:4222"
  volume_dir = "/var/lib/ferry/volumes/"
}`, &StorageDaemon{Name: "site1", NATSURL: "nats://127.0.0.1:4222", DataListen: ":9103",
			VolumeDir: "/var/lib/ferry/volumes", VolumeMaxBytes: 50 << 30}, nil},
		{"all set", `storage_daemon "site1" {
  nats_url         = "tls://nats.example.com:4222"
  data_listen      = "0.0.0.0:19103"
  volume_dir       = "/srv/volumes"
  volume_max_bytes = "2TiB"
}`, &StorageDaemon{Name: "site1", NATSURL: "tls://nats.example.com:4222", DataListen: "0.0.0.0:19103",
			VolumeDir: "/srv/volumes", VolumeMaxBytes: 2 << 40}, nil},
		{"required missing", `storage_daemon "site1" {
}`, nil, []want{
			{`storage_daemon "site1".nats_url`, 1, "required"},
			{`storage_daemon "site1".volume_dir`, 1, "required"},
		}},
		{"bad values", `storage_daemon "site.1" {
  nats_url         = "127.0.0.1:4222"
  data_listen      = "9103"
  volume_dir       = "volumes"
  volume_max_bytes = "50GB"
  volume_dir_mode  = "0700"
}`, nil, []want{
			{`storage_daemon "site.1"`, 1, `try "site-1"`},
			{`storage_daemon "site.1".nats_url`, 2, "is not a URL"},
			{`storage_daemon "site.1".data_listen`, 3, "missing port in address"},
			{`storage_daemon "site.1".volume_dir`, 4, `"volumes" is not an absolute path`},
			{`storage_daemon "site.1".volume_max_bytes`, 5, `invalid size "50GB"`},
			{`storage_daemon "site.1".volume_dir_mode`, 6, "Unsupported argument"},
		}},
		{"zero volume size", `storage_daemon "s" {
  nats_url         = "nats://h"
  volume_dir       = "/v"
  volume_max_bytes = 0
}`, nil, []want{{`storage_daemon "s".volume_max_bytes`, 4, "size must be positive"}}},
		{"director blocks", `storage_daemon "s" {
  nats_url   = "nats://h"
  volume_dir = "/v"
}
storage "s" {
  address = "h"
}
storage_daemon "t" {
}`, nil, []want{
			{`storage "s"`, 5, "a storage_daemon file cannot hold a storage block"},
			{`storage_daemon "t"`, 8, "more than one storage_daemon block; the first is at line 1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStorageDaemon("sd.hcl", []byte(tt.src))
			expectProblems(t, err, tt.wants)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseStorageDaemon = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseFileDaemon(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		want  *FileDaemon
		wants []want
	}{
		{"active", `file_daemon "web1" {
  nats_url = "nats://10.0.0.1:4222"
}`, &FileDaemon{Name: "web1", NATSURL: "nats://10.0.0.1:4222", DataListen: ":9102", LeafListen: ":7422"}, nil},
		{"passive", `file_daemon "db1" {
  passive            = true
  data_listen        = "[::]:9102"
  leaf_password_file = "/etc/ferry/secrets//db1-leaf.secret"
}`, &FileDaemon{Name: "db1", DataListen: "[::]:9102", Passive: true, LeafListen: ":7422",
			LeafPasswordFile: "/etc/ferry/secrets/db1-leaf.secret"}, nil},
		{"passive all set", `file_daemon "db1" {
  passive            = true
  leaf_listen        = "0.0.0.0:17422"
  leaf_password_file = "/etc/ferry/secrets/db1-leaf.secret"
}`, &FileDaemon{Name: "db1", DataListen: ":9102", Passive: true, LeafListen: "0.0.0.0:17422",
			LeafPasswordFile: "/etc/ferry/secrets/db1-leaf.secret"}, nil},
		{"passive with nats_url", `file_daemon "db1" {
  passive            = true
  nats_url           = "nats://10.0.0.1:4222"
  leaf_password_file = "/s"
}`, nil, []want{{`file_daemon "db1".nats_url`, 3, "must be empty when passive = true: a passive file daemon dials nothing"}}},
		{"passive with bad nats_url", `file_daemon "db1" {
  passive            = true
  nats_url           = "ftp://h"
  leaf_password_file = "/s"
}`, nil, []want{{`file_daemon "db1".nats_url`, 3, "must be empty when passive = true"}}},
		{"passive with empty nats_url", `file_daemon "db1" {
  passive            = true
  nats_url           = ""
  leaf_password_file = "/s"
}`, &FileDaemon{Name: "db1", DataListen: ":9102", Passive: true, LeafListen: ":7422", LeafPasswordFile: "/s"}, nil},
		{"passive without leaf_password_file", `file_daemon "db1" {
  passive = true
}`, nil, []want{{`file_daemon "db1".leaf_password_file`, 1, "required when passive = true"}}},
		{"passive with empty leaf_password_file", `file_daemon "db1" {
  passive            = true
  leaf_password_file = ""
}`, nil, []want{{`file_daemon "db1".leaf_password_file`, 3, "required when passive = true"}}},
		{"leaf_password_file wrong type", `file_daemon "db1" {
  passive            = true
  leaf_password_file = ["/s"]
}`, nil, []want{{`file_daemon "db1".leaf_password_file`, 3, "string required"}}},
		{"passive with nothing", `file_daemon "db1" {
  passive  = true
  nats_url = "nats://h"
}`, nil, []want{
			{`file_daemon "db1".leaf_password_file`, 1, "required when passive = true"},
			{`file_daemon "db1".nats_url`, 3, "must be empty when passive = true"},
		}},
		{"leaf_listen no port", `file_daemon "db1" {
  passive            = true
  leaf_password_file = "/s"
  leaf_listen        = "7422"
}`, nil, []want{{`file_daemon "db1".leaf_listen`, 4, "missing port in address"}}},
		{"leaf_listen port out of range", `file_daemon "db1" {
  passive            = true
  leaf_password_file = "/s"
  leaf_listen        = ":74220"
}`, nil, []want{{`file_daemon "db1".leaf_listen`, 4, `port "74220" in ":74220" is not a number 0-65535`}}},
		{"leaf_listen bad host", `file_daemon "db1" {
  passive            = true
  leaf_password_file = "/s"
  leaf_listen        = "nats://h:7422"
}`, nil, []want{{`file_daemon "db1".leaf_listen`, 4, "write host:port"}}},
		{"leaf_listen empty", `file_daemon "db1" {
  passive            = true
  leaf_password_file = "/s"
  leaf_listen        = ""
}`, nil, []want{{`file_daemon "db1".leaf_listen`, 4, "required: host:port to listen on"}}},
		{"active without nats_url", `file_daemon "web1" {
  passive = false
}`, nil, []want{{`file_daemon "web1".nats_url`, 1, "required when passive = false"}}},
		{"bad listen and name", `file_daemon "" {
  nats_url    = "nats://h"
  data_listen = ":99999"
}`, nil, []want{
			{`file_daemon ""`, 1, "must not be empty"},
			{`file_daemon "".data_listen`, 3, `port "99999"`},
		}},
		{"director file", dirHead, nil, []want{
			{"file_daemon", 0, "no file_daemon block"},
			{`director "d"`, 1, "a file_daemon file cannot hold a director block"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFileDaemon("fd.hcl", []byte(tt.src))
			expectProblems(t, err, tt.wants)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseFileDaemon = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDaemonValidateInCode(t *testing.T) {
	sd := &StorageDaemon{Name: "s", NATSURL: "nats://h", DataListen: ":0", VolumeDir: "/v", VolumeMaxBytes: 1}
	if err := sd.Validate(); err != nil {
		t.Errorf("valid storage daemon: %v", err)
	}
	expectProblems(t, (&StorageDaemon{Name: "s"}).Validate(), []want{
		{`storage_daemon "s".nats_url`, 0, "required"},
		{`storage_daemon "s".data_listen`, 0, "required"},
		{`storage_daemon "s".volume_dir`, 0, "required"},
		{`storage_daemon "s".volume_max_bytes`, 0, "positive"},
	})
	fd := &FileDaemon{Name: "f", DataListen: ":9102", Passive: true, LeafListen: ":7422", LeafPasswordFile: "/s"}
	if err := fd.Validate(); err != nil {
		t.Errorf("valid passive file daemon: %v", err)
	}
	fd.NATSURL = "nats://h"
	fd.LeafListen, fd.LeafPasswordFile = "", ""
	expectProblems(t, fd.Validate(), []want{
		{`file_daemon "f".nats_url`, 0, "must be empty when passive = true"},
		{`file_daemon "f".leaf_listen`, 0, "required"},
		{`file_daemon "f".leaf_password_file`, 0, "required when passive = true"},
	})
	fd.Passive = false
	if err := fd.Validate(); err != nil {
		t.Errorf("valid active file daemon, leaf settings unused: %v", err)
	}
	fd.NATSURL = ""
	expectProblems(t, fd.Validate(), []want{{`file_daemon "f".nats_url`, 0, "required when passive = false"}})
}
