package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/integration/treecmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsNode is one nats-server of the test's cluster.
type natsNode struct {
	name        string
	clientPort  int
	routePort   int
	conf        string
	proc        *harness.Proc
	clientURL   string
	routeURL    string
	storeDir    string
	generatedBy []string // the ferry nats config arguments
}

// TestGeneratedNATSCluster runs Ferry on a two-node NATS cluster configured
// only by `ferry nats config`: the director on node na; the sd and an
// active client on node nb; a passive client whose leafnode remote the
// generator places on nb (so the director's requests to it cross a route,
// then nb's link). A backup and a restore of the passive client, and a
// backup of the active one, run through the cluster; the generator refuses
// a second remote for one client.
func TestGeneratedNATSCluster(t *testing.T) {
	dir := t.TempDir()
	src := harness.SimpleTree(t, dir)
	ports := harness.FreePorts(t, 7)
	na := &natsNode{name: "na", clientPort: ports[0], routePort: ports[1]}
	nb := &natsNode{name: "nb", clientPort: ports[2], routePort: ports[3]}
	nodes := []*natsNode{na, nb}
	sdListen := "127.0.0.1:" + strconv.Itoa(ports[4])
	p1Data, p1Leaf := ports[5], ports[6]
	for _, n := range nodes {
		n.clientURL = fmt.Sprintf("nats://127.0.0.1:%d", n.clientPort)
		n.routeURL = fmt.Sprintf("nats-route://127.0.0.1:%d", n.routePort)
		n.storeDir = filepath.Join(dir, "nats-"+n.name)
		n.conf = filepath.Join(dir, n.name+".conf")
	}

	secret := filepath.Join(dir, "secrets", "p1-leaf.secret")
	must(t, os.MkdirAll(filepath.Dir(secret), 0o700))
	must(t, os.WriteFile(secret, []byte("leaf-pw/of@p1:$x\n"), 0o600))
	directorHCL := writeFile(t, dir, "director.hcl", fmt.Sprintf(`director "dir1" {
  nats_url        = %q
  data_dir        = %q
  connect_timeout = "3s"
}
storage "site1" {
  address   = "127.0.0.1"
  data_port = %d
}
client "p1" {
  address            = "127.0.0.1"
  data_port          = %d
  passive            = true
  leaf_port          = %d
  leaf_password_file = %q
}
client "a1" {
  address   = "127.0.0.1"
  data_port = 9
  passive   = false
}
fileset "fs" {
  include = [%q]
}
job "backup-p1" {
  client  = "p1"
  fileset = "fs"
  storage = "site1"
}
job "backup-a1" {
  client  = "a1"
  fileset = "fs"
  storage = "site1"
}
`, na.clientURL, filepath.Join(dir, "director"), portOf(t, sdListen), p1Data, p1Leaf, secret, src))

	// Generate each node's configuration with the same cluster flags.
	common := []string{"nats", "config", "--director", directorHCL, "--nodes", "na,nb",
		"--cluster", "ferry-test", "--routes", na.routeURL + "," + nb.routeURL, "--assign", "p1=nb"}
	for _, n := range nodes {
		n.generatedBy = append(append([]string{}, common...), "--node", n.name,
			"--listen", fmt.Sprintf("127.0.0.1:%d", n.clientPort), "--route-listen", fmt.Sprintf("127.0.0.1:%d", n.routePort),
			"--store-dir", n.storeDir, "-o", n.conf)
		mustOK(t, ferryCmd(t, n.generatedBy...), "ferry nats config for "+n.name)
		fi, err := os.Stat(n.conf)
		must(t, err)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", n.conf, fi.Mode().Perm())
		}
	}
	confA, confB := readText(t, na.conf), readText(t, nb.conf)
	if strings.Contains(confA, "remotes") || !strings.Contains(confB, `account: "FD_p1", hub: true`) {
		t.Fatalf("p1's remote should be on nb only:\n--- na\n%s\n--- nb\n%s", confA, confB)
	}

	// Two remotes for one client: refused, clearly, and nothing written.
	dupOut := filepath.Join(dir, "dup.conf")
	r := ferryCmd(t, append(append([]string{}, common...), "--node", "na", "--route-listen", "127.0.0.1:1",
		"--assign", "p1=na", "-o", dupOut)...)
	if r.Code == 0 || !strings.Contains(r.Stderr, `passive client p1 has two leafnode remotes (nodes "nb" and "na")`) {
		t.Errorf("duplicate assignment: exit %d, stderr %q; want a refusal naming both nodes", r.Code, r.Stderr)
	}
	if strings.Contains(r.Stderr, "leaf-pw") {
		t.Errorf("refusal shows the password: %s", r.Stderr)
	}
	if _, err := os.Stat(dupOut); !os.IsNotExist(err) {
		t.Errorf("refused generation wrote %s (err %v)", dupOut, err)
	}

	// The cluster, from the generated files alone.
	for _, n := range nodes {
		n.proc = harness.Start(t, dir, "nats-"+n.name, bin.NATSServer, "-c", n.conf)
	}
	for _, n := range nodes {
		harness.WaitTCP(t, fmt.Sprintf("127.0.0.1:%d", n.clientPort))
	}
	// The director creates its event stream once, at start, and stops if
	// that fails: a request sent before the JetStream meta group (both
	// nodes: a quorum of two) has a leader gets no answer, and the
	// director exits after the API timeout. Wait for JetStream first.
	waitJetStream(t, na.clientURL)

	director := harness.Start(t, dir, "director", bin.Ferry, "director", "--config", directorHCL)
	sd := harness.Start(t, dir, "sd-site1", bin.Ferry, "sd", "--config", writeFile(t, dir, "sd.hcl",
		fmt.Sprintf("storage_daemon \"site1\" {\n  nats_url = %q\n  data_listen = %q\n  volume_dir = %q\n}\n",
			nb.clientURL, sdListen, filepath.Join(dir, "volumes"))))
	harness.Start(t, dir, "fd-a1", bin.Ferry, "fd", "--config", writeFile(t, dir, "fd-a1.hcl",
		fmt.Sprintf("file_daemon \"a1\" {\n  nats_url = %q\n  data_listen = \"127.0.0.1:0\"\n  passive = false\n}\n", nb.clientURL)))
	p1Secret := filepath.Join(dir, "secrets", "p1-fd-leaf.secret")
	must(t, os.WriteFile(p1Secret, []byte("leaf-pw/of@p1:$x\n"), 0o600))
	harness.Start(t, dir, "fd-p1", bin.Ferry, "fd", "--config", writeFile(t, dir, "fd-p1.hcl",
		fmt.Sprintf("file_daemon \"p1\" {\n  data_listen = \"127.0.0.1:%d\"\n  passive = true\n  leaf_listen = \"127.0.0.1:%d\"\n  leaf_password_file = %q\n}\n",
			p1Data, p1Leaf, p1Secret)))

	c := harness.Attach(t, bin, dir, na.clientURL)
	c.Director, c.SD = director, sd
	c.WaitOnline("site1", "a1", "p1")

	// Only nb dialed the passive client.
	if !strings.Contains(nb.proc.LogText(), "Leafnode connection created") {
		t.Errorf("nb's log shows no leafnode connection")
	}
	if strings.Contains(na.proc.LogText(), "Leafnode connection created") {
		t.Errorf("na dialed a leafnode; only nb may")
	}

	r = c.Ferry("run", "backup-p1", "--wait")
	mustOK(t, r, "backup of the passive client")
	id := jobID(t, r)
	if !strings.Contains(r.Stdout, "data sd→fd ") {
		t.Errorf("passive backup should be dialed by the sd: %s", r.Stdout)
	}
	target := filepath.Join(dir, "restore")
	r = c.Ferry("restore", "--job", id, "--to", target, "--wait")
	mustOK(t, r, "restore to the passive client")
	treecmp.Equal(t, src, filepath.Join(target, src), treecmp.Options{DirMtimes: true, Owner: os.Geteuid() == 0})

	r = c.Ferry("run", "backup-a1", "--wait")
	mustOK(t, r, "backup of the active client")
	if !strings.Contains(r.Stdout, "data fd→sd ") {
		t.Errorf("active backup should be dialed by the fd: %s", r.Stdout)
	}
}

// waitJetStream polls the account's JetStream until it answers.
func waitJetStream(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("test jetstream probe"))
	must(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	must(t, err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream of the cluster not ready after 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ferryCmd runs the ferry binary without a bus.
func ferryCmd(t *testing.T, args ...string) harness.Result {
	t.Helper()
	cmd := exec.Command(bin.Ferry, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := harness.Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ferry %v: %v", args, err)
	}
	return r
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	must(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return string(b)
}
