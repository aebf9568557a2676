package schemas

// Job kinds and data-socket initiators, as they travel on the bus.
const (
	KindBackup  = "backup"
	KindRestore = "restore"

	InitiatorSD = "sd" // passive client: the sd dials the fd
	InitiatorFD = "fd" // active client: the fd dials the sd
)

// Job event names (the last token of a JobEvents subject).
const (
	EventCreated     = "created"
	EventStarted     = "started"
	EventDataOpen    = "data_channel_open"
	EventFinished    = "finished"
	EventFailed      = "failed"
	EventCanceled    = "canceled"
	EventStreamName  = "FERRY_EVENTS"
	EventStreamMatch = "ferry.events.>"
)

// Ack is the empty positive reply.
type Ack struct {
	Note string `msgpack:"note,omitempty" desc:"optional remark for logs"`
}

// PrepareJob tells an fd about a job before the data socket exists.
type PrepareJob struct {
	JobID         int64    `msgpack:"job" desc:"job id"`
	Kind          string   `msgpack:"kind" desc:"backup or restore"`
	Storage       string   `msgpack:"storage" desc:"storage resource name of the peer sd"`
	Include       [][]byte `msgpack:"include" desc:"backup: absolute paths to walk"`
	Exclude       []string `msgpack:"exclude" desc:"backup: glob patterns to skip"`
	OneFileSystem bool     `msgpack:"one_fs" desc:"backup: do not cross file-system boundaries"`
	Level         string   `msgpack:"level" desc:"backup level: full, incremental or differential"`
	Since         int64    `msgpack:"since" desc:"backup: UTC ns; files changed after it (0 for full)"`
	Key           []byte   `msgpack:"key" desc:"single-use session key binding the data socket to this job"`
	Initiator     string   `msgpack:"initiator" desc:"who dials the data socket: sd (passive client) or fd (active client)"`
	Target        []byte   `msgpack:"target" desc:"restore: folder on the client that receives the files"`
	Replace       string   `msgpack:"replace" desc:"restore: never, ifnewer or always"`
	BandwidthBps  int64    `msgpack:"bw,omitempty" desc:"maximum bytes per second on the data socket, 0 for none"`
	KeepaliveMs   int64    `msgpack:"keepalive_ms,omitempty" desc:"(v2) data socket liveness period in ms: TCP keepalive on both ends, heartbeat records from the sending side; absent or 0 (an older director): the agent default, 2000; negative: both off"`
	PeerKey       string   `msgpack:"peer_key,omitempty" desc:"(v3) the sd's identity (public nkey, U...): the data socket's TLS peer must present it"`
	Plain         bool     `msgpack:"plain,omitempty" desc:"(v3) data socket without TLS: the director's insecure setting; an agent refuses it unless its own configuration is insecure too"`
	Compression   string   `msgpack:"compression,omitempty" desc:"(v3) backup: compress file data on the client: empty or none, or zstd"`
}

// SessionOpen asks the sd to prepare a data session.
type SessionOpen struct {
	JobID        int64      `msgpack:"job" desc:"job id"`
	Kind         string     `msgpack:"kind" desc:"backup or restore"`
	Client       string     `msgpack:"client" desc:"client resource name of the peer fd"`
	Initiator    string     `msgpack:"initiator" desc:"who dials the data socket: sd or fd"`
	SourceJob    int64      `msgpack:"source_job,omitempty" desc:"restore: the backup job whose data is read"`
	Media        []MediaRef `msgpack:"media,omitempty" desc:"restore: the source job's sessions, in order"`
	Paths        [][]byte   `msgpack:"paths,omitempty" desc:"restore: only these stored paths (and what lies below them); empty for all"`
	BandwidthBps int64      `msgpack:"bw,omitempty" desc:"(v2) restore: maximum bytes per second the sd sends, 0 for none"`
	KeepaliveMs  int64      `msgpack:"keepalive_ms,omitempty" desc:"(v2) data socket liveness period in ms: TCP keepalive on both ends, heartbeat records from the sending side; absent or 0 (an older director): the agent default, 2000; negative: both off"`
	PeerKey      string     `msgpack:"peer_key,omitempty" desc:"(v3) the fd's identity (public nkey, U...): the data socket's TLS peer must present it"`
	Plain        bool       `msgpack:"plain,omitempty" desc:"(v3) data socket without TLS: the director's insecure setting; an agent refuses it unless its own configuration is insecure too"`
}

// SessionOpened is the sd's reply to SessionOpen.
type SessionOpened struct {
	JobID  int64  `msgpack:"job" desc:"job id"`
	Key    []byte `msgpack:"key" desc:"fresh random single-use session key"`
	Volume string `msgpack:"volume" desc:"backup: the volume reserved for the session"`
}

// DataConnect tells the dialing agent to open the data socket.
type DataConnect struct {
	JobID int64  `msgpack:"job" desc:"job id"`
	Addr  string `msgpack:"addr" desc:"host:port to dial, from the director's configuration"`
	Peer  string `msgpack:"peer" desc:"resource name of the agent expected at Addr"`
}

// DataConnected reports an authenticated data socket.
type DataConnected struct {
	JobID int64  `msgpack:"job" desc:"job id"`
	From  string `msgpack:"from" desc:"dialer's local address"`
	To    string `msgpack:"to" desc:"address dialed"`
}

// DataStart starts the stream on the sending side.
type DataStart struct {
	JobID int64 `msgpack:"job" desc:"job id"`
}

// AbortJob stops a job on an agent.
type AbortJob struct {
	JobID  int64  `msgpack:"job" desc:"job id"`
	Reason string `msgpack:"reason" desc:"why, for the agent's log"`
	Status string `msgpack:"status,omitempty" desc:"(v2) how the job ends: failed (when empty) or canceled; the sd records it in the session end"`
}

// FileEntry is one stored file in a file list.
type FileEntry struct {
	Path       []byte `msgpack:"path" desc:"path relative to the client's root, bytes"`
	Type       uint8  `msgpack:"type" desc:"entry type (datapath.FileType)"`
	Mode       uint32 `msgpack:"mode" desc:"permission and special bits"`
	UID        uint32 `msgpack:"uid" desc:"owner"`
	GID        uint32 `msgpack:"gid" desc:"group"`
	Mtime      int64  `msgpack:"mtime" desc:"modification time, UTC ns"`
	Size       int64  `msgpack:"size" desc:"size in bytes"`
	LinkTarget []byte `msgpack:"link,omitempty" desc:"symlink target bytes"`
	Algo       uint8  `msgpack:"algo" desc:"checksum algorithm id (datapath.Algo*)"`
	Sum        []byte `msgpack:"sum,omitempty" desc:"content checksum"`
	Volume     string `msgpack:"volume" desc:"volume holding the file's header record"`
	Block      int64  `msgpack:"block" desc:"byte offset of that record's block in the volume"`
	Flags      uint32 `msgpack:"flags,omitempty" desc:"datapath.Flag* bits, e.g. changed while read"`
}

// FileChunk carries one numbered part of a job's file list.
type FileChunk struct {
	JobID int64       `msgpack:"job" desc:"job id"`
	Seq   int         `msgpack:"seq" desc:"chunk number from 0; the agent's report gives the final count"`
	Files []FileEntry `msgpack:"files" desc:"the files of this chunk"`
}

// LogLine is one job log line.
type LogLine struct {
	Time  int64  `msgpack:"time" desc:"UTC ns"`
	Level string `msgpack:"level" desc:"info, warning or error"`
	Agent string `msgpack:"agent" desc:"agent that wrote it"`
	Msg   string `msgpack:"msg" desc:"the message"`
	Path  []byte `msgpack:"path,omitempty" desc:"the file concerned, bytes"`
}

// LogChunk carries one numbered part of an agent's job log.
type LogChunk struct {
	JobID int64     `msgpack:"job" desc:"job id"`
	Seq   int       `msgpack:"seq" desc:"chunk number from 0; the agent's report gives the final count"`
	Lines []LogLine `msgpack:"lines" desc:"log lines"`
}

// MediaRef locates a session on a volume.
type MediaRef struct {
	Volume string `msgpack:"volume" desc:"volume name"`
	Start  int64  `msgpack:"start" desc:"offset of the session start block"`
	End    int64  `msgpack:"end" desc:"offset of the session end block"`
}

// AgentReport is an agent's end-of-job report.
type AgentReport struct {
	JobID      int64      `msgpack:"job" desc:"job id"`
	Agent      string     `msgpack:"agent" desc:"agent name"`
	Role       string     `msgpack:"role" desc:"sd or fd"`
	OK         bool       `msgpack:"ok" desc:"the agent's part succeeded"`
	Reason     string     `msgpack:"reason,omitempty" desc:"why not, naming what failed and where"`
	Files      int64      `msgpack:"files" desc:"files sent (fd backup), written (sd backup), read (sd restore) or restored (fd restore)"`
	Bytes      int64      `msgpack:"bytes" desc:"file content bytes, same sense as files"`
	Warnings   int64      `msgpack:"warnings" desc:"per-file problems logged"`
	FileChunks int        `msgpack:"file_chunks" desc:"number of file_chunk messages sent for this job"`
	LogChunks  int        `msgpack:"log_chunks" desc:"number of log_chunk messages sent for this job"`
	Media      []MediaRef `msgpack:"media,omitempty" desc:"sd backup: where the session landed"`
	FirstData  int64      `msgpack:"first_data,omitempty" desc:"UTC ns of the first data frame on the socket"`
}

// Heartbeat is an agent's presence beacon.
type Heartbeat struct {
	Name     string `msgpack:"name" desc:"agent name"`
	Role     string `msgpack:"role" desc:"sd or fd"`
	Version  string `msgpack:"version" desc:"software version"`
	DataAddr string `msgpack:"data_addr" desc:"the agent's data listen address"`
	Passive  bool   `msgpack:"passive" desc:"fd: configured passive"`
	Started  int64  `msgpack:"started" desc:"agent start, UTC ns"`
	Sent     int64  `msgpack:"sent" desc:"send time, UTC ns"`
	Jobs     int    `msgpack:"jobs" desc:"jobs running on the agent"`
}

// RunRequest runs a configured job.
type RunRequest struct {
	Job   string `msgpack:"job" desc:"job resource name"`
	Level string `msgpack:"level,omitempty" desc:"override the job's level"`
}

// RunReply names the created job.
type RunReply struct {
	JobID int64 `msgpack:"job" desc:"the new job's id"`
}

// RestoreRequest restores a backup job.
type RestoreRequest struct {
	BackupJob    int64    `msgpack:"backup_job" desc:"id of the backup job to restore"`
	Client       string   `msgpack:"client,omitempty" desc:"client that receives the files; default the original"`
	Target       []byte   `msgpack:"target" desc:"folder on that client"`
	Paths        [][]byte `msgpack:"paths,omitempty" desc:"stored paths to restore; empty for all"`
	Replace      string   `msgpack:"replace,omitempty" desc:"never (default), ifnewer or always"`
	BandwidthBps int64    `msgpack:"bw,omitempty" desc:"(v2) maximum bytes per second on the data socket, 0 for none"`
}

// CancelRequest cancels a running job.
type CancelRequest struct {
	JobID int64 `msgpack:"job" desc:"job id"`
}

// JobsRequest lists jobs.
type JobsRequest struct {
	Limit  int    `msgpack:"limit" desc:"at most this many, newest first"`
	Status string `msgpack:"status,omitempty" desc:"only jobs in this status"`
}

// JobsReply lists jobs.
type JobsReply struct {
	Jobs []JobSummary `msgpack:"jobs" desc:"the jobs"`
}

// JobRequest asks for one job and a page of its log.
type JobRequest struct {
	JobID   int64 `msgpack:"job" desc:"job id"`
	LogFrom int   `msgpack:"log_from" desc:"first log line to return"`
}

// JobReply is one job and a page of its log.
type JobReply struct {
	Job     JobSummary `msgpack:"job_info" desc:"the job"`
	Log     []LogLine  `msgpack:"log" desc:"log lines from LogFrom, as many as fit in one message"`
	LogMore bool       `msgpack:"log_more" desc:"more lines follow: ask again from LogFrom+len(Log)"`
}

// JobSummary is a job as the catalog holds it.
type JobSummary struct {
	ID        int64  `msgpack:"id" desc:"job id"`
	Name      string `msgpack:"name" desc:"job resource name"`
	Kind      string `msgpack:"kind" desc:"backup or restore"`
	Level     string `msgpack:"level" desc:"backup level"`
	Client    string `msgpack:"client" desc:"client resource name"`
	Storage   string `msgpack:"storage" desc:"storage resource name"`
	FileSet   string `msgpack:"fileset" desc:"fileset resource name"`
	Status    string `msgpack:"status" desc:"created, running, ok, ok_warnings, failed or canceled"`
	Reason    string `msgpack:"reason" desc:"why it failed"`
	Created   int64  `msgpack:"created" desc:"UTC ns"`
	Started   int64  `msgpack:"started" desc:"UTC ns, 0 if never"`
	Ended     int64  `msgpack:"ended" desc:"UTC ns, 0 if running"`
	Files     int64  `msgpack:"files" desc:"files"`
	Bytes     int64  `msgpack:"bytes" desc:"content bytes"`
	Warnings  int64  `msgpack:"warnings" desc:"per-file problems"`
	Initiator string `msgpack:"initiator" desc:"who dialed the data socket: sd or fd"`
	DialFrom  string `msgpack:"dial_from" desc:"dialer's local address"`
	DialTo    string `msgpack:"dial_to" desc:"address dialed"`
	RestoreOf int64  `msgpack:"restore_of,omitempty" desc:"restore: the backup job restored"`
	Target    []byte `msgpack:"target,omitempty" desc:"restore: folder on the client"`
}

// StatusRequest asks for the director's view of the installation.
type StatusRequest struct {
	Verbose bool `msgpack:"verbose" desc:"include agents that are not configured"`
}

// StatusReply is the director's view of the installation.
type StatusReply struct {
	Director string        `msgpack:"director" desc:"director name"`
	Started  int64         `msgpack:"started" desc:"director start, UTC ns"`
	NATS     string        `msgpack:"nats" desc:"bus URL the director uses"`
	Running  int           `msgpack:"running" desc:"jobs running"`
	Agents   []AgentStatus `msgpack:"agents" desc:"storages and clients"`
	Security string        `msgpack:"security,omitempty" desc:"(v3) tls (default) or insecure"`
	Audit    AuditCounts   `msgpack:"audit,omitempty" desc:"(v3) refused connections and permission violations since the director started"`
	Pending  int           `msgpack:"pending,omitempty" desc:"(v3) keys waiting for an operator's accept or reject"`
}

// AuditCounts counts what the bus refused (embedded server only: an
// external server keeps its own log).
type AuditCounts struct {
	RejectedConnections  int64 `msgpack:"rejected_connections" desc:"connections refused: bad signature, no TLS, refused leafnode, ..."`
	UnknownKeys          int64 `msgpack:"unknown_keys" desc:"connections with a key that is not enrolled (recorded as pending when allowed)"`
	RefusedKeys          int64 `msgpack:"refused_keys" desc:"connections with a rejected or revoked key"`
	PermissionViolations int64 `msgpack:"permission_violations" desc:"publishes and subscriptions outside a connection's permissions"`
}

// EnrolRequest is a new agent asking to be let in. It travels on a subject
// that names the key, which the server lets only that key publish to.
type EnrolRequest struct {
	Role     string `msgpack:"role" desc:"sd, fd or console"`
	Name     string `msgpack:"name" desc:"the resource name it claims"`
	Host     string `msgpack:"host" desc:"its host name, for the operator"`
	Version  string `msgpack:"version" desc:"software version"`
	DataAddr string `msgpack:"data_addr,omitempty" desc:"its data listen address, if any"`
}

// EnrolReply tells an agent where its enrolment stands.
type EnrolReply struct {
	State string `msgpack:"state" desc:"pending, accepted, rejected or revoked"`
	Note  string `msgpack:"note,omitempty" desc:"what to do next"`
}

// AgentsRequest lists the identities the director knows.
type AgentsRequest struct {
	State string `msgpack:"state,omitempty" desc:"only keys in this state"`
}

// AgentsReply lists identities.
type AgentsReply struct {
	Keys []AgentKey `msgpack:"keys" desc:"the identities"`
}

// AgentKey is one identity as the director knows it.
type AgentKey struct {
	Role      string `msgpack:"role" desc:"director, sd, fd or console"`
	Name      string `msgpack:"name" desc:"resource name"`
	Key       string `msgpack:"key" desc:"public nkey (U...)"`
	State     string `msgpack:"state" desc:"configured, accepted, pending, rejected or revoked"`
	Source    string `msgpack:"source" desc:"config (named in the director's configuration) or enrolment"`
	Host      string `msgpack:"host,omitempty" desc:"host name the agent gave when it enrolled"`
	Peer      string `msgpack:"peer,omitempty" desc:"network address it enrolled or was first seen from"`
	FirstSeen int64  `msgpack:"first_seen,omitempty" desc:"UTC ns"`
	Changed   int64  `msgpack:"changed,omitempty" desc:"UTC ns of the last state change"`
}

// AgentDecision is an operator's accept, reject or revoke.
type AgentDecision struct {
	Action string `msgpack:"action" desc:"accept, reject or revoke"`
	Role   string `msgpack:"role,omitempty" desc:"sd, fd or console; empty: whichever role the name has"`
	Name   string `msgpack:"name" desc:"resource name"`
	Key    string `msgpack:"key,omitempty" desc:"the key meant; required when a name has several keys waiting"`
}

// AgentStatus is one agent's presence.
type AgentStatus struct {
	Name       string `msgpack:"name" desc:"resource name"`
	Role       string `msgpack:"role" desc:"sd or fd"`
	Configured bool   `msgpack:"configured" desc:"named in the director's configuration"`
	Online     bool   `msgpack:"online" desc:"heartbeat seen recently"`
	LastSeen   int64  `msgpack:"last_seen" desc:"UTC ns of the last heartbeat, 0 if never"`
	Passive    bool   `msgpack:"passive" desc:"client is passive in the director's configuration"`
	Address    string `msgpack:"address" desc:"data address from the director's configuration"`
	Version    string `msgpack:"version" desc:"agent software version from its heartbeat"`
	Link       string `msgpack:"link,omitempty" desc:"(v2) passive client: its bus link, dialed by the NATS side: up, down, or unknown (external NATS)"`
	LinkSince  int64  `msgpack:"link_since,omitempty" desc:"(v2) UTC ns the link came up or went down"`
	LinkError  string `msgpack:"link_error,omitempty" desc:"(v2) the link's last error, e.g. dial 10.0.0.5:7422: connection refused"`
	Mismatch   string `msgpack:"mismatch,omitempty" desc:"(v2) the agent's own configuration disagrees with the director's, e.g. on passive"`
	Key        string `msgpack:"key,omitempty" desc:"(v3) the agent's enrolled identity (public nkey, U...)"`
	KeyState   string `msgpack:"key_state,omitempty" desc:"(v3) configured, accepted, pending, rejected, revoked, or none"`
}

// JobEvent is a lifecycle event of a job.
type JobEvent struct {
	JobID     int64  `msgpack:"job" desc:"job id"`
	Event     string `msgpack:"event" desc:"created, started, data_channel_open, finished, failed or canceled"`
	Time      int64  `msgpack:"time" desc:"UTC ns"`
	Name      string `msgpack:"name" desc:"job resource name"`
	Kind      string `msgpack:"kind" desc:"backup or restore"`
	Client    string `msgpack:"client" desc:"client resource name"`
	Storage   string `msgpack:"storage" desc:"storage resource name"`
	Status    string `msgpack:"status,omitempty" desc:"final status on finished, failed and canceled"`
	Reason    string `msgpack:"reason,omitempty" desc:"why it failed"`
	Initiator string `msgpack:"initiator,omitempty" desc:"data_channel_open: who dialed, sd or fd"`
	From      string `msgpack:"from,omitempty" desc:"data_channel_open: dialer's local address"`
	To        string `msgpack:"to,omitempty" desc:"data_channel_open: address dialed"`
	Files     int64  `msgpack:"files,omitempty" desc:"final file count"`
	Bytes     int64  `msgpack:"bytes,omitempty" desc:"final byte count"`
	Warnings  int64  `msgpack:"warnings,omitempty" desc:"per-file problems"`
}

// Progress is a running job's progress.
type Progress struct {
	JobID int64  `msgpack:"job" desc:"job id"`
	Agent string `msgpack:"agent" desc:"agent reporting"`
	Files int64  `msgpack:"files" desc:"files so far"`
	Bytes int64  `msgpack:"bytes" desc:"content bytes so far"`
	Path  []byte `msgpack:"path,omitempty" desc:"file in flight"`
	Time  int64  `msgpack:"time" desc:"UTC ns"`
}
