// Package restore is the file daemon's receiver: it reads a datapath stream
// and recreates its entries under a target directory.
//
// It never writes outside the target. Stored paths that are absolute,
// empty, hold a NUL or a "." or ".." component are refused, and every
// entry is reached from an open descriptor of the target, one component at
// a time, without following symlinks: a symlink on the way, planted or
// restored earlier, stops the stream. In a folder the restore made itself
// (created 0700, known by its inode, its attributes not applied yet) an
// entry is created under its own name at once, refusing any existing name
// (O_EXCL, no symlink followed): nothing there predates the restore. Else,
// or if the name is taken, the entry is created under a temporary name and
// renamed into place, following the replace policy.
//
// Regular files are verified against the BLAKE3 sum of their trailer; holes
// are left unwritten, so a sparse file stays sparse. Attributes are applied
// owner first (chown clears setuid and file capabilities), then mode, then
// extended attributes (ACLs after chmod, which would rewrite their mask),
// then times; a directory's attributes are applied when the stream leaves
// it, so filling it does not disturb them. An extended attribute the target
// refuses is a warning.
//
// Small files in such a folder are created, written, verified and closed
// by four writers while the stream is read on (writers.go, lazy.go); every
// decision is still taken in stream order, and an entry that could meet a
// name the writers create, or a folder whose attributes wait for them,
// waits for the writers first.
//
// A later name of a hardlink group is linked to the entry this restore
// created for the group's first name, earlier in the same stream; a link to
// anything else is refused. The restore is synced (syncfs) before Receive
// returns.
package restore
