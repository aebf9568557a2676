package datapath

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/ferrybackup/ferry/agents/identity"
)

// Security is how an agent runs its data sockets. With an Identity, a job
// runs over TLS 1.3: each side presents its identity's self-signed
// certificate and checks the peer's against the identity the director
// named for the job (there is no CA). Insecure allows the plain handshake,
// for jobs the director marks plain; an agent that is not insecure refuses
// them.
type Security struct {
	Identity *identity.Identity
	Insecure bool
}

// Security errors.
var (
	ErrPlainRefused = errors.New("data socket: the director asked for plain text but this agent is not configured insecure")
	ErrNoIdentity   = errors.New("data socket: TLS needs this agent's identity, and it has none (configure one, or make the director and this agent insecure)")
	ErrNoPeerKey    = errors.New("data socket: the director named no identity for the peer")
	ErrWrongPeer    = errors.New("datapath: peer certificate is not the identity named for this job")
	ErrNotTLS       = errors.New("datapath: not a TLS connection")
	ErrPlainHello   = errors.New("datapath: plain-text Ferry hello on a TLS data port (the dialing agent runs the job without TLS)")
)

// JobPeer checks a job's data-socket settings from the director against
// this agent's and returns the peerKey argument for Dial and Expect: the
// peer's identity, or "" for a plain-text job.
func (s Security) JobPeer(plain bool, peerKey string) (string, error) {
	if plain {
		if !s.Insecure {
			return "", ErrPlainRefused
		}
		return "", nil
	}
	if s.Identity == nil {
		return "", ErrNoIdentity
	}
	if peerKey == "" {
		return "", ErrNoPeerKey
	}
	if !strings.HasPrefix(peerKey, "U") {
		return "", fmt.Errorf("%w: %q is not an agent identity (U...)", ErrNoPeerKey, peerKey)
	}
	return peerKey, nil
}

// clientTLS is the dialer's TLS configuration: it presents id and accepts
// only a server whose certificate holds peerKey.
func clientTLS(id *identity.Identity, peerKey string) (*tls.Config, error) {
	cert, err := id.Certificate()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		// No CA to verify against: VerifyConnection pins the peer instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			got, err := agentKeyOf(cs)
			if err != nil {
				return err
			}
			if got != peerKey {
				return fmt.Errorf("%w: it presents %s, the job names %s", ErrWrongPeer, got, peerKey)
			}
			return nil
		},
	}, nil
}

// serverTLS is the listener's TLS configuration: it presents id and
// requires an agent certificate from the dialer, which the listener checks
// against the job once the hello names it.
func serverTLS(id *identity.Identity) (*tls.Config, error) {
	cert, err := id.Certificate()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{cert},
		ClientAuth:             tls.RequireAnyClientCert,
		SessionTicketsDisabled: true, // every connection shows its certificate
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := agentKeyOf(cs)
			return err
		},
	}, nil
}

// agentKeyOf is the identity of the peer's certificate: a self-signed
// ed25519 agent certificate. TLS has checked that the peer holds its key.
func agentKeyOf(cs tls.ConnectionState) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return "", fmt.Errorf("%w: no certificate", ErrWrongPeer)
	}
	leaf := cs.PeerCertificates[0]
	if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
		return "", fmt.Errorf("%w: certificate is not self-signed: %v", ErrWrongPeer, err)
	}
	key, err := identity.PublicKeyOf(leaf)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrWrongPeer, err)
	}
	return key, nil
}

// TLSInfo tells a data socket's TLS version and cipher suite as the
// connection negotiated them ("TLS 1.3", "TLS_AES_128_GCM_SHA256"); ok is
// false for a connection without TLS.
func TLSInfo(c net.Conn) (version, suite string, ok bool) {
	tc, isTLS := c.(interface{ ConnectionState() tls.ConnectionState })
	if !isTLS {
		return "", "", false
	}
	cs := tc.ConnectionState()
	return tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), true
}

// rawConn is the network connection under any TLS layers of c.
func rawConn(c net.Conn) net.Conn {
	for {
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return c
		}
		c = w.NetConn()
	}
}
