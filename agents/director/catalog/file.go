package catalog

// File is one entry of a backup's file list.
type File struct {
	JobID int64
	// Path is the file's path as raw bytes; it need not be UTF-8.
	Path []byte

	Type       uint8
	Mode       uint32
	UID, GID   uint32
	Mtime      int64 // nanoseconds since the Unix epoch
	Size       int64
	LinkTarget []byte

	ChecksumAlgo uint8
	Checksum     []byte

	// Volume and BlockOffset locate the file's header record.
	Volume      string
	BlockOffset int64

	Flags uint32
}

// Media is one session of a job on a volume. A job's sessions are kept in
// the order given.
type Media struct {
	JobID       int64
	Volume      string
	StartOffset int64
	EndOffset   int64
}
