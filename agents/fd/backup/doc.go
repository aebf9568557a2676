// Package backup is the file daemon's sender: it walks a fileset and writes
// every entry to a datapath stream as a header, the content of a regular
// file in data and hole records, and a trailer carrying the BLAKE3 sum of
// the data, then closes the stream with its totals.
//
// A sparse file goes as the file system lays it out (SEEK_DATA/SEEK_HOLE):
// hole records for its holes, data records for the rest, in offset order.
// Extended attributes of every namespace the process may read (ACLs and
// file capabilities included, the SELinux label excluded) travel in the
// header (datapath.ExtXattrs). An inode with several names is sent once,
// under the first name walked, and every later name refers to that entry
// (datapath.ExtHardlink); the sender remembers only multiply-linked inodes,
// each until all its names are seen.
//
// Small files (one name, no hole, at most 128 KiB) are read, hashed and
// encoded by four readers while the walk goes on, and written to the
// stream in walk order (readers.go); the rest is sent by the walk itself.
//
// With Options.Compression "zstd", content chunks that shrink go as zdata
// records (see datapath.Compressor); sums and counts stay the content's.
//
// Memory does not grow with file size: content is read into one reused
// chunk buffer and hashed with one reused hasher. A file that cannot be
// opened or read is skipped with a warning before its header is sent; a
// file that changes while read is sent as announced (cut to, or zero-padded
// to, its announced size) with the trailer flags saying so.
package backup
