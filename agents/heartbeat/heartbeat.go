// Package heartbeat announces an agent on the bus at start and then
// periodically, so the director knows who is online and since when.
package heartbeat

import (
	"context"
	"log/slog"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
)

// Interval between heartbeats; the director counts three missed ones as
// offline.
const Interval = 2 * time.Second

// Run publishes hb() now and every Interval until ctx ends.
func Run(ctx context.Context, c *bus.Conn, hb func() schemas.Heartbeat, log *slog.Logger) {
	t := time.NewTicker(Interval)
	defer t.Stop()
	for {
		m := hb()
		m.Sent = time.Now().UnixNano()
		if err := bus.Publish(c, schemas.Presence, m, m.Role, m.Name); err != nil {
			log.Warn("heartbeat not sent", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
