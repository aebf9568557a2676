package director

import (
	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/schemas"
)

// Initiator decides who dials the data socket for any job with client c,
// backup or restore alike. This is the one place that decides it: a passive
// client never initiates a connection, so the sd dials it; otherwise the fd
// dials the sd.
func Initiator(c config.Client) string {
	if c.Passive {
		return schemas.InitiatorSD
	}
	return schemas.InitiatorFD
}

// dataPlan is how one job's data socket gets opened.
type dataPlan struct {
	Initiator string // schemas.InitiatorSD or InitiatorFD
	Addr      string // the address the initiator dials
	Peer      string // resource name of the agent at Addr
}

func planData(c config.Client, s config.Storage) dataPlan {
	if Initiator(c) == schemas.InitiatorSD {
		return dataPlan{Initiator: schemas.InitiatorSD, Addr: c.DataAddress(), Peer: c.Name}
	}
	return dataPlan{Initiator: schemas.InitiatorFD, Addr: s.DataAddress(), Peer: s.Name}
}
