package datapath

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Two handshakes bind a data connection to one job. Both sides hold the
// job's session key; neither sends it.
//
// TLS (the default; tls.go sets up the TLS 1.3 session, pinned to agent
// identities). Inside the TLS connection:
//
//	dialer   → listener: magic "FERRYDP2" | role:u8 | job:u64 | mac("dialer")
//	listener → dialer:   mac("listener") (accepted; a refusal closes)
//
// mac(who) = HMAC-SHA256(key, who | ekm), with ekm the connection's
// exported keying material (label "EXPORTER-ferry-data-v2", context
// job:u64 | dialer role | listener role, 32 bytes). The keying material is
// unique to the connection, so a proof is good on that connection only.
//
// Plain (version 1, the insecure mode only):
//
//	dialer   → listener: magic "FERRYDP1" | role:u8 | job:u64 | nonceD[32]
//	listener → dialer:   nonceL[32] | mac1("listener")
//	dialer   → listener: mac1("dialer")
//	listener → dialer:   0x01 (accepted)
//
// mac1(who) = HMAC-SHA256(key, "ferry-data-v1" | who | role | job | nonceD | nonceL).
// Fresh nonces on both sides make every proof good for one connection only.
//
// In both, the listener burns the key after one success, so a key works
// once. Integers are little endian.

// Role names the side of the data socket.
type Role byte

// Roles.
const (
	RoleFD Role = 'f'
	RoleSD Role = 's'
)

func (r Role) String() string {
	switch r {
	case RoleFD:
		return "fd"
	case RoleSD:
		return "sd"
	}
	return fmt.Sprintf("role(%d)", byte(r))
}

// other is the role at the far end of a data socket.
func (r Role) other() Role {
	if r == RoleFD {
		return RoleSD
	}
	return RoleFD
}

// Handshake limits.
const (
	KeyLen    = 32
	nonceLen  = 32
	macLen    = sha256.Size
	helloLen  = 8 + 1 + 8 + nonceLen // plain hello
	hello2Len = 8 + 1 + 8 + macLen   // hello inside TLS
)

// HandshakeTimeout bounds a whole handshake, on either side. It is read at
// use time; a variable only so tests can lower it.
var HandshakeTimeout = 10 * time.Second

var (
	magic  = [8]byte{'F', 'E', 'R', 'R', 'Y', 'D', 'P', '1'} // plain
	magic2 = [8]byte{'F', 'E', 'R', 'R', 'Y', 'D', 'P', '2'} // inside TLS
)

// exporterLabel names the TLS keying material the key proofs are bound to.
const exporterLabel = "EXPORTER-ferry-data-v2"

// Handshake errors.
var (
	ErrBadMagic   = errors.New("datapath: not a Ferry data connection")
	ErrUnknownJob = errors.New("datapath: no session expected for this job (unknown, expired or cancelled)")
	ErrKeyUsed    = errors.New("datapath: session key already used (replay)")
	ErrBadProof   = errors.New("datapath: session key proof does not match")
	ErrWrongRole  = errors.New("datapath: peer has the wrong role for this job")
	ErrWrongMode  = errors.New("datapath: connection is TLS where the job is plain text, or the other way round")
	ErrRefused    = errors.New("datapath: peer refused the handshake")
)

// NewKey returns a fresh random session key.
func NewKey() []byte {
	k := make([]byte, KeyLen)
	if _, err := rand.Read(k); err != nil {
		panic(fmt.Sprintf("datapath: no randomness: %v", err)) // crypto/rand does not fail on Linux
	}
	return k
}

func proof(key []byte, who string, role Role, job uint64, nd, nl []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ferry-data-v1"))
	m.Write([]byte(who))
	m.Write([]byte{byte(role)})
	var j [8]byte
	binary.LittleEndian.PutUint64(j[:], job)
	m.Write(j[:])
	m.Write(nd)
	m.Write(nl)
	return m.Sum(nil)
}

// ClientHandshake runs the dialer's side of the plain handshake: me is the
// dialer's role.
func ClientHandshake(c net.Conn, me Role, job uint64, key []byte) error {
	_ = c.SetDeadline(time.Now().Add(HandshakeTimeout))
	defer c.SetDeadline(time.Time{})
	hello := make([]byte, 0, helloLen)
	hello = append(hello, magic[:]...)
	hello = append(hello, byte(me))
	hello = binary.LittleEndian.AppendUint64(hello, job)
	nd := make([]byte, nonceLen)
	_, _ = rand.Read(nd)
	hello = append(hello, nd...)
	if _, err := c.Write(hello); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	resp := make([]byte, nonceLen+macLen)
	if _, err := io.ReadFull(c, resp); err != nil {
		return fmt.Errorf("%w (job unknown to the peer, or the peer is not a Ferry data port): %v", ErrRefused, err)
	}
	nl := resp[:nonceLen]
	if !hmac.Equal(resp[nonceLen:], proof(key, "listener", me, job, nd, nl)) {
		return fmt.Errorf("%w: the peer does not hold this job's key", ErrBadProof)
	}
	if _, err := c.Write(proof(key, "dialer", me, job, nd, nl)); err != nil {
		return fmt.Errorf("send proof: %w", err)
	}
	var ok [1]byte
	if _, err := io.ReadFull(c, ok[:]); err != nil || ok[0] != 1 {
		return fmt.Errorf("%w: key not accepted", ErrRefused)
	}
	return nil
}

// Hello is what a dialer announced.
type Hello struct {
	Role  Role
	Job   uint64
	nonce []byte // plain: the dialer's nonce; TLS: the dialer's proof
}

// ReadHello reads the dialer's first plain message within the handshake
// deadline.
func ReadHello(c net.Conn) (Hello, error) {
	_ = c.SetDeadline(time.Now().Add(HandshakeTimeout))
	return readHello(c, magic, helloLen)
}

// readHello reads a hello of n bytes that starts with want. The magic comes
// first: anything else (a port scan, an HTTP probe shorter than a hello) is
// refused at once instead of holding a handshake slot until the timeout.
func readHello(r io.Reader, want [8]byte, n int) (Hello, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b[:len(want)]); err != nil {
		return Hello{}, fmt.Errorf("read hello: %w", err)
	}
	if [8]byte(b[:8]) != want {
		return Hello{}, ErrBadMagic
	}
	if _, err := io.ReadFull(r, b[len(want):]); err != nil {
		return Hello{}, fmt.Errorf("read hello: %w", err)
	}
	return Hello{Role: Role(b[8]), Job: binary.LittleEndian.Uint64(b[9:17]), nonce: b[17:]}, nil
}

// ServerHandshake finishes the listener's side of the plain handshake for a
// hello whose job has key.
func ServerHandshake(c net.Conn, h Hello, key []byte) error {
	defer c.SetDeadline(time.Time{})
	if err := serverProve(c, h, key); err != nil {
		return err
	}
	return sendAccept(c)
}

// serverProve sends the listener's challenge and checks the dialer's proof,
// without telling the dialer the verdict.
func serverProve(c net.Conn, h Hello, key []byte) error {
	nl := make([]byte, nonceLen)
	_, _ = rand.Read(nl)
	out := append(nl, proof(key, "listener", h.Role, h.Job, h.nonce, nl)...)
	if _, err := c.Write(out); err != nil {
		return fmt.Errorf("send challenge: %w", err)
	}
	got := make([]byte, macLen)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read proof: %w", err)
	}
	if !hmac.Equal(got, proof(key, "dialer", h.Role, h.Job, h.nonce, nl)) {
		return ErrBadProof
	}
	return nil
}

// sendAccept tells the dialer its proof was accepted.
func sendAccept(c net.Conn) error {
	if _, err := c.Write([]byte{1}); err != nil {
		return fmt.Errorf("send acceptance: %w", err)
	}
	return nil
}

// exporter gives a TLS connection's keying material for a label and
// context (tls.ConnectionState.ExportKeyingMaterial).
type exporter func(label string, context []byte, length int) ([]byte, error)

// tlsProof is mac(who) of the TLS handshake: the key's HMAC over the
// connection's keying material, bound to the job and both roles.
func tlsProof(export exporter, key []byte, who string, job uint64, dialer, listener Role) ([]byte, error) {
	ctx := binary.LittleEndian.AppendUint64(nil, job)
	ctx = append(ctx, byte(dialer), byte(listener))
	ekm, err := export(exporterLabel, ctx, 32)
	if err != nil {
		return nil, fmt.Errorf("export keying material: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(who))
	m.Write(ekm)
	return m.Sum(nil), nil
}

// clientProveTLS runs the dialer's side inside an established TLS
// connection: send the hello with its proof, check the listener's.
func clientProveTLS(c net.Conn, export exporter, me Role, job uint64, key []byte) error {
	mine, err := tlsProof(export, key, "dialer", job, me, me.other())
	if err != nil {
		return err
	}
	want, _ := tlsProof(export, key, "listener", job, me, me.other())
	hello := make([]byte, 0, hello2Len)
	hello = append(hello, magic2[:]...)
	hello = append(hello, byte(me))
	hello = binary.LittleEndian.AppendUint64(hello, job)
	hello = append(hello, mine...)
	if _, err := c.Write(hello); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	got := make([]byte, macLen)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("%w (job unknown or expired, wrong key, or this agent's identity is not the one the peer expects): %v", ErrRefused, err)
	}
	if !hmac.Equal(got, want) {
		return fmt.Errorf("%w: the peer does not hold this job's key", ErrBadProof)
	}
	return nil
}

// checkProofTLS checks the proof in a hello read inside TLS by a listener
// of role me.
func checkProofTLS(export exporter, h Hello, me Role, key []byte) error {
	want, err := tlsProof(export, key, "dialer", h.Job, h.Role, me)
	if err != nil {
		return err
	}
	if !hmac.Equal(h.nonce, want) {
		return ErrBadProof
	}
	return nil
}
