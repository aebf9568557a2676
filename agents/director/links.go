package director

import "time"

// LinkStatus is a passive client's bus link as the NATS side sees it.
type LinkStatus struct {
	Client    string
	Up        bool
	Since     time.Time
	LastError string
}

// Links reports the passive clients' bus links; nil when the director
// cannot see them (an external NATS server).
type Links func() []LinkStatus

// SetLinks gives the director a view of the passive clients' bus links.
func (d *Director) SetLinks(l Links) { d.links = l }

// linkOf returns client's link state, if known.
func (d *Director) linkOf(client string) (LinkStatus, bool) {
	if d.links == nil {
		return LinkStatus{}, false
	}
	for _, l := range d.links() {
		if l.Client == client {
			return l, true
		}
	}
	return LinkStatus{}, false
}
