package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/ferrybackup/ferry/bus/natsconf"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bus errors.
var (
	ErrNoResponders = errors.New("nobody is listening")
	ErrBusy         = errors.New("handler busy, try again")
)

// maxInFlight bounds handler goroutines per connection; beyond it a request
// is answered "busy" instead of queueing without limit.
const maxInFlight = 256

// Conn is a bus connection of one agent or console.
type Conn struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger
	sem chan struct{}
	key string
}

// Options configure Connect.
type Options struct {
	Name string // client name shown by the server, e.g. "fd web1"
	// Retry keeps trying the first connect in the background (daemons:
	// subscriptions wait for the server, see Ready); consoles fail fast.
	Retry bool
	// Key and Sign sign in with an identity (an nkey): the server grants
	// the key its role's subjects, and the connection's inbox prefix is
	// the key's (natsconf.InboxPrefix), the only inbox it may read.
	Key  string
	Sign func(nonce []byte) ([]byte, error)
	// TLS, when set, is required: the server's certificate is checked
	// against its RootCAs.
	TLS *tls.Config
	// Extra nats.go options (in-process connection).
	Extra []nats.Option
}

// Connect dials the bus at url (ignored when Extra has an in-process option).
func Connect(url string, opt Options, log *slog.Logger) (*Conn, error) {
	opts := []nats.Option{
		nats.Name(opt.Name),
		// Kernel keepalives every few seconds keep the bus link through NAT
		// routers with short idle timeouts, even while the process is not
		// running (a frozen or busy agent sends no pings).
		nats.SetCustomDialer(&net.Dialer{Timeout: 5 * time.Second, KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: 4 * time.Second, Interval: 4 * time.Second, Count: 15}}),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("bus disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("bus reconnected", "url", nc.ConnectedUrlRedacted()) }),
	}
	if opt.Retry {
		// A key the server refuses may be accepted later: keep trying.
		opts = append(opts, nats.RetryOnFailedConnect(true), nats.IgnoreAuthErrorAbort())
	}
	if opt.Key != "" {
		opts = append(opts, nats.Nkey(opt.Key, opt.Sign), nats.CustomInboxPrefix(natsconf.InboxPrefix(opt.Key)))
	}
	if opt.TLS != nil {
		opts = append(opts, nats.Secure(opt.TLS))
	}
	opts = append(opts, opt.Extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Conn{nc: nc, js: js, log: log, sem: make(chan struct{}, maxInFlight), key: opt.Key}, nil
}

// Key is the identity the connection signed in with ("" without one).
func (c *Conn) Key() string { return c.key }

// Reconnect drops the connection and waits until it is back: the server
// authenticates it afresh, so rights granted since (an accepted key) take
// effect.
func (c *Conn) Reconnect(ctx context.Context) error {
	before := c.nc.Stats().Reconnects
	if err := c.nc.ForceReconnect(); err != nil {
		return fmt.Errorf("reconnect: %w", err)
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for c.nc.Stats().Reconnects == before || !c.nc.IsConnected() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("reconnect: %w", ctx.Err())
		case <-t.C:
		}
	}
	return c.Flush(ctx)
}

func waitConnected(ctx context.Context, nc *nats.Conn) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// MaxPayload is the largest message the server accepts.
func (c *Conn) MaxPayload() int {
	if n := c.nc.MaxPayload(); n > 0 {
		return int(n)
	}
	return 1 << 20
}

// URL is the connected server's URL without credentials.
func (c *Conn) URL() string { return c.nc.ConnectedUrlRedacted() }

// Flush round-trips to the server so earlier subscriptions are in place.
func (c *Conn) Flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	return c.nc.FlushWithContext(ctx)
}

// Close drains subscriptions and closes the connection.
func (c *Conn) Close() {
	if err := c.nc.Drain(); err != nil {
		c.nc.Close()
	}
	for i := 0; i < 100 && !c.nc.IsClosed(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// Ready waits until the connection is up and the server has seen every
// subscription made so far.
func (c *Conn) Ready(ctx context.Context) error {
	if err := waitConnected(ctx, c.nc); err != nil {
		return fmt.Errorf("waiting for NATS: %w", err)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Flush(fctx)
}
