// Package embedded runs a NATS server inside a Ferry process: the
// director's hub (and `ferry dev`'s bus), and a passive client's own
// server, which has no client port and only a leafnode listener the hub
// dials. It is the only package that imports nats-server.
package embedded

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"
)

// Config of an embedded hub server.
type Config struct {
	Listen    string // host:port for clients; port 0 picks a free one
	DataDir   string // JetStream store (and the written configuration)
	JetStream bool
	Name      string
	// ConfText, when set, is a NATS server configuration (from package
	// natsconf: accounts, leafnode remotes) loaded first; Listen, DataDir
	// and Name still apply on top of it.
	ConfText string
	// Authorize, when set, authenticates every client by its nkey and
	// grants its rights (the configuration then has no users).
	Authorize Authorizer
	// LeafPin, when set, runs every leafnode remote (a passive client's
	// link) over TLS and checks the key of the client's certificate, got
	// by KeyOf.
	LeafPin LeafPinner
	KeyOf   PublicKeyOf
}

// Server is a running embedded NATS server.
type Server struct {
	s       *server.Server
	links   *linkLog
	audit   *Audit
	quit    chan struct{}
	remotes []*server.RemoteLeafOpts
}

// Start starts a hub server and waits until it accepts clients.
func Start(cfg Config, log *slog.Logger) (*Server, error) {
	host, port, err := splitListen(cfg.Listen)
	if err != nil {
		return nil, err
	}
	opts := &server.Options{}
	if cfg.ConfText != "" {
		if opts, err = loadConf(cfg.DataDir, cfg.ConfText); err != nil {
			return nil, err
		}
	}
	opts.ServerName, opts.Host, opts.Port = cfg.Name, host, port
	opts.JetStream, opts.StoreDir = cfg.JetStream, cfg.DataDir
	opts.NoSigs, opts.MaxPayload = true, 1<<20
	audit := &Audit{}
	var srv *server.Server
	if cfg.Authorize != nil {
		opts.AlwaysEnableNonce = true
		opts.CustomClientAuthentication = &nkeyAuth{
			authorize: cfg.Authorize,
			accounts:  func(name string) (*server.Account, error) { return srv.LookupAccount(name) },
			audit:     audit, log: log.With("component", "bus-auth"),
		}
	}
	if cfg.LeafPin != nil {
		for _, r := range opts.LeafNode.Remotes {
			r.TLS = true
			r.TLSConfig = leafTLS(r.LocalAccount, cfg.LeafPin, cfg.KeyOf, audit, log.With("component", "bus-auth"))
		}
	}
	return runWith(opts, log, audit, func(s *server.Server) { srv = s })
}

// loadConf writes the configuration (it holds leafnode passwords: mode
// 0600) and parses it.
func loadConf(dir, text string) (*server.Options, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("nats data dir: %w", err)
	}
	path := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		return nil, fmt.Errorf("nats configuration %s: %w", path, err)
	}
	return opts, nil
}

// LeafConfig is a passive client's own server.
type LeafConfig struct {
	Name     string
	Listen   string // leafnode host:port the hub dials
	User     string
	Password string
	// TLS, when set, is required on the leafnode listener: the client's
	// certificate, which the hub pins (or checks against the deployment CA).
	TLS *tls.Config
}

// StartLeaf starts a server with no client port (the agent talks to it in
// process) and one authenticated leafnode listener.
func StartLeaf(cfg LeafConfig, log *slog.Logger) (*Server, error) {
	host, port, err := splitListen(cfg.Listen)
	if err != nil {
		return nil, err
	}
	// The server keeps only a bcrypt hash of the password.
	hash, err := bcrypt.GenerateFromPassword([]byte(cfg.Password), 10)
	if err != nil {
		return nil, fmt.Errorf("leafnode password: %w", err)
	}
	opts := &server.Options{ServerName: cfg.Name, DontListen: true, NoSigs: true, MaxPayload: 1 << 20}
	opts.LeafNode.Host, opts.LeafNode.Port = host, port
	opts.LeafNode.Username, opts.LeafNode.Password = cfg.User, string(hash)
	if cfg.TLS != nil {
		opts.LeafNode.TLSConfig = cfg.TLS
		opts.LeafNode.TLSTimeout = 5
	}
	return run(opts, log)
}

func splitListen(listen string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: bad port", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

func run(opts *server.Options, log *slog.Logger) (*Server, error) {
	return runWith(opts, log, &Audit{}, func(*server.Server) {})
}

func runWith(opts *server.Options, log *slog.Logger, audit *Audit, created func(*server.Server)) (*Server, error) {
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	created(s)
	links := newLinkLog()
	s.SetLoggerV2(&slogAdapter{log: log.With("component", "nats"), links: links, audit: audit}, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server %s did not become ready", opts.ServerName)
	}
	srv := &Server{s: s, links: links, audit: audit, quit: make(chan struct{}), remotes: opts.LeafNode.Remotes}
	if len(opts.LeafNode.Remotes) > 0 {
		go srv.watchLinks()
	}
	return srv, nil
}

// ClientURL is the nats:// URL clients dial.
func (s *Server) ClientURL() string { return s.s.ClientURL() }

// InProcess is the nats.go option that connects to this server without a
// socket (a passive client's own server has no client port).
func (s *Server) InProcess() nats.Option { return nats.InProcessServer(s.s) }

// LeafLinks is how many leafnode links are up: for a passive client's
// server, whether the hub is linked.
func (s *Server) LeafLinks() int { return s.s.NumLeafNodes() }

// Audit returns what the server refused since it started.
func (s *Server) Audit() schemas.AuditCounts { return s.audit.Counts() }

// Kick closes every client connection signed in with key: a revoked key
// loses its live links at once. It returns how many were closed.
func (s *Server) Kick(key string) int {
	cz, err := s.s.Connz(&server.ConnzOptions{User: key, Limit: 1 << 16})
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range cz.Conns {
		if s.s.DisconnectClientByID(c.Cid) == nil {
			n++
		}
	}
	return n
}

// KickLeaf closes the leafnode links of account (a passive client's).
func (s *Server) KickLeaf(account string) int {
	lz, err := s.s.Leafz(&server.LeafzOptions{Account: account})
	if err != nil {
		return 0
	}
	n := 0
	for _, l := range lz.Leafs {
		if s.s.DisconnectClientByID(l.ID) == nil {
			n++
		}
	}
	return n
}

// Shutdown stops the server and waits for it.
func (s *Server) Shutdown() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.s.Shutdown()
	s.s.WaitForShutdown()
}
