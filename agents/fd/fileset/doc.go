// Package fileset walks the file system for a backup: the include roots of a
// Spec, depth first in byte order of names, each directory before its
// contents, never following a symlink.
//
// The walker works relative to open directory file descriptors, so paths
// longer than PATH_MAX are walked like any other, and a symlink planted on
// the way is never followed. Entries carry lstat attributes and, for regular
// files, an open function that opens the file relative to its parent
// directory; Entry.Xattrs reads an entry's extended attributes the same
// way (through an O_PATH descriptor for what is not opened). Per-entry
// problems (an entry that vanished, a directory that
// cannot be read) are reported to a warn callback and the walk goes on.
package fileset
