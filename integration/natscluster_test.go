package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/agents/pki"
	"github.com/ferrybackup/ferry/bus/natsconf"
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
	cert, key   string   // the node's CA-issued certificate, for 127.0.0.1
}

// natsKeys are the test cluster's CA, certificates and identities, all in
// one directory: the layout harness.AttachOptions reads.
type natsKeys struct {
	dir string
	ca  *pki.CA
	ids map[string]*identity.Identity
}

func newNATSKeys(t *testing.T, dir string) *natsKeys {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o700))
	ca, err := pki.NewCA("ferry-test")
	must(t, err)
	must(t, ca.Save(dir, true))
	return &natsKeys{dir: dir, ca: ca, ids: map[string]*identity.Identity{}}
}

func (k *natsKeys) caFile() string { return filepath.Join(k.dir, pki.CACertFile) }

// issue writes a CA-issued certificate for 127.0.0.1 as name.crt, name.key.
func (k *natsKeys) issue(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, err := k.ca.IssueFiles(filepath.Join(k.dir, name), name, []string{"127.0.0.1"}, true)
	must(t, err)
	return certFile, keyFile
}

// identity makes name's identity, saved as name.nkey.
func (k *natsKeys) identity(t *testing.T, name string) *identity.Identity {
	t.Helper()
	id, err := identity.Create(k.file(name), true)
	must(t, err)
	k.ids[name] = id
	return id
}

func (k *natsKeys) file(name string) string { return filepath.Join(k.dir, name+".nkey") }

func (k *natsKeys) public(name string) string { return k.ids[name].PublicKey() }

// security is an sd's or fd's identity_file and ca_file attributes.
func (k *natsKeys) security(name string) string {
	return fmt.Sprintf("  identity_file = %q\n  ca_file = %q\n", k.file(name), k.caFile())
}

// TestGeneratedNATSCluster runs Ferry on a two-node NATS cluster configured
// only by `ferry nats config`: the director on node na; the sd and an
// active client on node nb; a passive client whose leafnode remote the
// generator places on nb (so the director's requests to it cross a route,
// then nb's link). A backup and a restore of the passive client, and a
// backup of the active one, run through the cluster; the generator refuses
// a second remote for one client. Security is the default: every node has a
// CA-issued certificate, routes verify each other by the CA, nb checks p1's
// leafnode certificate against it, every connection authenticates with a
// key the director's file names, and a plain-text client is turned away.
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

	// Security is on: a CA, a certificate per node and for p1's leafnode
	// listener (an external server checks it against the CA), and an
	// identity for the director, each daemon and the test's console.
	keys := newNATSKeys(t, filepath.Join(dir, "keys"))
	for _, n := range nodes {
		n.cert, n.key = keys.issue(t, n.name)
	}
	p1LeafCert, p1LeafKey := keys.issue(t, "p1-leaf")
	for _, name := range []string{"dir1", "site1", "a1", "p1", "console"} {
		keys.identity(t, name)
	}

	secret := filepath.Join(dir, "secrets", "p1-leaf.secret")
	must(t, os.MkdirAll(filepath.Dir(secret), 0o700))
	must(t, os.WriteFile(secret, []byte("leaf-pw/of@p1:$x\n"), 0o600))
	directorHCL := writeFile(t, dir, "director.hcl", fmt.Sprintf(`director "dir1" {
  nats_url        = %q
  data_dir        = %q
  connect_timeout = "3s"
  identity_file   = %q
  ca_file         = %q
}
console "test" {
  key = %q
}
storage "site1" {
  address   = "127.0.0.1"
  data_port = %d
  key       = %q
}
client "p1" {
  address            = "127.0.0.1"
  data_port          = %d
  passive            = true
  leaf_port          = %d
  leaf_password_file = %q
  key                = %q
}
client "a1" {
  address   = "127.0.0.1"
  data_port = 9
  passive   = false
  key       = %q
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
`, na.clientURL, filepath.Join(dir, "director"), keys.file("dir1"), keys.caFile(), keys.public("console"),
		portOf(t, sdListen), keys.public("site1"), p1Data, p1Leaf, secret, keys.public("p1"), keys.public("a1"), src))

	// Generate each node's configuration with the same cluster flags.
	common := []string{"nats", "config", "--director", directorHCL, "--nodes", "na,nb",
		"--cluster", "ferry-test", "--routes", na.routeURL + "," + nb.routeURL, "--assign", "p1=nb"}
	for _, n := range nodes {
		n.generatedBy = append(append([]string{}, common...), "--node", n.name,
			"--listen", fmt.Sprintf("127.0.0.1:%d", n.clientPort), "--route-listen", fmt.Sprintf("127.0.0.1:%d", n.routePort),
			"--store-dir", n.storeDir, "--tls-cert", n.cert, "--tls-key", n.key, "--ca", keys.caFile(), "-o", n.conf)
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
	// TLS on every link: routes verify each other by the CA, and nb checks
	// p1's leafnode certificate against it.
	for _, n := range nodes {
		conf := readText(t, n.conf)
		cluster := confBlock(conf, "cluster {")
		if !strings.Contains(cluster, "tls {") || !strings.Contains(cluster, "verify: true") {
			t.Errorf("%s: the cluster block should run mutual TLS (tls { ... verify: true }):\n%s", n.name, cluster)
		}
		for _, name := range []string{"dir1", "site1", "a1", "console"} {
			if !strings.Contains(conf, keys.public(name)) {
				t.Errorf("%s: no user for %s's key", n.name, name)
			}
		}
	}
	if want := fmt.Sprintf(`account: "FD_p1", hub: true, tls: { ca_file: %q }`, keys.caFile()); !strings.Contains(confB, want) {
		t.Errorf("nb: p1's remote should verify p1 by the CA (%s):\n%s", want, confB)
	}

	// Two remotes for one client: refused, clearly, and nothing written.
	dupOut := filepath.Join(dir, "dup.conf")
	r := ferryCmd(t, append(append([]string{}, common...), "--node", "na", "--route-listen", "127.0.0.1:1",
		"--tls-cert", na.cert, "--tls-key", na.key, "--ca", keys.caFile(), "--assign", "p1=na", "-o", dupOut)...)
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
	waitJetStream(t, na.clientURL, keys.ids["dir1"], keys.caFile())
	// No plain text: a client without TLS is turned away by every node, and
	// so is one that does not trust the deployment CA.
	for _, n := range nodes {
		plainRefused(t, n.name, fmt.Sprintf("127.0.0.1:%d", n.clientPort))
		if nc, err := nats.Connect(n.clientURL, nats.Name("test untrusting client"), nats.Timeout(3*time.Second), nats.NoReconnect()); err == nil {
			nc.Close()
			t.Errorf("%s admitted a client that does not trust the CA", n.name)
		}
	}

	director := harness.Start(t, dir, "director", bin.Ferry, "director", "--config", directorHCL)
	sd := harness.Start(t, dir, "sd-site1", bin.Ferry, "sd", "--config", writeFile(t, dir, "sd.hcl",
		fmt.Sprintf("storage_daemon \"site1\" {\n  nats_url = %q\n  data_listen = %q\n  volume_dir = %q\n%s}\n",
			nb.clientURL, sdListen, filepath.Join(dir, "volumes"), keys.security("site1"))))
	harness.Start(t, dir, "fd-a1", bin.Ferry, "fd", "--config", writeFile(t, dir, "fd-a1.hcl",
		fmt.Sprintf("file_daemon \"a1\" {\n  nats_url = %q\n  data_listen = \"127.0.0.1:0\"\n  passive = false\n%s}\n", nb.clientURL, keys.security("a1"))))
	p1Secret := filepath.Join(dir, "secrets", "p1-fd-leaf.secret")
	must(t, os.WriteFile(p1Secret, []byte("leaf-pw/of@p1:$x\n"), 0o600))
	harness.Start(t, dir, "fd-p1", bin.Ferry, "fd", "--config", writeFile(t, dir, "fd-p1.hcl",
		fmt.Sprintf("file_daemon \"p1\" {\n  data_listen = \"127.0.0.1:%d\"\n  passive = true\n  leaf_listen = \"127.0.0.1:%d\"\n  leaf_password_file = %q\n%s  leaf_cert_file = %q\n  leaf_key_file = %q\n}\n",
			p1Data, p1Leaf, p1Secret, keys.security("p1"), p1LeafCert, p1LeafKey)))

	c := harness.Attach(t, bin, dir, na.clientURL, harness.AttachOptions{KeyDir: keys.dir, CA: keys.caFile()})
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

// waitJetStream polls the account's JetStream until it answers, connected
// as id (a key the generated configuration admits with the JetStream API:
// the director's) over TLS verified by caFile.
func waitJetStream(t *testing.T, url string, id *identity.Identity, caFile string) {
	t.Helper()
	tlsConf, err := pki.ClientTLS(caFile)
	must(t, err)
	nc, err := nats.Connect(url, nats.Name("test jetstream probe"), nats.Secure(tlsConf),
		nats.Nkey(id.PublicKey(), id.Sign), nats.CustomInboxPrefix(natsconf.InboxPrefix(id.PublicKey())))
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

// plainRefused speaks the NATS protocol in plain text to a node's client
// port: the server must announce TLS as required and never answer the
// CONNECT and PING.
func plainRefused(t *testing.T, node, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	must(t, err)
	defer conn.Close()
	must(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	rd := bufio.NewReader(conn)
	info, err := rd.ReadString('\n')
	must(t, err)
	if !strings.HasPrefix(info, "INFO ") || !strings.Contains(info, `"tls_required":true`) {
		t.Errorf("%s: INFO does not require TLS: %s", node, info)
	}
	if _, err := conn.Write([]byte("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")); err != nil {
		return // already closed
	}
	rest, err := io.ReadAll(rd)
	if strings.Contains(string(rest), "PONG") {
		t.Errorf("%s answered a plain-text client: %q", node, rest)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("%s kept a plain-text client's connection open", node)
	}
}

// confBlock is the top-level block of a generated configuration that opens
// with the line open, up to its closing brace; "" if there is none.
func confBlock(conf, open string) string {
	i := strings.Index(conf, "\n"+open+"\n")
	if i < 0 {
		return ""
	}
	rest := conf[i+1:]
	if j := strings.Index(rest, "\n}\n"); j >= 0 {
		return rest[:j+3]
	}
	return rest
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
