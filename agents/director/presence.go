package director

import (
	"sync"
	"time"

	"github.com/ferrybackup/ferry/agents/heartbeat"
	"github.com/ferrybackup/ferry/schemas"
)

// HeartbeatInterval is how often agents announce themselves; an agent unseen
// for three intervals counts as offline.
const HeartbeatInterval = heartbeat.Interval

// presence remembers the last heartbeat of every agent.
type presence struct {
	mu   sync.Mutex
	seen map[string]seenAgent // key: role/name
}

type seenAgent struct {
	at time.Time
	hb schemas.Heartbeat
}

func newPresence() *presence { return &presence{seen: map[string]seenAgent{}} }

func (p *presence) saw(hb schemas.Heartbeat, at time.Time) {
	p.mu.Lock()
	p.seen[hb.Role+"/"+hb.Name] = seenAgent{at: at, hb: hb}
	p.mu.Unlock()
}

// lookup returns the last heartbeat of role/name and whether it is recent.
func (p *presence) lookup(role, name string, now time.Time) (seenAgent, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.seen[role+"/"+name]
	return s, ok && now.Sub(s.at) < 3*HeartbeatInterval
}

func (p *presence) all() map[string]seenAgent {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]seenAgent, len(p.seen))
	for k, v := range p.seen {
		out[k] = v
	}
	return out
}

// forget drops what is known of role/name: it did not answer although it
// heartbeat recently (it stopped since).
func (p *presence) forget(role, name string) {
	p.mu.Lock()
	delete(p.seen, role+"/"+name)
	p.mu.Unlock()
}
