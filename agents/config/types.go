package config

import (
	"net"
	"strconv"
	"time"
)

// Backup levels a job may name.
const (
	LevelFull         = "full"
	LevelIncremental  = "incremental"
	LevelDifferential = "differential"
)

// Defaults for attributes a file leaves out.
const (
	DefaultNATSListen        = "127.0.0.1:4222"
	DefaultCatalogFile       = "catalog.db" // inside the director's data_dir
	DefaultEventsMaxAge      = 720 * time.Hour
	DefaultEventsMaxBytes    = 1 << 30
	DefaultConnectTimeout    = 10 * time.Second
	DefaultNoProgressTimeout = 5 * time.Minute
	DefaultDataKeepalive     = 2 * time.Second
	DefaultLeafPort          = 7422
	DefaultFDLeafListen      = ":7422"
	DefaultClientDataPort    = 9102
	DefaultStorageDataPort   = 9103
	DefaultLevel             = LevelFull
	DefaultSDDataListen      = ":9103"
	DefaultFDDataListen      = ":9102"
	DefaultVolumeMaxBytes    = 50 << 30
	DefaultOneFileSystem     = true
)

// Director is a director's file: the director and the resources it manages.
type Director struct {
	Name           string
	NATSListen     string // embedded NATS server's client listen address
	NATSURL        string // if set, an external NATS server used instead
	DataDir        string
	Catalog        string // sqlite file path, or postgres:// URL
	EventsMaxAge   time.Duration
	EventsMaxBytes int64
	ConnectTimeout time.Duration
	JobTimeout     time.Duration // 0: none
	// DataKeepalive keeps idle data sockets alive through NAT routers and
	// firewalls that forget idle flows: TCP keepalive probes on both ends
	// and heartbeat records from the sending side after this long without
	// traffic (default DefaultDataKeepalive; 0: both off).
	DataKeepalive time.Duration

	// Security. IdentityFile is the director's own key (an nkey seed file,
	// `ferry key new`). TLSCertFile and TLSKeyFile are the embedded NATS
	// server's certificate (`ferry cert new`); CAFile verifies the NATS
	// server when it is external. Insecure turns TLS and keys off on every
	// link (plain text, anyone on the network can join the bus): for a
	// closed lab only, warned about at start.
	IdentityFile string
	TLSCertFile  string
	TLSKeyFile   string
	CAFile       string
	Insecure     bool
	// Enrolment lets an unknown agent key ask to be let in (it shows as
	// pending until an operator accepts it); false refuses unknown keys
	// outright. Default true.
	Enrolment bool

	Clients  []Client
	Consoles []Console
	Storages []Storage
	FileSets []FileSet
	Jobs     []Job
}

// Client is a file daemon as the director knows it.
type Client struct {
	Name     string
	Address  string // host name or IP, no port
	DataPort int
	Passive  bool
	MaxWait  time.Duration // how long a job waits for an offline client
	// LeafPort and LeafPasswordFile: a passive client's bus link, dialed by
	// the NATS side at Address:LeafPort with this password (user: the
	// client's name).
	LeafPort         int
	LeafPasswordFile string
	// Key is the client's identity (public nkey, "U..."); empty: the key
	// the client enrols with, once an operator accepts it.
	Key string
}

// Storage is a storage daemon as the director knows it.
type Storage struct {
	Name     string
	Address  string // host name or IP, no port
	DataPort int
	Key      string // identity (public nkey); empty: enrolled
}

// Console is a person's or a script's identity allowed to drive the
// director.
type Console struct {
	Name string
	Key  string // public nkey, required
}

// Compression algorithms a fileset may name.
const (
	CompressionNone = "none"
	CompressionZstd = "zstd"
)

// FileSet names what a job backs up.
type FileSet struct {
	Name          string
	Include       []string // absolute, clean paths
	Exclude       []string // path.Match patterns
	OneFileSystem bool
	Compression   string // CompressionNone (default) or CompressionZstd
}

// Job ties a client, a fileset and a storage together.
type Job struct {
	Name    string
	Client  string
	FileSet string
	Storage string
	Level   string
	// MaxRunTime fails the job when it runs longer (0: no limit).
	MaxRunTime time.Duration
	// NoProgressTimeout fails the job when no data moves for this long,
	// naming the file in flight (default DefaultNoProgressTimeout).
	NoProgressTimeout time.Duration
	// MaxBandwidth caps the data socket in bytes per second (0: no cap),
	// like Bareos's Maximum Bandwidth Per Job.
	MaxBandwidth int64
}

// StorageDaemon is a storage daemon's file.
type StorageDaemon struct {
	Name           string
	NATSURL        string
	DataListen     string
	VolumeDir      string
	VolumeMaxBytes int64 // a volume larger than this takes no new sessions
	Security
}

// Security is how a storage or file daemon proves itself and checks the
// bus: its identity (nkey seed file), the CA that signed the NATS
// server's certificate (empty: the system's roots), or Insecure for plain
// text without keys.
type Security struct {
	IdentityFile string
	CAFile       string
	Insecure     bool
}

// FileDaemon is a file daemon's file.
type FileDaemon struct {
	Name       string
	NATSURL    string // required unless Passive; a passive file daemon dials nothing
	DataListen string
	Passive    bool
	// LeafListen and LeafPasswordFile: a passive file daemon's bus link. It
	// runs its own NATS server with no client port and this leafnode
	// listener, which the NATS side dials with the password.
	LeafListen       string
	LeafPasswordFile string
	// LeafCertFile and LeafKeyFile: a passive file daemon's leafnode TLS
	// certificate when the NATS side checks it against a CA (a generated
	// configuration for an external server). Empty: the identity's own
	// certificate, which the embedded hub pins to the enrolled key.
	LeafCertFile string
	LeafKeyFile  string
	Security
}

// Client returns the client with the given name.
func (d *Director) Client(name string) (Client, bool) {
	return find(d.Clients, name, func(c Client) string { return c.Name })
}

// Storage returns the storage with the given name.
func (d *Director) Storage(name string) (Storage, bool) {
	return find(d.Storages, name, func(s Storage) string { return s.Name })
}

// FileSet returns the fileset with the given name.
func (d *Director) FileSet(name string) (FileSet, bool) {
	return find(d.FileSets, name, func(f FileSet) string { return f.Name })
}

// Job returns the job with the given name.
func (d *Director) Job(name string) (Job, bool) {
	return find(d.Jobs, name, func(j Job) string { return j.Name })
}

// DataAddress is the host:port of the client's data socket.
func (c Client) DataAddress() string { return joinHostPort(c.Address, c.DataPort) }

// DataAddress is the host:port of the storage daemon's data socket.
func (s Storage) DataAddress() string { return joinHostPort(s.Address, s.DataPort) }

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func find[T any](xs []T, name string, nameOf func(T) string) (T, bool) {
	for _, x := range xs {
		if nameOf(x) == name {
			return x, true
		}
	}
	var zero T
	return zero, false
}
