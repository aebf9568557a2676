package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/agents/fd"
	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/agents/pki"
	"github.com/ferrybackup/ferry/agents/sd"
	"github.com/ferrybackup/ferry/cmd/internal/wiring"
	"github.com/spf13/cobra"
)

type devOptions struct {
	dir      string
	natsPort int
}

func newDevCommand(g *globalOptions) *cobra.Command {
	o := &devOptions{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process on loopback: embedded NATS, director, sd, a passive and an active client",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runDev(g, o) },
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "state folder (default: a new temporary folder)")
	cmd.Flags().IntVar(&o.natsPort, "nats-port", 4222, "NATS client port on 127.0.0.1")
	return cmd
}

// devSetup is the dev installation: configuration is code, not a file.
type devSetup struct {
	dir      string
	director *config.Director
	sd       sd.Config
	fds      []fd.Config
	links    []wiring.FDLink
	sdSec    wiring.AgentSecurity
	fdSecs   []wiring.AgentSecurity
	console  string // the console's key file
	caFile   string
}

// devKeys makes the dev installation's keys and certificates in dir: a CA
// and the embedded server's certificate for 127.0.0.1, and an identity for
// the director, the sd, each client and a console.
type devKeys struct {
	caFile, certFile, keyFile string
	ids                       map[string]*identity.Identity
	files                     map[string]string
}

func newDevKeys(dir string, names ...string) (*devKeys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := pki.NewCA("dev")
	if err != nil {
		return nil, err
	}
	if err := ca.Save(dir, true); err != nil {
		return nil, err
	}
	k := &devKeys{caFile: filepath.Join(dir, pki.CACertFile), ids: map[string]*identity.Identity{}, files: map[string]string{}}
	if k.certFile, k.keyFile, err = ca.IssueFiles(filepath.Join(dir, "hub"), "dev-hub", []string{"127.0.0.1", "localhost"}, true); err != nil {
		return nil, err
	}
	for _, n := range names {
		f := filepath.Join(dir, n+".nkey")
		if k.ids[n], err = identity.Create(f, true); err != nil {
			return nil, err
		}
		k.files[n] = f
	}
	return k, nil
}

func newDevSetup(dir string, natsPort int) (*devSetup, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	secret, password, err := devSecret(filepath.Join(dir, "secrets"), "dev-passive-leaf.secret")
	if err != nil {
		return nil, err
	}
	sample := filepath.Join(dir, "sample")
	if err := writeSample(sample); err != nil {
		return nil, err
	}
	sdPort, fdPort, leafPort := ports[0], ports[1], ports[2]
	keys, err := newDevKeys(filepath.Join(dir, "secrets"), "dev", "dev-sd", "dev-passive", "dev-active", "console")
	if err != nil {
		return nil, fmt.Errorf("dev keys: %w", err)
	}
	pub := func(n string) string { return keys.ids[n].PublicKey() }
	d := &config.Director{
		Name: "dev", NATSListen: "127.0.0.1:" + strconv.Itoa(natsPort), DataDir: filepath.Join(dir, "director"),
		Catalog: filepath.Join(dir, "director", "catalog.db"), EventsMaxAge: 24 * time.Hour, EventsMaxBytes: 64 << 20,
		ConnectTimeout: 10 * time.Second, DataKeepalive: config.DefaultDataKeepalive,
		IdentityFile: keys.files["dev"], TLSCertFile: keys.certFile, TLSKeyFile: keys.keyFile, CAFile: keys.caFile, Enrolment: true,
		Clients: []config.Client{
			{Name: "dev-passive", Address: "127.0.0.1", DataPort: fdPort, Passive: true, LeafPort: leafPort, LeafPasswordFile: secret, Key: pub("dev-passive")},
			{Name: "dev-active", Address: "127.0.0.1", DataPort: config.DefaultClientDataPort, Key: pub("dev-active")},
		},
		Consoles: []config.Console{{Name: "console", Key: pub("console")}},
		Storages: []config.Storage{{Name: "dev-sd", Address: "127.0.0.1", DataPort: sdPort, Key: pub("dev-sd")}},
		FileSets: []config.FileSet{{Name: "sample", Include: []string{sample}, OneFileSystem: true}},
		Jobs: []config.Job{
			{Name: "backup-passive", Client: "dev-passive", FileSet: "sample", Storage: "dev-sd", Level: config.LevelFull},
			{Name: "backup-active", Client: "dev-active", FileSet: "sample", Storage: "dev-sd", Level: config.LevelFull},
		},
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &devSetup{
		dir: dir, director: d,
		sd: sd.Config{Name: "dev-sd", DataListen: "127.0.0.1:" + strconv.Itoa(sdPort), VolumeDir: filepath.Join(dir, "volumes"), Version: version},
		fds: []fd.Config{
			{Name: "dev-passive", DataListen: "127.0.0.1:" + strconv.Itoa(fdPort), Passive: true, Version: version},
			{Name: "dev-active", Version: version},
		},
		links:   []wiring.FDLink{{LeafListen: "127.0.0.1:" + strconv.Itoa(leafPort), LeafPassword: password}, {}},
		sdSec:   wiring.AgentSecurity{Identity: keys.ids["dev-sd"], CAFile: keys.caFile},
		fdSecs:  []wiring.AgentSecurity{{Identity: keys.ids["dev-passive"], CAFile: keys.caFile}, {Identity: keys.ids["dev-active"], CAFile: keys.caFile}},
		console: keys.files["console"], caFile: keys.caFile,
	}, nil
}

func runDev(g *globalOptions, o *devOptions) error {
	dir := o.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "ferry-dev-"); err != nil {
			return err
		}
	}
	s, err := newDevSetup(dir, o.natsPort)
	if err != nil {
		return err
	}
	app := wiring.App(g.logger(), wiring.Director(s.director), wiring.StorageDaemon(s.sd, s.sdSec),
		wiring.FileDaemon(s.fds[0], s.links[0], s.fdSecs[0]), wiring.FileDaemon(s.fds[1], s.links[1], s.fdSecs[1]))
	fmt.Printf(devBanner, s.director.NATSListen, dir, s.director.NATSListen, dir, s.console, s.caFile)
	return runApp(app)
}

const devBanner = `Ferry dev: everything in one process, state in %[2]s
  bus (embedded NATS): nats://%[1]s
  director "dev", storage daemon "dev-sd", clients "dev-passive" (passive: it dials nothing; the NATS side dials
  its leafnode listener and the sd dials its data port) and "dev-active"
Every link runs TLS (a CA made for this run) and every agent signs in with its own key.
Try, in another shell:
  export FERRY_NATS=tls://%[3]s FERRY_IDENTITY=%[5]s FERRY_CA=%[6]s
  ferry status
  ferry run backup-passive --wait
  ferry run backup-active --wait
  ferry jobs
  ferry restore --job 1 --to %[4]s/restored --wait
  ferry watch
Stop with Ctrl-C.
`

func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// writeSample creates a small tree to back up.
func writeSample(dir string) error {
	files := map[string]string{
		"README.txt":           "Ferry dev sample tree.\n",
		"etc/app.conf":         "listen = 8080\nworkers = 4\n",
		"data/notes/today.txt": "backed up by ferry dev\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o750); err != nil {
		return err
	}
	link := filepath.Join(dir, "etc/current")
	if _, err := os.Lstat(link); err == nil {
		return nil
	}
	return os.Symlink("app.conf", link)
}

// devSecret writes a fresh random leafnode password (mode 0600).
func devSecret(dir, name string) (path, password string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	password = hex.EncodeToString(b)
	path = filepath.Join(dir, name)
	return path, password, os.WriteFile(path, []byte(password+"\n"), 0o600)
}
