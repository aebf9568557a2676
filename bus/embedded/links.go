package embedded

import (
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Link is the state of one leafnode remote of a hub (a passive client's
// bus link), keyed by the remote's local account.
type Link struct {
	Account   string
	Up        bool
	Since     time.Time // when it came up, or went down
	LastError string    // the last dial or link error, e.g. "dial 10.0.0.5:7422: connection refused"
}

// linkLog tracks leafnode links: errors from the server's log lines, up
// and down from polling the server.
type linkLog struct {
	mu    sync.Mutex
	errs  map[string]string // remote host:port → last error
	state map[string]Link   // account → link
}

func newLinkLog() *linkLog {
	return &linkLog{errs: map[string]string{}, state: map[string]Link{}}
}

var (
	leafDialErrRE = regexp.MustCompile(`Error trying to connect as leafnode to remote server "([^"]+)" \(attempt \d+\): (.*)`)
	leafLinkErrRE = regexp.MustCompile(`^(\S+) - lid:\d+ - Leafnode Error '(.*)'`)
)

// note takes a server log line.
func (l *linkLog) note(line string) {
	var addr, msg string
	if m := leafDialErrRE.FindStringSubmatch(line); m != nil {
		addr, msg = m[1], "dial "+m[1]+": "+m[2]
	} else if m := leafLinkErrRE.FindStringSubmatch(line); m != nil {
		addr, msg = m[1], "link to "+m[1]+" refused: "+m[2]+" (check leaf_password_file on both sides)"
	} else {
		return
	}
	l.mu.Lock()
	l.errs[addr] = msg
	l.mu.Unlock()
}

// watchLinks polls the hub's leafnode connections twice a second while it
// runs, so "since" is accurate to half a second.
func (s *Server) watchLinks() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		s.pollLinks()
		select {
		case <-t.C:
		case <-s.quit:
			return
		}
	}
}

func (s *Server) pollLinks() {
	up := map[string]bool{}
	if lz, err := s.s.Leafz(&server.LeafzOptions{}); err == nil {
		for _, lf := range lz.Leafs {
			up[lf.Account] = true
		}
	}
	now := time.Now()
	s.links.mu.Lock()
	defer s.links.mu.Unlock()
	for _, r := range s.remotes {
		acc := r.LocalAccount
		lk, known := s.links.state[acc]
		lk.Account = acc
		for _, u := range r.URLs {
			if e, ok := s.links.errs[u.Host]; ok {
				lk.LastError = e
			}
		}
		if !known || lk.Up != up[acc] {
			lk.Up, lk.Since = up[acc], now
		}
		s.links.state[acc] = lk
	}
}

// Links reports every leafnode remote's link.
func (s *Server) Links() []Link {
	s.pollLinks()
	s.links.mu.Lock()
	defer s.links.mu.Unlock()
	out := make([]Link, 0, len(s.links.state))
	for _, r := range s.remotes {
		out = append(out, s.links.state[r.LocalAccount])
	}
	return out
}
