package natsconf_test

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/bus/natsconf"
	"github.com/nats-io/nats-server/v2/server"
)

// secret has every character a URL's userinfo must escape, and a '$',
// which the NATS configuration would expand outside quotes.
const secret = `p@ss:w/rd?#"\$HOME %2F`

func passives() []natsconf.Passive {
	return []natsconf.Passive{
		{Name: "p1", Address: "10.0.0.6", LeafPort: 7422, Password: secret},
		{Name: "p2", Address: "db2.example.com", LeafPort: 17422, Password: "pw2"},
		{Name: "p3", Address: "::1", LeafPort: 7423, Password: "pw3"},
	}
}

// parse loads text with the server's own configuration processor and
// validates the options as the server would at start.
func parse(t *testing.T, text string) *server.Options {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nats-server.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(p)
	if err != nil {
		t.Fatalf("nats-server refuses the configuration: %v\n%s", err, text)
	}
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats-server refuses the options: %v\n%s", err, text)
	}
	s.Shutdown()
	return opts
}

func nodeConfig(t *testing.T, node string, placed []natsconf.Passive) string {
	t.Helper()
	routes := []string{"nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223"}
	listen := map[string]string{"na": "127.0.0.1:6222", "nb": "127.0.0.1:6223"}[node]
	text, err := natsconf.Config(natsconf.Server{Name: node, Listen: "127.0.0.1:4222", StoreDir: filepath.Join(t.TempDir(), node),
		Cluster: &natsconf.Cluster{Name: "ferry", Listen: listen, Routes: routes}, Passive: placed})
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// remotes maps each leafnode remote of a node to its account.
func remotes(opts *server.Options) map[string]*url.URL {
	out := map[string]*url.URL{}
	for _, r := range opts.LeafNode.Remotes {
		out[r.LocalAccount] = r.URLs[0]
	}
	return out
}

// accountsBlock is the text of the accounts block.
func accountsBlock(t *testing.T, text string) string {
	t.Helper()
	start := strings.Index(text, "\naccounts {\n")
	end := strings.Index(text[start+1:], "\n}\n")
	if start < 0 || end < 0 {
		t.Fatalf("no accounts block in\n%s", text)
	}
	return text[start : start+1+end]
}

// TestClusterNodes: with p1 assigned to nb and the others left to the
// default, nb dials p1 alone and na dials p2 and p3; both nodes parse,
// form one cluster with distinct names and stores, and hold identical
// accounts.
func TestClusterNodes(t *testing.T) {
	placed, err := natsconf.Place(passives(), []string{"nb", "na"}, []natsconf.Assignment{{Client: "p1", Node: "nb"}})
	if err != nil {
		t.Fatal(err)
	}
	text := map[string]string{}
	opts := map[string]*server.Options{}
	for _, n := range []string{"na", "nb"} {
		text[n] = nodeConfig(t, n, placed)
		opts[n] = parse(t, text[n])
	}
	wantRemotes := map[string][]string{"na": {"FD_p2", "FD_p3"}, "nb": {"FD_p1"}}
	for n, want := range wantRemotes {
		o := opts[n]
		var got []string
		for acc := range remotes(o) {
			got = append(got, acc)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("node %s dials %v, want %v", n, got, want)
		}
		for _, r := range o.LeafNode.Remotes {
			if !r.Hub {
				t.Errorf("node %s: remote for %s is not hub: true", n, r.LocalAccount)
			}
		}
		if o.ServerName != n || o.Cluster.Name != "ferry" || len(o.Routes) != 2 || !o.JetStream {
			t.Errorf("node %s: server_name %q, cluster %q, %d routes, jetstream %v", n, o.ServerName, o.Cluster.Name, len(o.Routes), o.JetStream)
		}
		// Every node lists the same placement.
		for _, line := range []string{"# passive client p1: dialed by node nb", "# passive client p2: dialed by node na"} {
			if !strings.Contains(text[n], line+"\n") {
				t.Errorf("node %s lacks %q", n, line)
			}
		}
	}
	if opts["na"].StoreDir == opts["nb"].StoreDir {
		t.Errorf("both nodes store JetStream in %s", opts["na"].StoreDir)
	}
	if a, b := accountsBlock(t, text["na"]), accountsBlock(t, text["nb"]); a != b {
		t.Errorf("accounts differ between nodes:\n--- na\n%s\n--- nb\n%s", a, b)
	}
	for _, acc := range []string{"FERRY", "FD_p1", "FD_p2", "FD_p3"} {
		for _, n := range []string{"na", "nb"} {
			if !slices.ContainsFunc(opts[n].Accounts, func(a *server.Account) bool { return a.Name == acc }) {
				t.Errorf("node %s has no account %s", n, acc)
			}
		}
	}
	// The password reaches the server intact, and only URL-escaped in the text.
	u := remotes(opts["nb"])["FD_p1"]
	if pw, _ := u.User.Password(); pw != secret || u.User.Username() != "p1" || u.Host != "10.0.0.6:7422" {
		t.Errorf("p1's remote URL parses to user %q password %q host %q, want p1 %q 10.0.0.6:7422", u.User.Username(), pw, u.Host, secret)
	}
	if strings.Contains(text["nb"], secret) {
		t.Errorf("the password is written unescaped:\n%s", text["nb"])
	}
	if u := remotes(opts["na"])["FD_p3"]; u.Host != "[::1]:7423" {
		t.Errorf("p3's remote host = %q, want [::1]:7423", u.Host)
	}
}

// TestSingleServer: without nodes every passive client's remote is on the
// one server, and there is no cluster block.
func TestSingleServer(t *testing.T) {
	placed, err := natsconf.Place(passives(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	text, err := natsconf.Config(natsconf.Server{Name: "dir1", Listen: "127.0.0.1:4222", StoreDir: t.TempDir(), Passive: placed})
	if err != nil {
		t.Fatal(err)
	}
	o := parse(t, text)
	if got := len(remotes(o)); got != 3 {
		t.Errorf("%d remotes, want 3", got)
	}
	if strings.Contains(text, "cluster") || strings.Contains(text, "# passive client") {
		t.Errorf("single server has cluster lines:\n%s", text)
	}
}

func TestPlace(t *testing.T) {
	nodes := []string{"nc", "na", "nb"}
	tests := []struct {
		name   string
		nodes  []string
		assign []natsconf.Assignment
		want   map[string]string // client → node
		err    string
	}{
		{"default first sorted", nodes, nil, map[string]string{"p1": "na", "p2": "na", "p3": "na"}, ""},
		{"assigned", nodes, []natsconf.Assignment{{"p2", "nc"}, {"p3", "nb"}}, map[string]string{"p1": "na", "p2": "nc", "p3": "nb"}, ""},
		{"two nodes for one client", nodes, []natsconf.Assignment{{"p2", "nc"}, {"p2", "nb"}}, nil,
			`passive client p2 has two leafnode remotes (nodes "nc" and "nb")`},
		{"one node twice", nodes, []natsconf.Assignment{{"p2", "nb"}, {"p2", "nb"}}, nil,
			`passive client p2 has two leafnode remotes (nodes "nb" and "nb")`},
		{"unknown node", nodes, []natsconf.Assignment{{"p1", "nd"}}, nil, "assignment p1=nd: node nd is not one of the nodes nc, na, nb"},
		{"not passive", nodes, []natsconf.Assignment{{"a1", "na"}}, nil, "assignment a1=na: a1 is not a passive client of this director"},
		{"no nodes", nil, []natsconf.Assignment{{"p1", "na"}}, nil, "assignment p1=na: name the cluster's nodes"},
		{"node twice", []string{"na", "na"}, nil, nil, "node na is listed twice"},
		{"bad node name", []string{"n.a"}, nil, nil, `node: name "n.a" has '.'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := natsconf.Place(passives(), tt.nodes, tt.assign)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Place error = %v, want %q", err, tt.err)
				}
				noSecret(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			placed := map[string]string{}
			for _, p := range got {
				placed[p.Name] = p.Node
			}
			if !maps(placed, tt.want) {
				t.Errorf("placed %v, want %v", placed, tt.want)
			}
		})
	}
	// Place leaves its input alone.
	in := passives()
	if _, err := natsconf.Place(in, nodes, nil); err != nil || in[0].Node != "" {
		t.Errorf("Place changed its input: %+v, %v", in[0], err)
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestConfigRefuses: what cannot work is refused, naming the client or
// the setting and never the password.
func TestConfigRefuses(t *testing.T) {
	cluster := func() *natsconf.Cluster {
		return &natsconf.Cluster{Name: "ferry", Listen: "127.0.0.1:6222", Routes: []string{"nats-route://127.0.0.1:6223"}}
	}
	placed := func(node string) []natsconf.Passive {
		ps := passives()
		for i := range ps {
			ps[i].Node = node
		}
		return ps
	}
	dup := append(placed("na"), natsconf.Passive{Name: "p1", Address: "10.0.0.7", LeafPort: 7422, Password: secret, Node: "nb"})
	tests := []struct {
		name string
		srv  natsconf.Server
		err  string
	}{
		{"two remotes", natsconf.Server{Name: "na", Cluster: cluster(), Passive: dup},
			`passive client p1 has two leafnode remotes (nodes "na" and "nb"): exactly one NATS node may dial a client`},
		{"two remotes, single server", natsconf.Server{Name: "dir1", Passive: append(passives(), passives()[0])},
			"passive client p1 has two leafnode remotes"},
		{"no node in a cluster", natsconf.Server{Name: "na", Cluster: cluster(), Passive: placed("")},
			"passive client p1 has no node: in a cluster every node would dial it"},
		{"bad cluster name", natsconf.Server{Name: "na", Cluster: &natsconf.Cluster{Name: "a b", Listen: "h:1"}},
			`cluster name: name "a b" has ' '`},
		{"no server name", natsconf.Server{Cluster: cluster()}, "server name in a cluster: empty name"},
		{"bad route listen", natsconf.Server{Name: "na", Cluster: &natsconf.Cluster{Name: "c", Listen: "6222"}},
			"cluster c: route listen address"},
		{"bad route", natsconf.Server{Name: "na", Cluster: &natsconf.Cluster{Name: "c", Listen: ":6222", Routes: []string{"127.0.0.1:6223"}}},
			`cluster c: route "127.0.0.1:6223": write nats-route://HOST:PORT`},
		{"empty password", natsconf.Server{Name: "dir1", Passive: []natsconf.Passive{{Name: "p1", Address: "h", LeafPort: 1}}},
			"passive client p1: empty leafnode password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := natsconf.Config(tt.srv)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Config error = %v, want %q; text:\n%s", err, tt.err, text)
			}
			noSecret(t, err)
		})
	}
}

func noSecret(t *testing.T, err error) {
	t.Helper()
	escaped := url.UserPassword("p1", secret).String()
	for _, s := range []string{secret, escaped[strings.IndexByte(escaped, ':')+1:], "p@ss"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q holds the password (%q)", err, s)
		}
	}
}

// TestQuoting: values with quotes, backslashes, '$' and control
// characters reach the server as written.
func TestQuoting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a \"b\" \\c $HOME\t\a\x01é\u2028")
	text, err := natsconf.Config(natsconf.Server{Name: "dir1", Listen: "127.0.0.1:4222", StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if o := parse(t, text); o.StoreDir != dir {
		t.Errorf("store_dir = %q, want %q\n%s", o.StoreDir, dir, text)
	}
}

func TestParseAssignment(t *testing.T) {
	if a, err := natsconf.ParseAssignment("db1=na"); err != nil || a != (natsconf.Assignment{Client: "db1", Node: "na"}) {
		t.Errorf("ParseAssignment(db1=na) = %+v, %v", a, err)
	}
	for _, s := range []string{"db1", "=na", "db1=", ""} {
		if _, err := natsconf.ParseAssignment(s); err == nil || !strings.Contains(err.Error(), "write CLIENT=NODE") {
			t.Errorf("ParseAssignment(%q) error = %v", s, err)
		}
	}
}
