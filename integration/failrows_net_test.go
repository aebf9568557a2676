package integration

import (
	"regexp"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/integration/netlab"
)

// TestFailureRowsNet runs the failure-table rows that need network
// namespaces (root; they fail instead of skipping under FERRY_REQUIRE_ROOT=1).
func TestFailureRowsNet(t *testing.T) {
	t.Run("data address never answers", rowNeverAnswers)
}

// rowNeverAnswers: the passive client's host drops new connections to its
// data port, so the sd's dial is never answered. The job fails within the
// connect timeout (3 s in the test cluster) saying who dialed whom at which
// address, with the passive hint; the next job, after the rule is gone,
// works.
func rowNeverAnswers(t *testing.T) {
	lab := netlab.New(t, netlab.Direct)
	src := harness.SimpleTree(t, t.TempDir())
	c := harness.NewCluster(t, bin, harness.Options{Lab: lab, Clients: []harness.Client{{Name: "c1", Passive: true, Include: []string{src}}}})
	port := portOf(t, c.FDs["c1"].Listen)
	lab.DropInbound("cli", port)
	start := time.Now()
	r := c.Ferry("run", "backup-c1", "--wait")
	want := regexp.MustCompile(`sd site1 dialed fd c1 at 10\.77\.1\.2:\d+ for the data socket and failed: .*(timeout|deadline).*passive`)
	if r.Code != 3 || !want.MatchString(r.Stdout) {
		t.Fatalf("exit %d, output %q; want a failure matching %s", r.Code, r.Stdout, want)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v: not within the connect timeout", d)
	}
	if out, err := lab.Run("cli", "nft", "delete", "table", "inet", "netlab_in"); err != nil {
		t.Fatalf("remove the drop rule: %v %s", err, out)
	}
	mustRun(t, c, "backup-c1")
}
