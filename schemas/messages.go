package schemas

import "reflect"

// messageInfo registers a Go type as a bus message.
type messageInfo struct {
	Name string
	Desc string
	Type reflect.Type
}

func msg[T any](name, desc string) messageInfo {
	return messageInfo{Name: name, Desc: desc, Type: reflect.TypeFor[T]()}
}

// messageTypes is the one list of message types. Append only; a name is never
// reused for a different shape.
var messageTypes = []messageInfo{
	msg[Ack]("ack", "Positive reply to a request that returns nothing else."),
	msg[PrepareJob]("prepare_job", "Director to fd: get ready for a backup or restore and either dial or expect the data socket."),
	msg[SessionOpen]("session_open", "Director to sd: reserve a volume (backup) or open the job's volumes (restore) and mint the session key."),
	msg[SessionOpened]("session_opened", "sd's reply to session_open: the single-use session key and the volume."),
	msg[DataConnect]("data_connect", "Director to the dialing agent: open the data socket to Addr now."),
	msg[DataConnected]("data_connected", "Reply to data_connect: the socket is up and authenticated; who dialed from where to where."),
	msg[DataStart]("data_start", "Director to the sending agent: the socket is up, start streaming."),
	msg[AbortJob]("abort_job", "Director to an agent: stop this job, close its socket, write nothing more."),
	msg[FileChunk]("file_chunk", "sd to director: one numbered chunk of a job's file list, split by bytes against the max payload."),
	msg[FileEntry]("file_entry", "One file as stored: attributes, checksum and where it is on the volume."),
	msg[LogChunk]("log_chunk", "Agent to director: one numbered chunk of a job's log lines."),
	msg[LogLine]("log_line", "One line of a job log."),
	msg[AgentReport]("agent_report", "Agent to director at the end of its part of a job: status, totals, and how many chunks it sent."),
	msg[MediaRef]("media_ref", "A job's session on a volume."),
	msg[Heartbeat]("heartbeat", "Agent presence, published periodically."),
	msg[RunRequest]("run_request", "Console to director: run a configured job."),
	msg[RunReply]("run_reply", "Director's reply: the id of the job it created."),
	msg[RestoreRequest]("restore_request", "Console to director: restore a backup job to a folder on a client."),
	msg[JobsRequest]("jobs_request", "Console to director: list recent jobs."),
	msg[CancelRequest]("cancel_request", "(v2) Console to director: cancel a running job on every daemon."),
	msg[JobsReply]("jobs_reply", "Director's list of jobs, newest first."),
	msg[JobRequest]("job_request", "Console to director: one job with a page of its log."),
	msg[JobReply]("job_reply", "One job and a page of its log."),
	msg[JobSummary]("job_summary", "A job as the catalog holds it."),
	msg[StatusRequest]("status_request", "Console to director: status of the director and agents."),
	msg[StatusReply]("status_reply", "Director, storages and clients with their presence."),
	msg[AgentStatus]("agent_status", "One agent's presence as the director sees it."),
	msg[JobEvent]("job_event", "A job lifecycle event; kept in the JetStream stream FERRY_EVENTS."),
	msg[Progress]("progress", "High-rate progress of a running job (core NATS, not kept)."),
	msg[AuditCounts]("audit_counts", "(v3) What the bus refused since the director started."),
	msg[EnrolRequest]("enrol_request", "(v3) A key the director does not know asks to be enrolled as an agent or console."),
	msg[EnrolReply]("enrol_reply", "(v3) Where an enrolment stands: pending, accepted, rejected or revoked."),
	msg[AgentsRequest]("agents_request", "(v3) Console to director: list the identities it knows."),
	msg[AgentsReply]("agents_reply", "(v3) The identities the director knows."),
	msg[AgentKey]("agent_key", "(v3) One identity: role, name, public key and its state."),
	msg[AgentDecision]("agent_decision", "(v3) Console to director: accept, reject or revoke a key."),
}

var byGoType, byName = buildRegistry()

func buildRegistry() (map[reflect.Type]messageInfo, map[string]messageInfo) {
	bt := make(map[reflect.Type]messageInfo, len(messageTypes))
	bn := make(map[string]messageInfo, len(messageTypes))
	for _, m := range messageTypes {
		if _, dup := bn[m.Name]; dup {
			panic("schemas: duplicate message name " + m.Name)
		}
		bt[m.Type], bn[m.Name] = m, m
	}
	return bt, bn
}

// Messages lists the registered message types in definition order.
func Messages() []MessageDoc {
	out := make([]MessageDoc, 0, len(messageTypes))
	for _, m := range messageTypes {
		out = append(out, MessageDoc(m))
	}
	return out
}

// MessageDoc describes a message type for documentation.
type MessageDoc struct {
	Name string
	Desc string
	Type reflect.Type
}
