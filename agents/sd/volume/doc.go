// Package volume writes and reads Ferry backup volumes: self-describing,
// crash-safe files into which the storage daemon appends job sessions as a
// sequence of checksummed blocks (a label, then per session a start block,
// data blocks holding whole opaque records, and an end block), so that a
// volume can be verified, recovered after a crash (a torn tail is cut back to
// the last whole block by OpenAppend) and read back without any catalog, the
// way Bareos's bscan does; the on-disk format is described in format.go, and
// the package never logs, it returns what the caller should log.
package volume
