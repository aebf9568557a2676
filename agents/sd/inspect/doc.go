// Package inspect reads a Ferry volume file without any catalog, the way
// Bareos's bls and bscan do, and lists what it holds: its sessions (one per
// backup job) and, inside each session, the files decoded from the datapath
// records stored in its data blocks.
//
// Volume walks the file block by block, verifying every block's CRC-32C,
// and hands each session start, file, session end and corrupt block to a
// callback as it meets them, so memory does not grow with the size of the
// files or of the volume. It checks, per file, that the content bytes of the
// data records match the count in the file's trailer and, with
// Options.Verify, recomputes the BLAKE3 checksum of the content.
//
// Damage is never skipped silently. A block that fails verification with a
// valid block after it is corruption: it is reported (a *volume.CorruptError
// naming the volume, the block offset and its seq), the walk resumes at the
// next valid block and Volume returns an error at the end. A bad block with
// nothing valid after it is a torn tail (the last write was interrupted):
// Summary.TornAt says where, and it is not an error, the same rule as
// volume.Reader.Sessions and volume.OpenAppend. A session without a valid
// end block is incomplete; its files are listed as far as they can be read.
//
// The package never logs and keeps no state between calls.
package inspect
