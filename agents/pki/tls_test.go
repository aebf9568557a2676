package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHandshake: a server presenting a certificate the CA issued is
// verified by ClientTLS(ca.crt) under each of its names, over TLS 1.3.
func TestHandshake(t *testing.T) {
	ca, dir := newCA(t, "test")
	certFile, keyFile := issueFiles(t, ca, "nats-1", "127.0.0.1", "localhost")
	srv, err := ServerTLS(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	cli, err := ClientTLS(filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "localhost"} {
		t.Run(name, func(t *testing.T) {
			st, err := dial(addr, name, cli)
			if err != nil {
				t.Fatalf("handshake as %s: %v", name, err)
			}
			if st.Version != tls.VersionTLS13 {
				t.Errorf("TLS version %x, want 1.3", st.Version)
			}
			if got := st.PeerCertificates[0].Subject.CommonName; got != "nats-1" {
				t.Errorf("server certificate CN %q", got)
			}
		})
	}
}

// TestHandshakeRefused: a certificate from another CA, or for another
// name, fails verification.
func TestHandshakeRefused(t *testing.T) {
	_, dir := newCA(t, "ours")
	other, _ := newCA(t, "theirs")
	cli, err := ClientTLS(filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("another CA", func(t *testing.T) {
		srv, err := ServerTLS(issueFiles(t, other, "rogue", "127.0.0.1", "localhost"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = dial(serve(t, srv), "127.0.0.1", cli)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("handshake with another CA's certificate: %v, want unknown authority", err)
		}
	})
	t.Run("another name", func(t *testing.T) {
		ours, err := LoadCA(dir)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := ServerTLS(issueFiles(t, ours, "nats-2", "nats-2.example.com"))
		if err != nil {
			t.Fatal(err)
		}
		addr := serve(t, srv)
		for _, name := range []string{"127.0.0.1", "localhost"} {
			_, err = dial(addr, name, cli)
			var host x509.HostnameError
			if !errors.As(err, &host) {
				t.Errorf("handshake as %s with a certificate for nats-2.example.com: %v, want a host name error", name, err)
			}
		}
	})
	t.Run("system roots", func(t *testing.T) {
		sys, err := ClientTLS("")
		if err != nil {
			t.Fatal(err)
		}
		if sys.RootCAs != nil {
			t.Fatal("ClientTLS(\"\") set RootCAs; want the system roots")
		}
		srv, err := ServerTLS(issueFiles(t, other, "private", "127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dial(serve(t, srv), "127.0.0.1", sys); err == nil {
			t.Fatal("the system roots accepted a private CA's certificate")
		}
	})
}

func TestServerTLSRefusesReadableKey(t *testing.T) {
	ca, _ := newCA(t, "test")
	certFile, keyFile := issueFiles(t, ca, "nats-1", "localhost")
	mustChmod(t, keyFile, 0o644)
	_, err := ServerTLS(certFile, keyFile)
	if err == nil || !strings.Contains(err.Error(), keyFile) || !strings.Contains(err.Error(), "chmod 600 "+keyFile) {
		t.Fatalf("readable key: %v", err)
	}
}

func TestServerTLSErrors(t *testing.T) {
	ca, _ := newCA(t, "test")
	certFile, keyFile := issueFiles(t, ca, "a", "localhost")
	_, otherKey := issueFiles(t, ca, "b", "localhost")
	missing := filepath.Join(t.TempDir(), "missing.crt")
	notPEM := filepath.Join(t.TempDir(), "junk.crt")
	if err := os.WriteFile(notPEM, []byte("junk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, cert, key, want string
	}{
		{"missing certificate", missing, keyFile, missing},
		{"missing key", certFile, filepath.Join(t.TempDir(), "missing.key"), "missing.key"},
		{"not PEM", notPEM, keyFile, notPEM},
		{"key of another certificate", certFile, otherKey, otherKey},
		{"no key", certFile, "", "both required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ServerTLS(tc.cert, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ServerTLS: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestLoadPool(t *testing.T) {
	a, dirA := newCA(t, "a")
	b, dirB := newCA(t, "b")
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	pa, _ := os.ReadFile(filepath.Join(dirA, CACertFile))
	pb, _ := os.ReadFile(filepath.Join(dirB, CACertFile))
	if err := os.WriteFile(bundle, append(pa, pb...), 0o644); err != nil {
		t.Fatal(err)
	}
	pool, err := LoadPool(bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, ca := range []*CA{a, b} {
		if _, err := ca.Certificate().Verify(x509.VerifyOptions{Roots: pool}); err != nil {
			t.Errorf("bundle does not hold %s: %v", ca, err)
		}
	}

	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, f := range []string{empty, missing} {
		if _, err := LoadPool(f); err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("LoadPool(%s): %v, want an error naming the file", f, err)
		}
		if _, err := ClientTLS(f); err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("ClientTLS(%s): %v, want an error naming the file", f, err)
		}
	}
}
