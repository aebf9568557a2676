// Package sd is the storage daemon: it opens data sessions when the director
// asks, takes the data socket (dialing a passive client, or accepting an
// active one on its data port), writes backups into volumes (package volume)
// and reads them back for restores, and reports file lists and totals to the
// director.
package sd
