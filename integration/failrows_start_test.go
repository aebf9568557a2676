package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/integration/harness"
)

// rowOffline: a job whose fd or sd is not running fails at once with a
// reason naming the agent, and leaves no job running.
func rowOffline(t *testing.T) {
	cases := []struct {
		name, offline, want string
	}{
		{"client offline", "c1", "client c1 is offline"},
		{"storage offline", "site1", "storage daemon site1 is offline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := harness.SimpleTree(t, t.TempDir())
			c := harness.NewCluster(t, bin, harness.Options{NoStart: []string{tc.offline},
				Clients: []harness.Client{{Name: "c1", Include: []string{src}}}})
			r := c.Ferry("run", "backup-c1", "--wait")
			if r.Code != 3 {
				t.Fatalf("exit %d, want 3 (job failed)\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
			}
			if !strings.Contains(r.Stdout, "failed") || !strings.Contains(r.Stdout, tc.want) {
				t.Errorf("output does not say %q:\n%s", tc.want, r.Stdout)
			}
			jobs := c.Ferry("jobs")
			if strings.Contains(jobs.Stdout, "running") || strings.Contains(jobs.Stdout, "created") {
				t.Errorf("a job is left unfinished:\n%s", jobs.Stdout)
			}
		})
	}
}

// rowUnknownNames: an unknown job, backup id or client is refused at once
// with a clear message, and no job row is created; a job naming an unknown
// storage (or client, or fileset) never gets past ferry config check.
func rowUnknownNames(t *testing.T) {
	src := harness.SimpleTree(t, t.TempDir())
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{{Name: "c1", Include: []string{src}}}})
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown job", []string{"run", "nope"}, `no job named "nope"`},
		{"unknown backup id", []string{"restore", "--job", "999", "--to", "/tmp/x"}, "no job 999 in the catalog"},
		{"relative target", []string{"restore", "--job", "1", "--to", "rel"}, "absolute"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Ferry(tc.args...)
			if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want failure saying %q", r.Code, r.Stderr, tc.want)
			}
		})
	}
	t.Run("unknown client", func(t *testing.T) {
		r := c.Ferry("run", "backup-c1", "--wait")
		mustOK(t, r, "backup")
		r = c.Ferry("restore", "--job", jobID(t, r), "--to", "/tmp/x", "--client", "ghost")
		if r.Code == 0 || !strings.Contains(r.Stderr, `no client named "ghost"`) {
			t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
	jobs := c.Ferry("jobs")
	if n := strings.Count(jobs.Stdout, "\n"); n != 2 { // header + the one backup
		t.Errorf("refused requests left job rows:\n%s", jobs.Stdout)
	}
	t.Run("unknown storage in the configuration", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "director.hcl")
		must(t, os.WriteFile(bad, []byte(`director "d" {
  data_dir = "/tmp/x"
}
client "c1" {
  address = "127.0.0.1"
}
fileset "f" {
  include = ["/etc"]
}
job "j" {
  client  = "c1"
  fileset = "f"
  storage = "nowhere"
}
`), 0o600))
		r := c.Ferry("config", "check", bad)
		if r.Code != 4 || !strings.Contains(r.Stderr, `no storage named "nowhere"`) || !strings.Contains(r.Stderr, "director.hcl:13") {
			t.Fatalf("exit %d, stderr %q; want exit 4 naming the storage and the line", r.Code, r.Stderr)
		}
	})
}
