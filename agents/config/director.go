package config

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

var (
	directorSchema = attrSchema("nats_listen", "nats_url", "data_dir", "catalog",
		"events_max_age", "events_max_bytes", "connect_timeout", "job_timeout", "data_keepalive",
		"identity_file", "tls_cert_file", "tls_key_file", "ca_file", "insecure", "enrolment")
	clientSchema  = attrSchema("address", "data_port", "passive", "max_wait", "leaf_port", "leaf_password_file", "key")
	storageSchema = attrSchema("address", "data_port", "key")
	consoleSchema = attrSchema("key")
	filesetSchema = attrSchema("include", "exclude", "one_file_system", "compression")
	jobSchema     = attrSchema("client", "fileset", "storage", "level", "max_run_time", "no_progress_timeout", "max_bandwidth")
)

// director decodes a director file, defaults applied.
func (f *file) director() (*Director, *dirPos) {
	d, p := f.directorBlock()
	for _, b := range f.blocks {
		switch b.Type {
		case "client":
			c, bp := f.client(b)
			d.Clients, p.clients = append(d.Clients, c), append(p.clients, bp)
		case "console":
			c, bp := f.console(b)
			d.Consoles, p.consoles = append(d.Consoles, c), append(p.consoles, bp)
		case "storage":
			s, bp := f.storage(b)
			d.Storages, p.storages = append(d.Storages, s), append(p.storages, bp)
		case "fileset":
			fs, bp := f.fileset(b)
			d.FileSets, p.filesets = append(d.FileSets, fs), append(p.filesets, bp)
		case "job":
			j, bp := f.job(b)
			d.Jobs, p.jobs = append(d.Jobs, j), append(p.jobs, bp)
		}
	}
	return d, p
}

func (f *file) directorBlock() (*Director, *dirPos) {
	b := f.d.open(f.main, directorSchema)
	d := &Director{
		Name:           f.main.Labels[0],
		NATSListen:     DefaultNATSListen,
		EventsMaxAge:   DefaultEventsMaxAge,
		EventsMaxBytes: DefaultEventsMaxBytes,
		ConnectTimeout: DefaultConnectTimeout,
		DataKeepalive:  DefaultDataKeepalive,
		Enrolment:      true,
	}
	value(b, "nats_listen", &d.NATSListen)
	value(b, "nats_url", &d.NATSURL)
	b.path("data_dir", &d.DataDir)
	b.catalog(&d.Catalog, d.DataDir)
	b.duration("events_max_age", &d.EventsMaxAge)
	b.size("events_max_bytes", &d.EventsMaxBytes)
	b.duration("connect_timeout", &d.ConnectTimeout)
	b.duration("job_timeout", &d.JobTimeout)
	b.duration("data_keepalive", &d.DataKeepalive)
	b.path("identity_file", &d.IdentityFile)
	b.path("tls_cert_file", &d.TLSCertFile)
	b.path("tls_key_file", &d.TLSKeyFile)
	b.path("ca_file", &d.CAFile)
	value(b, "insecure", &d.Insecure)
	value(b, "enrolment", &d.Enrolment)
	return d, &dirPos{director: b.pos}
}

// catalog decodes the catalog location: a URL as written, a file path
// cleaned, and by default catalog.db inside the data directory.
func (b *block) catalog(dst *string, dataDir string) {
	value(b, "catalog", dst)
	switch {
	case *dst == "" && dataDir != "":
		*dst = filepath.Join(dataDir, DefaultCatalogFile)
	case *dst != "" && !strings.Contains(*dst, "://"):
		*dst = filepath.Clean(*dst)
	}
}

func (f *file) client(hb *hcl.Block) (Client, *blockPos) {
	b := f.d.open(hb, clientSchema)
	c := Client{Name: hb.Labels[0], DataPort: DefaultClientDataPort, LeafPort: DefaultLeafPort}
	value(b, "address", &c.Address)
	value(b, "data_port", &c.DataPort)
	value(b, "passive", &c.Passive)
	b.duration("max_wait", &c.MaxWait)
	value(b, "leaf_port", &c.LeafPort)
	b.path("leaf_password_file", &c.LeafPasswordFile)
	value(b, "key", &c.Key)
	return c, b.pos
}

func (f *file) console(hb *hcl.Block) (Console, *blockPos) {
	b := f.d.open(hb, consoleSchema)
	c := Console{Name: hb.Labels[0]}
	value(b, "key", &c.Key)
	return c, b.pos
}

func (f *file) storage(hb *hcl.Block) (Storage, *blockPos) {
	b := f.d.open(hb, storageSchema)
	s := Storage{Name: hb.Labels[0], DataPort: DefaultStorageDataPort}
	value(b, "address", &s.Address)
	value(b, "data_port", &s.DataPort)
	value(b, "key", &s.Key)
	return s, b.pos
}

func (f *file) fileset(hb *hcl.Block) (FileSet, *blockPos) {
	b := f.d.open(hb, filesetSchema)
	fs := FileSet{Name: hb.Labels[0], OneFileSystem: DefaultOneFileSystem}
	if b.list("include", &fs.Include) {
		cleanPaths(fs.Include)
	}
	b.list("exclude", &fs.Exclude)
	value(b, "one_file_system", &fs.OneFileSystem)
	value(b, "compression", &fs.Compression)
	if fs.Compression == "" {
		fs.Compression = CompressionNone
	}
	return fs, b.pos
}

// cleanPaths cleans each non-empty path in place; the paths are the file
// daemon's, so slash-separated whatever the director runs on.
func cleanPaths(ps []string) {
	for i, p := range ps {
		if p != "" {
			ps[i] = path.Clean(p)
		}
	}
}

func (f *file) job(hb *hcl.Block) (Job, *blockPos) {
	b := f.d.open(hb, jobSchema)
	j := Job{Name: hb.Labels[0], Level: DefaultLevel, NoProgressTimeout: DefaultNoProgressTimeout}
	value(b, "client", &j.Client)
	value(b, "fileset", &j.FileSet)
	value(b, "storage", &j.Storage)
	value(b, "level", &j.Level)
	b.duration("max_run_time", &j.MaxRunTime)
	b.duration("no_progress_timeout", &j.NoProgressTimeout)
	b.size("max_bandwidth", &j.MaxBandwidth)
	return j, b.pos
}
