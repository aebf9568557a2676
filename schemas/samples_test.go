package schemas

import (
	"fmt"
	"reflect"
	"testing"
)

// Fixed instants (UTC ns) used by the samples; never time.Now.
const (
	sampleT0 int64 = 1767225600123456789 // 2026-01-01T00:00:00.123456789Z
	sampleT1 int64 = 1767225661987654321
	sampleT2 int64 = 1767229200000000001
)

// sample is one registered message type with a deterministic value in which
// every field, nested ones included, is non-zero.
type sample struct {
	name   string
	value  any
	encode func() ([]byte, error)
	decode func([]byte) (any, error)
}

func sampleOf[T any](v T) sample {
	return sample{
		name:   nameOf[T](),
		value:  v,
		encode: func() ([]byte, error) { return Encode(v) },
		decode: func(b []byte) (any, error) { return Decode[T](b) },
	}
}

var (
	sampleMedia = []MediaRef{
		{Volume: "Full-0001", Start: 512, End: 1 << 30},
		{Volume: "Full-0002", Start: 65536, End: 123456789},
	}
	sampleFile = FileEntry{
		Path:       []byte("home/ann/r\xe9sum\xe9\xff.txt"),
		Type:       1,
		Mode:       0o100644,
		UID:        1000,
		GID:        100,
		Mtime:      sampleT0,
		Size:       4096,
		LinkTarget: []byte("../target\xfe"),
		Algo:       2,
		Sum:        []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01},
		Volume:     "Full-0001",
		Block:      1 << 20,
		Flags:      3,
	}
	sampleLine = LogLine{
		Time:  sampleT1,
		Level: "warning",
		Agent: "web1-fd",
		Msg:   "file changed while read",
		Path:  []byte("var/log/a\xffb"),
	}
	sampleJob = JobSummary{
		ID:        42,
		Name:      "web1-nightly",
		Kind:      KindRestore,
		Level:     "incremental",
		Client:    "web1",
		Storage:   "disk1",
		FileSet:   "home",
		Status:    "ok_warnings",
		Reason:    "2 files changed while read",
		Created:   sampleT0,
		Started:   sampleT1,
		Ended:     sampleT2,
		Files:     1234,
		Bytes:     987654321,
		Warnings:  2,
		Initiator: InitiatorFD,
		DialFrom:  "10.0.0.5:51234",
		DialTo:    "10.0.0.2:9103",
		RestoreOf: 41,
		Target:    []byte("/tmp/restore\xff"),
	}
	sampleAgent = AgentStatus{
		Name:       "web1",
		Role:       "fd",
		Configured: true,
		Online:     true,
		LastSeen:   sampleT2,
		Passive:    true,
		Address:    "10.0.0.5:9102",
		Version:    "v1.2.3",
		Link:       "down",
		LinkSince:  sampleT1,
		LinkError:  "dial 10.0.0.5:7422: connection refused",
		Mismatch:   "the director says passive = true, the file daemon's own configuration says passive = false",
		Key:        "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4",
		KeyState:   "accepted",
	}
	sampleAudit = AuditCounts{RejectedConnections: 3, UnknownKeys: 2, RefusedKeys: 1, PermissionViolations: 7}
	sampleKey   = AgentKey{
		Role: "fd", Name: "web1", Key: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4", State: "pending",
		Source: "enrolment", Host: "web1.example.com", Peer: "10.0.0.5:51234", FirstSeen: sampleT0, Changed: sampleT1,
	}
)

// samples holds one entry per registered message type, in registry order.
var samples = []sample{
	sampleOf(Ack{Note: "staged"}),
	sampleOf(PrepareJob{
		JobID:         42,
		Kind:          KindBackup,
		Storage:       "disk1",
		Include:       [][]byte{[]byte("/home"), []byte("/srv/a\xffb")},
		Exclude:       []string{"*.tmp", "/home/*/.cache"},
		OneFileSystem: true,
		Level:         "incremental",
		Since:         sampleT0,
		Key:           []byte{0x01, 0x02, 0x03, 0xfe, 0xff},
		Initiator:     InitiatorSD,
		Target:        []byte("/restore/a\xffb"),
		Replace:       "ifnewer",
		BandwidthBps:  10 << 20,
		KeepaliveMs:   2000,
		PeerKey:       "UBWJ6ZRJ7T2SS4DOKI6ZKTULDPSJLSDHZCJLOMDI6WQBTVX2WQM3KXMU",
		Plain:         true,
		Compression:   "zstd",
	}),
	sampleOf(SessionOpen{
		JobID:        43,
		Kind:         KindRestore,
		Client:       "web1",
		Initiator:    InitiatorFD,
		SourceJob:    41,
		Media:        sampleMedia,
		BandwidthBps: 10 << 20,
		Paths:        [][]byte{[]byte("home/ann"), []byte("etc/a\xffb")},
		KeepaliveMs:  -1,
		PeerKey:      "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4",
		Plain:        true,
	}),
	sampleOf(SessionOpened{JobID: 42, Key: []byte{0xca, 0xfe, 0x00, 0xff}, Volume: "Full-0001"}),
	sampleOf(DataConnect{JobID: 42, Addr: "10.0.0.2:9103", Peer: "disk1"}),
	sampleOf(DataConnected{JobID: 42, From: "10.0.0.5:51234", To: "10.0.0.2:9103"}),
	sampleOf(DataStart{JobID: 42}),
	sampleOf(AbortJob{JobID: 42, Reason: "canceled by operator", Status: "canceled"}),
	sampleOf(FileChunk{JobID: 42, Seq: 3, Files: []FileEntry{sampleFile, {
		Path: []byte("a\xffb"), Type: 2, Mode: 0o40755, UID: 1, GID: 2, Mtime: sampleT1, Size: 1,
		LinkTarget: []byte("x"), Algo: 1, Sum: []byte{1}, Volume: "Full-0002", Block: 7, Flags: 1,
	}}}),
	sampleOf(sampleFile),
	sampleOf(LogChunk{JobID: 42, Seq: 1, Lines: []LogLine{sampleLine, {
		Time: sampleT2, Level: "error", Agent: "disk1", Msg: "volume full", Path: []byte("a\xffb"),
	}}}),
	sampleOf(sampleLine),
	sampleOf(AgentReport{
		JobID:      42,
		Agent:      "disk1",
		Role:       "sd",
		OK:         true,
		Reason:     "short write on Full-0001",
		Files:      1234,
		Bytes:      987654321,
		Warnings:   2,
		FileChunks: 4,
		LogChunks:  2,
		Media:      sampleMedia,
		FirstData:  sampleT1,
	}),
	sampleOf(sampleMedia[0]),
	sampleOf(Heartbeat{
		Name:     "web1",
		Role:     "fd",
		Version:  "v1.2.3",
		DataAddr: "0.0.0.0:9102",
		Passive:  true,
		Started:  sampleT0,
		Sent:     sampleT2,
		Jobs:     1,
	}),
	sampleOf(RunRequest{Job: "web1-nightly", Level: "full"}),
	sampleOf(RunReply{JobID: 42}),
	sampleOf(RestoreRequest{
		BackupJob:    41,
		Client:       "web2",
		Target:       []byte("/tmp/restore\xff"),
		Paths:        [][]byte{[]byte("home/ann"), []byte("a\xffb")},
		Replace:      "always",
		BandwidthBps: 1 << 20,
	}),
	sampleOf(JobsRequest{Limit: 20, Status: "failed"}),
	sampleOf(CancelRequest{JobID: 44}),
	sampleOf(JobsReply{Jobs: []JobSummary{sampleJob, {
		ID: 41, Name: "web1-nightly", Kind: KindBackup, Level: "full", Client: "web1", Storage: "disk1",
		FileSet: "home", Status: "ok", Reason: "-", Created: sampleT0 - 1, Started: sampleT0, Ended: sampleT1,
		Files: 1, Bytes: 2, Warnings: 3, Initiator: InitiatorSD, DialFrom: "10.0.0.2:40000",
		DialTo: "10.0.0.5:9102", RestoreOf: 1, Target: []byte("a\xffb"),
	}}}),
	sampleOf(JobRequest{JobID: 42, LogFrom: 100}),
	sampleOf(JobReply{Job: sampleJob, Log: []LogLine{sampleLine}, LogMore: true}),
	sampleOf(sampleJob),
	sampleOf(StatusRequest{Verbose: true}),
	sampleOf(StatusReply{
		Director: "dir1",
		Started:  sampleT0,
		NATS:     "nats://127.0.0.1:4222",
		Running:  2,
		Agents: []AgentStatus{sampleAgent, {
			Name: "disk1", Role: "sd", Configured: true, Online: true, LastSeen: sampleT1,
			Passive: true, Address: "10.0.0.2:9103", Version: "v1.2.4",
			Link: "up", LinkSince: sampleT0, LinkError: "none", Mismatch: "none",
			Key: "UBWJ6ZRJ7T2SS4DOKI6ZKTULDPSJLSDHZCJLOMDI6WQBTVX2WQM3KXMU", KeyState: "configured",
		}},
		Security: "tls",
		Audit:    sampleAudit,
		Pending:  1,
	}),
	sampleOf(sampleAgent),
	sampleOf(JobEvent{
		JobID:     42,
		Event:     EventDataOpen,
		Time:      sampleT1,
		Name:      "web1-nightly",
		Kind:      KindBackup,
		Client:    "web1",
		Storage:   "disk1",
		Status:    "ok",
		Reason:    "none",
		Initiator: InitiatorFD,
		From:      "10.0.0.5:51234",
		To:        "10.0.0.2:9103",
		Files:     1234,
		Bytes:     987654321,
		Warnings:  2,
	}),
	sampleOf(Progress{
		JobID: 42,
		Agent: "web1",
		Files: 17,
		Bytes: 1 << 24,
		Path:  []byte("home/ann/a\xffb"),
		Time:  sampleT2,
	}),
	sampleOf(sampleAudit),
	sampleOf(EnrolRequest{Role: "fd", Name: "web1", Host: "web1.example.com", Version: "v1.3.0", DataAddr: "10.0.0.5:9102"}),
	sampleOf(EnrolReply{State: "pending", Note: "waiting for an operator: ferry agents accept web1"}),
	sampleOf(AgentsRequest{State: "pending"}),
	sampleOf(AgentsReply{Keys: []AgentKey{sampleKey}}),
	sampleOf(sampleKey),
	sampleOf(AgentDecision{Action: "accept", Role: "fd", Name: "web1", Key: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"}),
}

// samplesByName indexes samples by message name.
func samplesByName(t testing.TB) map[string]sample {
	t.Helper()
	m := make(map[string]sample, len(samples))
	for _, s := range samples {
		if _, dup := m[s.name]; dup {
			t.Fatalf("two samples for %s", s.name)
		}
		m[s.name] = s
	}
	return m
}

func TestSamplesCoverRegistry(t *testing.T) {
	byN := samplesByName(t)
	for _, m := range Messages() {
		s, ok := byN[m.Name]
		if !ok {
			t.Errorf("registered message %s (%v) has no sample in samples_test.go", m.Name, m.Type)
			continue
		}
		if got := reflect.TypeOf(s.value); got != m.Type {
			t.Errorf("sample %s is a %v, registry says %v", m.Name, got, m.Type)
		}
	}
	if len(byN) != len(Messages()) {
		t.Errorf("%d samples for %d registered messages", len(byN), len(Messages()))
	}
}

// TestSamplesFilled makes sure a golden file exercises every field: a zero
// field would be omitted or encoded as its zero and hide an encoding change.
func TestSamplesFilled(t *testing.T) {
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			for _, p := range zeroFields(reflect.ValueOf(s.value), s.name) {
				t.Errorf("%s is zero", p)
			}
		})
	}
}

func zeroFields(v reflect.Value, path string) []string {
	if v.IsZero() {
		return []string{path}
	}
	var out []string
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			out = append(out, zeroFields(v.Field(i), path+"."+v.Type().Field(i).Name)...)
		}
	case reflect.Slice:
		if v.Len() == 0 {
			return []string{path + " (empty)"}
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			out = append(out, zeroFields(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}
