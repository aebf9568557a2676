package config

import (
	"strings"
	"testing"
	"time"
)

// dirHead is a valid director block, lines 1-3.
const dirHead = `director "d" {
  data_dir = "/d"
}
`

// dirRes adds, at lines 4-17, one valid client, storage, fileset and job.
const dirRes = dirHead + `client "c" {
  address = "h"
}
storage "s" {
  address = "h"
}
fileset "f" {
  include = ["/"]
}
job "j" {
  client = "c"
  fileset = "f"
  storage = "s"
}
`

func TestParseDirectorProblems(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		wants []want
	}{
		{"valid", dirRes, nil},
		{"unknown key", `director "d" {
  data_dir = "/d"
  bogus = 1
}`, []want{{`director "d".bogus`, 3, `An argument named "bogus" is not expected here`}}},
		{"unknown top-level block", dirHead + `widget "w" {}`,
			[]want{{"widget", 4, `Blocks of type "widget" are not expected here`}}},
		{"unknown nested block", dirHead + `client "c" {
  address = "h"
  tls {}
}`, []want{{`client "c".tls`, 6, "Unsupported block type"}}},
		{"top-level attribute", dirHead + `data_dir = "/x"`,
			[]want{{"data_dir", 4, "Unsupported argument"}}},
		{"duplicate attribute", `director "d" {
  data_dir = "/d"
  data_dir = "/e"
}`, []want{{"", 3, `The argument "data_dir" was already set at d.hcl:2,3-11`}}},
		{"wrong type", dirHead + `client "c" {
  address = "h"
  data_port = "x"
  passive = "maybe"
}`, []want{
			{`client "c".data_port`, 6, "a number is required"},
			{`client "c".passive`, 7, "a bool is required"},
		}},
		{"fractional port", dirHead + `client "c" {
  address = "h"
  data_port = 9102.5
}`, []want{{`client "c".data_port`, 6, "whole number"}}},
		{"list expected", dirHead + `fileset "f" {
  include = "/etc"
}`, []want{{`fileset "f".include`, 5, "list of string required"}}},
		{"variable reported once", dirHead + `client "c" {
  address = h
}`, []want{{`client "c".address`, 5, "Variables not allowed"}}},
		{"function call", `director "d" {
  data_dir = upper("/d")
}`, []want{{`director "d".data_dir`, 2, "Function calls not allowed"}}},
		{"null value", `director "d" {
  data_dir = null
}`, []want{{`director "d".data_dir`, 2, "null"}}},
		{"missing label", dirHead + `client {
  address = "h"
}`, []want{{"client", 4, "Missing name for client"}}},
		{"extra label", dirHead + `client "a" "b" {
  address = "h"
}`, []want{{"client", 4, "Extraneous label for client"}}},
		{"syntax error stops", `director "d" {
  data_dir = "/d"
  nats_listen = 
}
client "a.b" {}`, []want{{"", 3, "Invalid expression"}}},
		{"mixed kinds", dirHead + `file_daemon "fd" {
  passive = true
}`, []want{{`file_daemon "fd"`, 4, "a director file cannot hold a file_daemon block"}}},
		{"no director block", `client "c" {
  address = "h"
}`, []want{{"director", 0, "no director block"}}},
		{"storage daemon file", `storage_daemon "sd" {}`, []want{
			{"director", 0, "no director block"},
			{`storage_daemon "sd"`, 1, "a director file cannot hold a storage_daemon block"},
		}},
		{"two directors", dirHead + `director "e" {
  data_dir = "/e"
}`, []want{{`director "e"`, 4, "more than one director block; the first is at line 1"}}},
		{"duplicate client", dirHead + `client "c" {
  address = "h"
}
client "c" {
  address = "i"
}`, []want{{`client "c"`, 7, `duplicate client name "c"; first defined at line 4`}}},
		{"duplicate job", dirRes + `job "j" {
  client = "c"
  fileset = "f"
  storage = "s"
}`, []want{{`job "j"`, 18, "first defined at line 13"}}},
		{"same name different types", dirHead + `client "x" {
  address = "h"
}
storage "x" {
  address = "h"
}`, nil},
		{"dotted name", dirHead + `client "web.example.com" {
  address = "web.example.com"
}`, []want{{`client "web.example.com"`, 4, `'.' separates NATS subject tokens; a name must be a single NATS subject token of letters, digits, '_' and '-'; try "web-example-com"`}}},
		{"bad names everywhere", `director "d*" {
  data_dir = "/d"
}
storage "s s" {
  address = "h"
}
fileset "" {
  include = ["/"]
}`, []want{
			{`director "d*"`, 1, "wildcard"},
			{`storage "s s"`, 4, "white space"},
			{`fileset ""`, 7, "must not be empty"},
		}},
		{"dangling references", dirRes + `job "x" {
  client = "nope"
  fileset = "f"
  storage = "s2"
}`, []want{
			{`job "x".client`, 19, `no client named "nope"; defined: "c"`},
			{`job "x".storage`, 21, `no storage named "s2"; defined: "s"`},
		}},
		{"references to nothing", dirHead + `job "x" {
  client = "c"
}`, []want{
			{`job "x".fileset`, 4, "required: the name of the fileset this job uses"},
			{`job "x".storage`, 4, "required: the name of the storage this job uses"},
			{`job "x".client`, 5, `no client named "c"; no client is defined`},
		}},
		{"many names are counted", dirHead + manyClients(9) + `job "x" {
  client = "nope"
}`, []want{
			{`job "x".fileset`, 31, "required"},
			{`job "x".storage`, 31, "required"},
			{`job "x".client`, 32, `no client named "nope"; 9 clients are defined`},
		}},
		{"ports", dirHead + `client "c" {
  address = "h"
  data_port = 0
}
storage "s" {
  address = "h"
  data_port = 65536
}`, []want{
			{`client "c".data_port`, 6, "port 0 is out of range 1-65535"},
			{`storage "s".data_port`, 10, "port 65536 is out of range"},
		}},
		{"addresses", dirHead + `client "a" {
  address = "nats://h"
}
client "b" {
  address = "h:9102"
}
client "c" {
  address = ""
}
storage "s" {
}`, []want{
			{`client "a".address`, 5, "has a scheme"},
			{`client "b".address`, 8, `contains a port (9102); put the port in data_port`},
			{`client "c".address`, 11, "required"},
			{`storage "s".address`, 13, "required"},
		}},
		{"director values", `director "d" {
  nats_listen = "4222"
  nats_url = "http://x:4222"
  catalog = "mysql://db"
  events_max_age = "-1h"
  events_max_bytes = "lots"
  connect_timeout = "soon"
  job_timeout = "-5s"
  data_keepalive = "500ms"
}`, []want{
			{`director "d".data_dir`, 1, "required: the directory for the JetStream store"},
			{`director "d".nats_listen`, 2, "missing port in address"},
			{`director "d".nats_url`, 3, "scheme must be nats, tls, ws or wss"},
			{`director "d".catalog`, 4, `catalog URL scheme "mysql" is not supported`},
			{`director "d".events_max_age`, 5, "must not be negative"},
			{`director "d".events_max_bytes`, 6, `invalid size "lots"`},
			{`director "d".connect_timeout`, 7, `invalid duration "soon"`},
			{`director "d".job_timeout`, 8, "must not be negative"},
			{`director "d".data_keepalive`, 9, "too short: use at least 1s"},
		}},
		{"passive client", dirHead + `client "c" {
  address            = "h"
  passive            = true
  leaf_password_file = "/etc/ferry/secrets/c-leaf.secret"
}`, nil},
		{"passive client without leaf_password_file", dirHead + `client "c" {
  address = "h"
  passive = true
}`, []want{{`client "c".leaf_password_file`, 4, "required when passive = true: the NATS side dials the client's leafnode port"}}},
		{"passive client with empty leaf_password_file", dirHead + `client "c" {
  address            = "h"
  passive            = true
  leaf_password_file = ""
}`, []want{{`client "c".leaf_password_file`, 7, "required when passive = true"}}},
		{"active client needs no leaf settings", dirHead + `client "c" {
  address = "h"
  passive = false
}`, nil},
		{"leaf_port range", dirHead + `client "a" {
  address            = "h"
  passive            = true
  leaf_port          = 0
  leaf_password_file = "/s"
}
client "b" {
  address            = "h"
  passive            = true
  leaf_port          = 65536
  leaf_password_file = "/s"
}
client "c" {
  address            = "h"
  passive            = true
  leaf_port          = 65535
  leaf_password_file = "/s"
}`, []want{
			{`client "a".leaf_port`, 7, "port 0 is out of range 1-65535"},
			{`client "b".leaf_port`, 13, "port 65536 is out of range 1-65535"},
		}},
		{"leaf_port wrong type", dirHead + `client "c" {
  address            = "h"
  passive            = true
  leaf_port          = "x"
  leaf_password_file = "/s"
}`, []want{{`client "c".leaf_port`, 7, "a number is required"}}},
		{"client max_wait", dirHead + `client "c" {
  address = "h"
  max_wait = "-1s"
}`, []want{{`client "c".max_wait`, 6, "must not be negative"}}},
		{"fileset include", dirHead + `fileset "a" {
  include = []
}
fileset "b" {
  exclude = ["*.tmp"]
}
fileset "c" {
  include = ["/etc", "etc", "", "/etc/"]
  exclude = ["[", ""]
}`, []want{
			{`fileset "a".include`, 5, "required: at least one absolute path"},
			{`fileset "b".include`, 7, "required: at least one absolute path"},
			{`fileset "c".include[1]`, 11, `"etc" is not an absolute path`},
			{`fileset "c".include[2]`, 11, `"" is not an absolute path`},
			{`fileset "c".include[3]`, 11, `"/etc" is listed twice (also include[0])`},
			{`fileset "c".exclude[0]`, 12, `"[" is not a valid pattern`},
			{`fileset "c".exclude[1]`, 12, "empty pattern"},
		}},
		{"level", dirRes + `job "x" {
  client = "c"
  fileset = "f"
  storage = "s"
  level = "Full"
}`, []want{{`job "x".level`, 22, `level "Full" is not one of full, incremental, differential`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDirector("d.hcl", []byte(tt.src))
			expectProblems(t, err, tt.wants)
			if (d == nil) != (err != nil) {
				t.Errorf("got director %v with error %v", d, err)
			}
		})
	}
}

// manyClients writes n valid client blocks, three lines each.
func manyClients(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("client \"c" + string(rune('a'+i)) + "\" {\n  address = \"h\"\n}\n")
	}
	return b.String()
}

// TestProblemsTogether checks that problems of every sort, HCL's and
// Ferry's, come back at once, ordered by position, with file:line:col.
func TestProblemsTogether(t *testing.T) {
	src := `director "dir1" {
  data_dir = "/d"
  color = "blue"
}
client "web.example.com" {
  address   = "10.0.0.5:9102"
  data_port = 70000
}
fileset "etc" {
  include = ["etc"]
}
job "j" {
  client  = "web1"
  fileset = "etc"
  storage = "site1"
  level   = "weekly"
}
`
	_, err := ParseDirector("director.hcl", []byte(src))
	expectProblems(t, err, []want{
		{`director "dir1".color`, 3, "Unsupported argument"},
		{`client "web.example.com"`, 5, `try "web-example-com"`},
		{`client "web.example.com".address`, 6, "contains a port"},
		{`client "web.example.com".data_port`, 7, "out of range"},
		{`fileset "etc".include[0]`, 10, "not an absolute path"},
		{`job "j".client`, 13, `no client named "web1"; defined: "web.example.com"`},
		{`job "j".storage`, 15, "no storage is defined"},
		{`job "j".level`, 16, `level "weekly"`},
	})
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 8 {
		t.Fatalf("Error() has %d lines, want 8:\n%v", len(lines), err)
	}
	for _, l := range []string{
		`director.hcl:3:3: director "dir1".color: Unsupported argument`,
		`director.hcl:7:15: client "web.example.com".data_port: port 70000 is out of range 1-65535`,
		`director.hcl:10:14: fileset "etc".include[0]: "etc" is not an absolute path`,
	} {
		if !strings.Contains(err.Error(), l) {
			t.Errorf("Error() lacks %q:\n%v", l, err)
		}
	}
}

func TestValidateInCode(t *testing.T) {
	d := &Director{
		Name:           "dev",
		NATSListen:     "127.0.0.1:0",
		DataDir:        "/tmp/ferry",
		EventsMaxAge:   time.Hour,
		ConnectTimeout: time.Second,
		Clients:        []Client{{Name: "c", Address: "127.0.0.1", DataPort: 9102}},
		Storages:       []Storage{{Name: "s", Address: "127.0.0.1", DataPort: 9103}},
		FileSets:       []FileSet{{Name: "f", Include: []string{"/srv"}}},
		Jobs:           []Job{{Name: "j", Client: "c", FileSet: "f", Storage: "s", Level: LevelFull}},
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("valid director: %v", err)
	}
	d.Clients = append(d.Clients, Client{Name: "c", Address: "h:1", DataPort: 9102})
	d.FileSets[0].Include = []string{"/srv/"}
	d.Jobs[0].Level = ""
	d.Clients = append(d.Clients, Client{Name: "p", Address: "h", DataPort: 9102, Passive: true})
	d.EventsMaxBytes = -1
	err := d.Validate()
	expectProblems(t, err, []want{
		{`director "dev".events_max_bytes`, 0, "must not be negative"},
		{`client "c".address`, 0, "contains a port"},
		{`client "p".leaf_port`, 0, "port 0 is out of range"},
		{`client "p".leaf_password_file`, 0, "required when passive = true"},
		{`fileset "f".include[0]`, 0, `"/srv/" is not clean; write "/srv"`},
		{`job "j".level`, 0, `level ""`},
		{`client "c"`, 0, `duplicate client name "c"; first defined as clients[0]`},
	})
	want := `client "c".address: "h:1" contains a port (1); put the port in data_port`
	if !strings.Contains(err.Error(), "\n"+want+"\n") {
		t.Errorf("Error() lacks the line %q:\n%v", want, err)
	}
}
