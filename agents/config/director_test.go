package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const goodDirector = `
director "dir1" {
  data_dir = "/var/lib/ferry/director/"
}
client "web1" {
  address = "10.0.0.5"
}
client "db1" {
  address            = "db1.example.com"
  data_port          = 19102
  passive            = true
  max_wait           = "5m"
  leaf_port          = 17422
  leaf_password_file = "/etc/ferry/secrets/./db1-leaf.secret"
}
storage "site1" {
  address = "10.0.0.2"
}
fileset "etc" {
  include = ["/etc/", "/home//x/../y"]
  exclude = ["*.tmp"]
}
fileset "root" {
  include         = ["/"]
  one_file_system = false
}
job "web1-etc" {
  client  = "web1"
  fileset = "etc"
  storage = "site1"
}
job "db1-root" {
  client  = "db1"
  fileset = "root"
  storage = "site1"
  level   = "differential"
}
`

func TestParseDirectorDefaults(t *testing.T) {
	got, err := ParseDirector("director.hcl", []byte(goodDirector))
	if err != nil {
		t.Fatal(err)
	}
	want := &Director{
		Name:           "dir1",
		NATSListen:     "127.0.0.1:4222",
		DataDir:        "/var/lib/ferry/director",
		Catalog:        "/var/lib/ferry/director/catalog.db",
		EventsMaxAge:   720 * time.Hour,
		EventsMaxBytes: 1 << 30,
		ConnectTimeout: 10 * time.Second,
		DataKeepalive:  2 * time.Second,
		Enrolment:      true,
		Clients: []Client{
			{Name: "web1", Address: "10.0.0.5", DataPort: 9102, LeafPort: 7422},
			{Name: "db1", Address: "db1.example.com", DataPort: 19102, Passive: true, MaxWait: 5 * time.Minute,
				LeafPort: 17422, LeafPasswordFile: "/etc/ferry/secrets/db1-leaf.secret"},
		},
		Storages: []Storage{{Name: "site1", Address: "10.0.0.2", DataPort: 9103}},
		FileSets: []FileSet{
			{Name: "etc", Include: []string{"/etc", "/home/y"}, Exclude: []string{"*.tmp"}, OneFileSystem: true, Compression: CompressionNone},
			{Name: "root", Include: []string{"/"}, Compression: CompressionNone},
		},
		Jobs: []Job{
			{Name: "web1-etc", Client: "web1", FileSet: "etc", Storage: "site1", Level: "full", NoProgressTimeout: DefaultNoProgressTimeout},
			{Name: "db1-root", Client: "db1", FileSet: "root", Storage: "site1", Level: "differential", NoProgressTimeout: DefaultNoProgressTimeout},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDirector =\n%+v\nwant\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate of a parsed director: %v", err)
	}
}

func TestParseDirectorAllSet(t *testing.T) {
	src := `
director "d" {
  nats_listen      = "0.0.0.0:4333"
  nats_url         = "nats://nats1:4222,nats://nats2:4222"
  data_dir         = "/data"
  catalog          = "postgres://ferry@db/ferry"
  events_max_age   = "24h"
  events_max_bytes = 1048576
  connect_timeout  = "3s"
  job_timeout      = "2h"
  data_keepalive   = "30s"
  identity_file    = "/etc/ferry/director.seed"
  tls_cert_file    = "/etc/ferry/hub.crt"
  tls_key_file     = "/etc/ferry/hub.key"
  ca_file          = "/etc/ferry/ca.crt"
  enrolment        = false
}
console "ops" {
  key = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"
}`
	got, err := ParseDirector("d.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := &Director{
		Name: "d", NATSListen: "0.0.0.0:4333", NATSURL: "nats://nats1:4222,nats://nats2:4222",
		DataDir: "/data", Catalog: "postgres://ferry@db/ferry",
		EventsMaxAge: 24 * time.Hour, EventsMaxBytes: 1 << 20,
		ConnectTimeout: 3 * time.Second, JobTimeout: 2 * time.Hour, DataKeepalive: 30 * time.Second,
		IdentityFile: "/etc/ferry/director.seed", TLSCertFile: "/etc/ferry/hub.crt", TLSKeyFile: "/etc/ferry/hub.key",
		CAFile:   "/etc/ferry/ca.crt",
		Consoles: []Console{{Name: "ops", Key: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDirector =\n%+v\nwant\n%+v", got, want)
	}
}

func TestDirectorLookups(t *testing.T) {
	d, err := ParseDirector("director.hcl", []byte(goodDirector))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := d.Client("db1"); !ok || c.DataAddress() != "db1.example.com:19102" {
		t.Errorf("Client(db1) = %+v, %v", c, ok)
	}
	if s, ok := d.Storage("site1"); !ok || s.DataAddress() != "10.0.0.2:9103" {
		t.Errorf("Storage(site1) = %+v, %v", s, ok)
	}
	if f, ok := d.FileSet("root"); !ok || f.Include[0] != "/" {
		t.Errorf("FileSet(root) = %+v, %v", f, ok)
	}
	if j, ok := d.Job("web1-etc"); !ok || j.Client != "web1" {
		t.Errorf("Job(web1-etc) = %+v, %v", j, ok)
	}
	if _, ok := d.Client("nope"); ok {
		t.Error("Client(nope) found")
	}
	if _, ok := d.Job("nope"); ok {
		t.Error("Job(nope) found")
	}
}

func TestDataAddressIPv6(t *testing.T) {
	c := Client{Address: "fd00::5", DataPort: 9102}
	if got := c.DataAddress(); got != "[fd00::5]:9102" {
		t.Errorf("DataAddress = %q", got)
	}
}

// data_keepalive = "0s" turns keepalive and heartbeats off: it parses to 0,
// unlike a file that leaves it out (DefaultDataKeepalive). Negative is an
// error.
func TestParseDirectorDataKeepalive(t *testing.T) {
	for _, tc := range []struct {
		attr string
		want time.Duration
		bad  string
	}{
		{"", DefaultDataKeepalive, ""},
		{`data_keepalive = "0s"`, 0, ""},
		{`data_keepalive = "1s"`, time.Second, ""},
		{`data_keepalive = "-2s"`, 0, "must not be negative"},
	} {
		src := "director \"d\" {\n  data_dir = \"/data\"\n  " + tc.attr + "\n}\n"
		got, err := ParseDirector("d.hcl", []byte(src))
		switch {
		case tc.bad != "":
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("%q: err %v, want %q", tc.attr, err, tc.bad)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.attr, err)
		case got.DataKeepalive != tc.want:
			t.Errorf("%q: DataKeepalive %s, want %s", tc.attr, got.DataKeepalive, tc.want)
		}
	}
}
