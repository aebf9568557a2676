package catalog

import "time"

// Volume statuses.
const (
	VolumeAppend = "append"
	VolumeFull   = "full"
	VolumeError  = "error"
)

// Volume is one volume known to a storage daemon.
type Volume struct {
	Name    string
	Storage string
	Bytes   int64
	Status  string    // VolumeAppend, VolumeFull or VolumeError
	Updated time.Time // zero means now
}
