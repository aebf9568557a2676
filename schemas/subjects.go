package schemas

// Every subject on the bus, in one block. '*' marks a parameter token.
// Pub and Sub name the roles that may publish and subscribe.
var (
	dir       = []Role{RoleDirector}
	sd        = []Role{RoleSD}
	fd        = []Role{RoleFD}
	agents    = []Role{RoleSD, RoleFD}
	console   = []Role{RoleConsole}
	anyone    = []Role{RoleDirector, RoleConsole, RoleAny}
	enrollers = []Role{RolePending, RoleSD, RoleFD, RoleConsole}

	// Director to file daemon.
	FDPrepare = newRequest[PrepareJob, Ack]("ferry.fd.*.prepare", []string{"client"},
		"Director asks client's fd to prepare a job; the fd acknowledges once it will dial or expects the sd.", dir, fd)
	FDConnect = newRequest[DataConnect, DataConnected]("ferry.fd.*.connect", []string{"client"},
		"Active client: director tells the fd to dial the sd's data address; the reply names both ends.", dir, fd)
	FDStart = newRequest[DataStart, Ack]("ferry.fd.*.start", []string{"client"},
		"Backup: director tells the fd to start streaming once the data socket is up.", dir, fd)
	FDAbort = newRequest[AbortJob, Ack]("ferry.fd.*.abort", []string{"client"},
		"Director tells the fd to stop a job.", dir, fd)

	// Director to storage daemon.
	SDOpen = newRequest[SessionOpen, SessionOpened]("ferry.sd.*.open", []string{"storage"},
		"Director asks the sd to open a data session; the reply carries the single-use session key.", dir, sd)
	SDConnect = newRequest[DataConnect, DataConnected]("ferry.sd.*.connect", []string{"storage"},
		"Passive client: director tells the sd to dial the fd's data address; the reply names both ends.", dir, sd)
	SDStart = newRequest[DataStart, Ack]("ferry.sd.*.start", []string{"storage"},
		"Restore: director tells the sd to start streaming once the data socket is up.", dir, sd)
	SDAbort = newRequest[AbortJob, Ack]("ferry.sd.*.abort", []string{"storage"},
		"Director tells the sd to stop a job and close its session.", dir, sd)

	// Agents to director: everything an agent must deliver is request/reply.
	DirFiles = newRequest[FileChunk, Ack]("ferry.dir.files.*", []string{"storage"},
		"sd sends a job's file list in numbered chunks; the director stages each idempotently.", sd, dir)
	DirLog = newRequest[LogChunk, Ack]("ferry.dir.log.*.*", []string{"role", "agent"},
		"An agent sends numbered chunks of a job's log.", agents, dir)
	DirReport = newRequest[AgentReport, Ack]("ferry.dir.report.*.*", []string{"role", "agent"},
		"An agent reports the end of its part of a job with totals and chunk counts.", agents, dir)

	// Presence.
	Presence = newSubject[Heartbeat](TransportCore, "ferry.presence.*.*", []string{"role", "agent"},
		"Agents announce themselves and heartbeat; the director tracks who is online.", agents, []Role{RoleDirector})

	// Console API.
	APIRun = newRequest[RunRequest, RunReply]("ferry.api.run", nil,
		"Console runs a configured job; the reply carries the job id.", console, dir)
	APIRestore = newRequest[RestoreRequest, RunReply]("ferry.api.restore", nil,
		"Console restores a backup job to a folder on a client.", console, dir)
	APICancel = newRequest[CancelRequest, Ack]("ferry.api.cancel", nil,
		"Console cancels a running job; the director aborts it on every daemon and it ends canceled.", console, dir)
	APIJobs = newRequest[JobsRequest, JobsReply]("ferry.api.jobs", nil,
		"Console lists recent jobs.", console, dir)
	APIJob = newRequest[JobRequest, JobReply]("ferry.api.job", nil,
		"Console reads one job and its log, page by page.", console, dir)
	APIStatus = newRequest[StatusRequest, StatusReply]("ferry.api.status", nil,
		"Console reads the director's view of storages and clients.", console, dir)

	// Identities.
	Enrol = newRequest[EnrolRequest, EnrolReply]("ferry.enrol.*", []string{"key"},
		"An agent or console asks where its key stands (a new key: to be enrolled); the subject names the key, and the server lets only that key publish here. A key the director does not know may publish nothing else.", enrollers, dir)
	APIAgents = newRequest[AgentsRequest, AgentsReply]("ferry.api.agents", nil,
		"Console lists identities: configured, accepted, pending, rejected and revoked keys.", console, dir)
	APIDecide = newRequest[AgentDecision, Ack]("ferry.api.agents.decide", nil,
		"Console accepts, rejects or revokes an agent's key; a revoke cuts the agent's live links.", console, dir)

	// Events.
	JobEvents = newSubject[JobEvent](TransportStream, "ferry.events.job.*.*", []string{"job", "event"},
		"Job lifecycle events (created, started, data_channel_open, finished, failed, canceled), kept in the JetStream stream FERRY_EVENTS for replay.", dir, anyone)
	JobProgress = newSubject[Progress](TransportCore, "ferry.progress.job.*", []string{"job"},
		"High-rate progress of a running job; not kept.", agents, anyone)
)
