// Package restore is the file daemon's receiver: it reads a datapath stream
// and recreates its entries under a target directory.
//
// It never writes outside the target. Stored paths that are absolute,
// empty, hold a NUL or a "." or ".." component are refused, and every
// entry is reached from an open descriptor of the target, one component at
// a time, without following symlinks: a symlink on the way, planted or
// restored earlier, stops the stream. Entries are created under a
// temporary name and renamed into place, following the replace policy.
//
// Regular files are verified against the BLAKE3 sum of their trailer.
// Attributes are applied owner first (chown clears setuid), then mode, then
// times; a directory's attributes are applied when the stream leaves it, so
// filling it does not disturb them. The restore is synced (syncfs) before
// Receive returns.
package restore
