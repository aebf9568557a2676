// Package backup is the file daemon's sender: it walks a fileset and writes
// every entry to a datapath stream as a header, the content of a regular
// file in data records, and a trailer carrying the content's BLAKE3 sum,
// then closes the stream with its totals.
//
// Memory does not grow with file size: content is read into one reused
// chunk buffer and hashed with one reused hasher. A file that cannot be
// opened or read is skipped with a warning before its header is sent; a
// file that changes while read is sent as announced (cut to, or zero-padded
// to, its announced size) with the trailer flags saying so.
package backup
