package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/agents/director/keyring"
	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/bus/natsconf"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/spf13/cobra"
)

// natsConfigOptions are the flags of `ferry nats config`.
type natsConfigOptions struct {
	director    string
	node        string
	nodes       []string
	cluster     string
	routeListen string
	routes      []string
	listen      string
	storeDir    string
	assign      []string
	output      string
	tlsCert     string
	tlsKey      string
	ca          string
}

func newNATSCommand(_ *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "nats", Short: "Work with an external NATS server or cluster for Ferry"}
	cmd.AddCommand(newNATSConfigCommand())
	return cmd
}

func newNATSConfigCommand() *cobra.Command {
	o := &natsConfigOptions{}
	cmd := &cobra.Command{
		Use:   "config --director FILE [--nodes A,B,... --node NAME --cluster NAME --route-listen HOST:PORT --routes URL,...] [--assign CLIENT=NODE]... [-o FILE]",
		Short: "Write a nats-server configuration from the director's: accounts and the passive clients' leafnode remotes",
		Long: `Write the configuration of one nats-server node from the director's configuration: the FERRY
account for Ferry's daemons (no_auth_user "ferry", JetStream), one account per passive client
with the exports and imports it needs, and a leafnode remote for each passive client this node
dials (the password read from the client's leaf_password_file). Unless the director runs
insecure, the node requires TLS (--tls-cert, --tls-key; --ca checks routes and passive clients)
and admits only the identities the director knows, each with its role's subjects.

Single server: leave out --nodes; every passive client's remote is on this server.

Cluster: run the command once per node with the same --nodes, --cluster, --routes and --assign;
only --node, --listen, --route-listen and --store-dir differ. Every node gets the same accounts.
Exactly one node dials a passive client: the node --assign CLIENT=NODE names, else the first of
--nodes in sorted order. Point the director's nats_url at the cluster.

The output holds leafnode passwords: -o writes it with mode 0600.`,
		Example: `  ferry nats config --director /etc/ferry/director.hcl -o /etc/nats/nats-server.conf
  ferry nats config --director /etc/ferry/director.hcl --nodes na,nb --node nb \
    --cluster ferry --route-listen 10.0.0.2:6222 --routes nats-route://10.0.0.1:6222,nats-route://10.0.0.2:6222 \
    --listen 10.0.0.2:4222 --store-dir /var/lib/nats --assign db1=nb -o /etc/nats/nats-server.conf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			text, err := o.generate()
			if err != nil {
				return err
			}
			if o.output == "" || o.output == "-" {
				_, err := io.WriteString(cmd.OutOrStdout(), text)
				return err
			}
			return writePrivate(o.output, []byte(text))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.director, "director", "", "the director's configuration file (required)")
	f.StringVar(&o.node, "node", "", "this node's server_name (default: the director's name; required with --nodes)")
	f.StringSliceVar(&o.nodes, "nodes", nil, "every node of the cluster, comma-separated; the same on every node")
	f.StringVar(&o.cluster, "cluster", "", "cluster name (required with more than one node)")
	f.StringVar(&o.routeListen, "route-listen", "", "this node's route listener, HOST:PORT (required with --cluster)")
	f.StringSliceVar(&o.routes, "routes", nil, "route URLs of the cluster's nodes, nats-route://HOST:PORT, comma-separated (this node's own is ignored by the server)")
	f.StringVar(&o.listen, "listen", "", "client listener HOST:PORT (default: the director's nats_listen)")
	f.StringVar(&o.storeDir, "store-dir", "", "JetStream store directory (default: the director's data_dir/nats, or data_dir/nats-NODE with --nodes)")
	f.StringArrayVar(&o.assign, "assign", nil, "CLIENT=NODE: the node that dials passive client CLIENT (repeatable; default: the first of --nodes in sorted order)")
	f.StringVarP(&o.output, "output", "o", "", "write to FILE with mode 0600 instead of standard output")
	f.StringVar(&o.tlsCert, "tls-cert", "", "this node's certificate (ferry cert new); required unless the director runs insecure")
	f.StringVar(&o.tlsKey, "tls-key", "", "this node's certificate key")
	f.StringVar(&o.ca, "ca", "", "the deployment CA: verifies cluster routes and passive clients' leafnode certificates (their address as the name)")
	return cmd
}

// generate checks the flags, loads the director's configuration and its
// passive clients' secrets, and renders this node's configuration.
func (o *natsConfigOptions) generate() (string, error) {
	if err := o.checkFlags(); err != nil {
		return "", err
	}
	var assign []natsconf.Assignment
	for _, s := range o.assign {
		a, err := natsconf.ParseAssignment(s)
		if err != nil {
			return "", &usageError{msg: "--assign: " + err.Error()}
		}
		assign = append(assign, a)
	}
	cfg, err := config.LoadDirector(o.director)
	if err != nil {
		return "", err
	}
	srv := natsconf.Server{Name: o.node, Listen: o.listen, StoreDir: o.storeDir}
	if srv.Name == "" {
		srv.Name = cfg.Name
	}
	if srv.Listen == "" {
		srv.Listen = cfg.NATSListen
	}
	if srv.StoreDir == "" {
		srv.StoreDir = filepath.Join(cfg.DataDir, "nats")
		if len(o.nodes) > 0 {
			srv.StoreDir = filepath.Join(cfg.DataDir, "nats-"+srv.Name)
		}
	}
	if o.cluster != "" {
		srv.Cluster = &natsconf.Cluster{Name: o.cluster, Listen: o.routeListen, Routes: o.routes}
	}
	var passive []natsconf.Passive
	for _, c := range cfg.Clients {
		if !c.Passive {
			continue
		}
		pw, err := config.ReadSecret(c.LeafPasswordFile)
		if err != nil {
			return "", fmt.Errorf("client %s: leaf_password_file: %w", c.Name, err)
		}
		passive = append(passive, natsconf.Passive{Name: c.Name, Address: c.Address, LeafPort: c.LeafPort, Password: pw})
	}
	if srv.Passive, err = natsconf.Place(passive, o.nodes, assign); err != nil {
		return "", &usageError{msg: err.Error()}
	}
	if !cfg.Insecure {
		if o.tlsCert == "" || o.tlsKey == "" {
			return "", &usageError{msg: "--tls-cert and --tls-key are required: every bus link runs TLS unless the director's configuration says insecure = true"}
		}
		srv.TLS = &natsconf.TLSFiles{Cert: o.tlsCert, Key: o.tlsKey, CA: o.ca}
		if srv.Users, err = natsUsers(cfg); err != nil {
			return "", err
		}
	}
	// The director's file is valid and the placement checked: what Config
	// still refuses comes from the flags (a cluster or route setting).
	text, err := natsconf.Config(srv)
	if err != nil {
		return "", &usageError{msg: err.Error()}
	}
	return text, nil
}

// natsUsers lists every identity the external server admits, each with its
// role's permissions: the director, and the storages, active clients and
// consoles whose keys the configuration names or an operator accepted (the
// director's key file in data_dir, when readable here). Unknown keys get
// nothing: enrolment needs the director's embedded server; with an external
// one, name the keys in the configuration or regenerate after accepting.
func natsUsers(cfg *config.Director) ([]natsconf.User, error) {
	id, err := identity.Load(cfg.IdentityFile)
	if err != nil {
		return nil, fmt.Errorf("director %s: %w", cfg.Name, err)
	}
	users := []natsconf.User{{Name: cfg.Name, Role: schemas.RoleDirector, NKey: id.PublicKey()}}
	seen := map[string]bool{id.PublicKey(): true}
	add := func(role schemas.Role, name, key string) {
		if key != "" && !seen[key] {
			seen[key] = true
			users = append(users, natsconf.User{Name: name, Role: role, NKey: key})
		}
	}
	passive := map[string]bool{}
	for _, c := range cfg.Clients {
		passive[c.Name] = c.Passive
		if !c.Passive {
			add(schemas.RoleFD, c.Name, c.Key)
		}
	}
	for _, s := range cfg.Storages {
		add(schemas.RoleSD, s.Name, s.Key)
	}
	for _, c := range cfg.Consoles {
		add(schemas.RoleConsole, c.Name, c.Key)
	}
	if ring, err := keyring.Open(filepath.Join(cfg.DataDir, "keys.json"), nil, false); err == nil {
		for _, e := range ring.List(keyring.Accepted) {
			if !(e.Role == schemas.RoleFD && passive[e.Name]) {
				add(e.Role, e.Name, e.Key)
			}
		}
	}
	return users, nil
}

// checkFlags refuses combinations that cannot make a working node.
func (o *natsConfigOptions) checkFlags() error {
	u := func(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }
	switch {
	case o.director == "":
		return u("--director FILE is required: the director's configuration")
	case o.cluster == "" && (o.routeListen != "" || len(o.routes) > 0):
		return u("--route-listen and --routes need --cluster NAME")
	case o.cluster != "" && o.routeListen == "":
		return u("--cluster needs --route-listen HOST:PORT, this node's route listener")
	case o.cluster != "" && len(o.nodes) == 0:
		return u("--cluster needs --nodes A,B,...: every node of the cluster, so that exactly one dials each passive client")
	case len(o.nodes) > 1 && o.cluster == "":
		return u("--nodes names %d nodes: give --cluster NAME, --route-listen and --routes to join them", len(o.nodes))
	case len(o.nodes) > 0 && o.node == "":
		return u("--nodes needs --node NAME: the node this configuration is for")
	case len(o.nodes) > 0 && !slices.Contains(o.nodes, o.node):
		return u("--node %s is not one of --nodes %v", o.node, o.nodes)
	case len(o.assign) > 0 && len(o.nodes) == 0:
		return u("--assign needs --nodes: a single server dials every passive client itself")
	}
	return nil
}

// writePrivate replaces path with data, mode 0600 whatever the file had
// before: the configuration holds leafnode passwords.
func writePrivate(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
