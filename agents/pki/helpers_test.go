package pki

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// newCA makes a CA saved in a temporary folder and returns it with the
// folder.
func newCA(t *testing.T, name string) (*CA, string) {
	t.Helper()
	ca, err := NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ca")
	if err := ca.Save(dir, false); err != nil {
		t.Fatal(err)
	}
	return ca, dir
}

// issueFiles issues a certificate and saves it; it returns the
// certificate and key file paths.
func issueFiles(t *testing.T, ca *CA, name string, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(name, hosts, 0)
	if err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(t.TempDir(), name)
	if err := SaveCert(prefix, certPEM, keyPEM, false); err != nil {
		t.Fatal(err)
	}
	return prefix + ".crt", prefix + ".key"
}

// serve accepts TLS connections on 127.0.0.1 with cfg and completes the
// handshake on each, until the test ends. It returns the address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				_, _ = c.Write([]byte("ok"))
			}()
		}
	}()
	return ln.Addr().String()
}

// dial completes a TLS handshake with the server at addr as serverName
// would, and reads the server's greeting.
func dial(addr, serverName string, cfg *tls.Config) (tls.ConnectionState, error) {
	cfg = cfg.Clone()
	cfg.ServerName = serverName
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil {
		return tls.ConnectionState{}, err
	}
	return c.ConnectionState(), nil
}

func mustChmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
