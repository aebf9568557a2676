package embedded

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Grant is what an authenticated key may do on the bus: the account it
// joins and its publish and subscribe allow-lists.
type Grant struct {
	User      string // shown in the server's log, e.g. "fd:web1"
	Account   string
	Publish   []string
	Subscribe []string
	Responses bool // may answer the requests delivered to it (allow_responses)
}

// Authorizer decides on a key that proved it holds its private half: a
// grant, or an error that says why not. It must not block.
type Authorizer func(key, peer string) (Grant, error)

// LeafPinner checks the certificate key a passive client's leafnode
// listener presented when the hub dialed it (account is the remote's
// local account); an error refuses the link.
type LeafPinner func(account, key, peer string) error

// PublicKeyOf turns a peer certificate into the key it is pinned by.
type PublicKeyOf func(cs tls.ConnectionState) (string, error)

// Audit counts what the server refused since it started.
type Audit struct {
	RejectedConnections  atomic.Int64 // no key, bad signature, no TLS, a leafnode link refused
	UnknownKeys          atomic.Int64 // keys the authorizer did not know
	RefusedKeys          atomic.Int64 // rejected or revoked keys
	PermissionViolations atomic.Int64
}

// Counts copies the counters, as the director's status reports them.
func (a *Audit) Counts() schemas.AuditCounts {
	return schemas.AuditCounts{RejectedConnections: a.RejectedConnections.Load(), UnknownKeys: a.UnknownKeys.Load(),
		RefusedKeys: a.RefusedKeys.Load(), PermissionViolations: a.PermissionViolations.Load()}
}

// refused counts one refused connection, and its kind when err wraps
// ErrUnknownKey or ErrRefusedKey.
func (a *Audit) refused(err error) {
	a.RejectedConnections.Add(1)
	switch {
	case errors.Is(err, ErrUnknownKey):
		a.UnknownKeys.Add(1)
	case errors.Is(err, ErrRefusedKey):
		a.RefusedKeys.Add(1)
	}
}

// Refusal kinds an Authorizer's or LeafPinner's error may wrap, for the
// audit counters.
var (
	ErrUnknownKey = errors.New("unknown key")
	ErrRefusedKey = errors.New("refused key")
)

// nkeyAuth is the hub's client authentication: every client signs the
// server's nonce with its nkey; the authorizer grants it its rights.
type nkeyAuth struct {
	authorize Authorizer
	accounts  func(name string) (*server.Account, error)
	audit     *Audit
	log       *slog.Logger
}

// Check implements server.Authentication.
func (a *nkeyAuth) Check(c server.ClientAuthentication) bool {
	peer := "unknown"
	if addr := c.RemoteAddress(); addr != nil {
		peer = addr.String()
	}
	opts := c.GetOpts()
	key := opts.Nkey
	refuse := func(reason string, err error) bool {
		a.audit.refused(err)
		a.log.Warn("bus connection refused", "peer", peer, "key", key, "reason", reason)
		return false
	}
	if key == "" {
		return refuse("no key: every connection signs in with its identity (ferry key new), or the director runs insecure", nil)
	}
	if !nkeys.IsValidPublicUserKey(key) {
		return refuse("not a public user key", nil)
	}
	sig, err := base64.RawURLEncoding.DecodeString(opts.Sig)
	if err != nil {
		if sig, err = base64.StdEncoding.DecodeString(opts.Sig); err != nil {
			return refuse("signature is not base64", nil)
		}
	}
	pub, err := nkeys.FromPublicKey(key)
	if err != nil {
		return refuse("bad key: "+err.Error(), nil)
	}
	if err := pub.Verify(c.GetNonce(), sig); err != nil {
		return refuse("signature does not verify: the peer does not hold this key's seed", nil)
	}
	g, err := a.authorize(key, peer)
	if err != nil {
		return refuse(err.Error(), err)
	}
	acc, err := a.accounts(g.Account)
	if err != nil {
		return refuse(fmt.Sprintf("account %s: %v", g.Account, err), nil)
	}
	perms := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: nonEmpty(g.Publish)},
		Subscribe: &server.SubjectPermission{Allow: nonEmpty(g.Subscribe)},
	}
	if g.Responses {
		perms.Response = &server.ResponsePermission{MaxMsgs: 1}
	}
	c.RegisterUser(&server.User{Username: g.User, Account: acc, Permissions: perms})
	a.log.Debug("bus connection admitted", "peer", peer, "key", key, "user", g.User)
	return true
}

// nonEmpty keeps an empty allow-list meaning "nothing" (the server reads
// an empty list as no limit).
func nonEmpty(s []string) []string {
	if len(s) == 0 {
		return []string{"_NOTHING_"}
	}
	return s
}

// leafTLS is the TLS configuration of a hub's leafnode remote to a
// passive client: no CA, the client's certificate key is pinned.
func leafTLS(account string, pin LeafPinner, keyOf PublicKeyOf, audit *Audit, log *slog.Logger) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // checked below, by key
		VerifyConnection: func(cs tls.ConnectionState) error {
			key, err := keyOf(cs)
			if err == nil {
				err = pin(account, key, cs.ServerName)
			}
			if err != nil {
				audit.refused(err)
				log.Warn("passive client's bus link refused", "account", account, "key", key, "reason", err.Error())
			}
			return err
		},
	}
}

// violationCounted reports a server log line that is a permission
// violation, for the audit.
func violationCounted(line string) bool {
	return strings.Contains(line, "Publish Violation") || strings.Contains(line, "Subscription Violation")
}
