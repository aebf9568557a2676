package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Validate checks a Director, such as one built in code, reporting every
// problem; positions are unknown, so problems carry only keys.
func (d *Director) Validate() error { return validateDirector(d, nil).err() }

// Validate checks a StorageDaemon, reporting every problem.
func (s *StorageDaemon) Validate() error { return validateStorageDaemon(s, nil).err() }

// Validate checks a FileDaemon, reporting every problem.
func (f *FileDaemon) Validate() error { return validateFileDaemon(f, nil).err() }

// checker gathers problems; p *blockPos arguments may be nil.
type checker struct{ probs Problems }

func (c *checker) add(p *blockPos, key, attr, msg string) {
	if p.reported(attr) {
		return
	}
	pr := Problem{Key: joinKey(key, attr), Msg: msg}
	if r, ok := p.at(attr); ok {
		pr = problemAt(r, pr.Key, msg)
	}
	c.probs = append(c.probs, pr)
}

func (c *checker) check(p *blockPos, key, attr string, err error) {
	if err != nil {
		c.add(p, key, attr, err.Error())
	}
}

func validateDirector(d *Director, p *dirPos) Problems {
	var c checker
	c.director(d, p.main())
	for i, cl := range d.Clients {
		c.client(cl, p.client(i))
	}
	for i, s := range d.Storages {
		c.storage(s, p.storage(i))
	}
	for i, cn := range d.Consoles {
		c.console(cn, p.console(i))
	}
	for i, fs := range d.FileSets {
		c.fileset(fs, p.fileset(i))
	}
	for i, j := range d.Jobs {
		c.job(j, p.job(i), d)
	}
	c.duplicates(d, p)
	return c.probs
}

func (c *checker) director(d *Director, p *blockPos) {
	k := blockKey("director", d.Name)
	c.check(p, k, "", ValidName(d.Name))
	c.check(p, k, "nats_listen", checkListen(d.NATSListen))
	if d.NATSURL != "" {
		c.check(p, k, "nats_url", checkNATSURL(d.NATSURL))
	}
	c.check(p, k, "data_dir", required(d.DataDir, "the directory for the JetStream store and catalog"))
	c.check(p, k, "catalog", checkCatalog(d.Catalog))
	c.check(p, k, "events_max_age", checkNonNegative(d.EventsMaxAge))
	if d.EventsMaxBytes < 0 {
		c.add(p, k, "events_max_bytes", "size must not be negative")
	}
	c.check(p, k, "connect_timeout", checkNonNegative(d.ConnectTimeout))
	c.check(p, k, "job_timeout", checkNonNegative(d.JobTimeout))
	c.check(p, k, "data_keepalive", checkKeepalive(d.DataKeepalive))
	if (d.TLSCertFile == "") != (d.TLSKeyFile == "") {
		c.add(p, k, "tls_cert_file", "tls_cert_file and tls_key_file go together")
	}
}

func (c *checker) client(cl Client, p *blockPos) {
	k := blockKey("client", cl.Name)
	c.check(p, k, "", ValidName(cl.Name))
	c.check(p, k, "address", checkAddress(cl.Address))
	c.check(p, k, "data_port", checkPort(cl.DataPort))
	c.check(p, k, "max_wait", checkNonNegative(cl.MaxWait))
	if cl.Key != "" {
		c.check(p, k, "key", checkKey(cl.Key))
	}
	if cl.Passive {
		c.check(p, k, "leaf_port", checkPort(cl.LeafPort))
		if cl.LeafPasswordFile == "" {
			c.add(p, k, "leaf_password_file", "required when passive = true: the NATS side dials the client's leafnode port and proves itself with this password (the same file as the file daemon's leaf_password_file)")
		}
	}
}

func (c *checker) storage(s Storage, p *blockPos) {
	k := blockKey("storage", s.Name)
	c.check(p, k, "", ValidName(s.Name))
	c.check(p, k, "address", checkAddress(s.Address))
	c.check(p, k, "data_port", checkPort(s.DataPort))
	if s.Key != "" {
		c.check(p, k, "key", checkKey(s.Key))
	}
}

func (c *checker) console(cn Console, p *blockPos) {
	k := blockKey("console", cn.Name)
	c.check(p, k, "", ValidName(cn.Name))
	if cn.Key == "" {
		c.add(p, k, "key", "required: the console's public key, as `ferry key show` prints it")
	} else {
		c.check(p, k, "key", checkKey(cn.Key))
	}
}

func (c *checker) fileset(fs FileSet, p *blockPos) {
	k := blockKey("fileset", fs.Name)
	c.check(p, k, "", ValidName(fs.Name))
	if len(fs.Include) == 0 {
		c.add(p, k, "include", "required: at least one absolute path to back up")
	}
	for i, inc := range fs.Include {
		c.check(p, k, item("include", i), checkInclude(inc))
		if j := slices.Index(fs.Include[:i], inc); j >= 0 {
			c.add(p, k, item("include", i), fmt.Sprintf("%q is listed twice (also include[%d])", inc, j))
		}
	}
	for i, ex := range fs.Exclude {
		c.check(p, k, item("exclude", i), checkExclude(ex))
	}
	switch fs.Compression {
	case "", CompressionNone, CompressionZstd:
	default:
		c.add(p, k, "compression", fmt.Sprintf("%q is not a compression: use \"none\" or \"zstd\"", fs.Compression))
	}
}

func item(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }

func (c *checker) job(j Job, p *blockPos, d *Director) {
	k := blockKey("job", j.Name)
	c.check(p, k, "", ValidName(j.Name))
	c.reference(p, k, "client", j.Client, names(d.Clients, func(x Client) string { return x.Name }))
	c.reference(p, k, "fileset", j.FileSet, names(d.FileSets, func(x FileSet) string { return x.Name }))
	c.reference(p, k, "storage", j.Storage, names(d.Storages, func(x Storage) string { return x.Name }))
	c.check(p, k, "level", checkLevel(j.Level))
	c.check(p, k, "max_run_time", checkNonNegative(j.MaxRunTime))
	c.check(p, k, "no_progress_timeout", checkNonNegative(j.NoProgressTimeout))
	if j.MaxBandwidth < 0 {
		c.add(p, k, "max_bandwidth", "must not be negative")
	}
}

// reference checks that a job's attr names a defined resource of that type.
func (c *checker) reference(p *blockPos, key, attr, ref string, defined []string) {
	switch {
	case ref == "":
		c.add(p, key, attr, "required: the name of the "+attr+" this job uses")
	case !slices.Contains(defined, ref):
		c.add(p, key, attr, fmt.Sprintf("no %s named %q%s", attr, ref, listDefined(attr, defined)))
	}
}

// listDefined names the defined resources when there are few enough to read.
func listDefined(typ string, defined []string) string {
	defined = slices.Compact(slices.Sorted(slices.Values(defined)))
	switch {
	case len(defined) == 0:
		return "; no " + typ + " is defined"
	case len(defined) > 8:
		return fmt.Sprintf("; %d %ss are defined", len(defined), typ)
	}
	quoted := make([]string, len(defined))
	for i, n := range defined {
		quoted[i] = strconv.Quote(n)
	}
	return "; defined: " + strings.Join(quoted, ", ")
}

func names[T any](xs []T, nameOf func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = nameOf(x)
	}
	return out
}

func (c *checker) duplicates(d *Director, p *dirPos) {
	c.unique("client", names(d.Clients, func(x Client) string { return x.Name }), p.client)
	c.unique("storage", names(d.Storages, func(x Storage) string { return x.Name }), p.storage)
	c.unique("console", names(d.Consoles, func(x Console) string { return x.Name }), p.console)
	c.uniqueKeys(d, p)
	c.unique("fileset", names(d.FileSets, func(x FileSet) string { return x.Name }), p.fileset)
	c.unique("job", names(d.Jobs, func(x Job) string { return x.Name }), p.job)
}

// unique reports each repeated name, pointing back at its first definition.
func (c *checker) unique(typ string, ns []string, pos func(int) *blockPos) {
	first := map[string]int{}
	for i, n := range ns {
		j, dup := first[n]
		if !dup {
			first[n] = i
			continue
		}
		msg := fmt.Sprintf("duplicate %s name %q", typ, n)
		if r, ok := pos(j).at(""); ok {
			msg += fmt.Sprintf("; first defined at line %d", r.Start.Line)
		} else {
			msg += fmt.Sprintf("; first defined as %ss[%d]", typ, j)
		}
		c.add(pos(i), blockKey(typ, n), "", msg)
	}
}

func validateStorageDaemon(s *StorageDaemon, p *blockPos) Problems {
	var c checker
	k := blockKey(string(KindStorageDaemon), s.Name)
	c.check(p, k, "", ValidName(s.Name))
	if s.NATSURL == "" {
		c.add(p, k, "nats_url", "required: the director's NATS server, such as \"nats://10.0.0.1:4222\"")
	} else {
		c.check(p, k, "nats_url", checkNATSURL(s.NATSURL))
	}
	c.check(p, k, "data_listen", checkListen(s.DataListen))
	c.check(p, k, "volume_dir", checkAbsDir(s.VolumeDir))
	if s.VolumeMaxBytes <= 0 {
		c.add(p, k, "volume_max_bytes", "size must be positive")
	}
	return c.probs
}

func validateFileDaemon(f *FileDaemon, p *blockPos) Problems {
	var c checker
	k := blockKey(string(KindFileDaemon), f.Name)
	c.check(p, k, "", ValidName(f.Name))
	switch {
	case f.Passive && f.NATSURL != "":
		c.add(p, k, "nats_url", "must be empty when passive = true: a passive file daemon dials nothing, "+
			"not even NATS; the NATS side dials its leaf_listen")
	case f.NATSURL != "":
		c.check(p, k, "nats_url", checkNATSURL(f.NATSURL))
	case !f.Passive:
		c.add(p, k, "nats_url", "required when passive = false: an active file daemon "+
			"dials the director's NATS server, such as \"nats://10.0.0.1:4222\"")
	}
	c.check(p, k, "data_listen", checkListen(f.DataListen))
	if f.Passive {
		c.check(p, k, "leaf_listen", checkListen(f.LeafListen))
		if f.LeafPasswordFile == "" {
			c.add(p, k, "leaf_password_file", "required when passive = true: the NATS side must prove itself with this password before it gets a bus link")
		}
		if (f.LeafCertFile == "") != (f.LeafKeyFile == "") {
			c.add(p, k, "leaf_cert_file", "leaf_cert_file and leaf_key_file go together")
		}
	}
	return c.probs
}

// SecurityProblems reports what a director needs before it can start
// secure: its key, and the embedded server's certificate. Kept apart from
// Validate so that a file can be checked for shape alone; the daemon and
// `ferry config check` call both.
func (d *Director) SecurityProblems() error {
	if d.Insecure {
		return nil
	}
	var c checker
	k := blockKey("director", d.Name)
	c.check(nil, k, "identity_file", required(d.IdentityFile, "the director's key (`ferry key new --out FILE`), or insecure = true"))
	if d.NATSURL == "" {
		c.check(nil, k, "tls_cert_file", required(d.TLSCertFile, "the embedded NATS server's certificate (`ferry cert new`), or insecure = true"))
		c.check(nil, k, "tls_key_file", required(d.TLSKeyFile, "the embedded NATS server's certificate key (`ferry cert new`), or insecure = true"))
	}
	return c.probs.err()
}

// SecurityProblems reports what an agent needs before it can start
// secure: its key.
func (s Security) SecurityProblems(kind Kind, name string) error {
	if s.Insecure || s.IdentityFile != "" {
		return nil
	}
	var c checker
	c.add(nil, blockKey(string(kind), name), "identity_file", "required: the agent's key (`ferry key new --out FILE`), or insecure = true for plain text without keys")
	return c.probs.err()
}

// uniqueKeys: every identity belongs to one resource.
func (c *checker) uniqueKeys(d *Director, p *dirPos) {
	owner := map[string]string{}
	claim := func(key, who string, pos *blockPos, typ, name string) {
		if key == "" {
			return
		}
		if prev, dup := owner[key]; dup {
			c.add(pos, blockKey(typ, name), "key", fmt.Sprintf("the same key as %s: every agent and console needs its own identity", prev))
			return
		}
		owner[key] = who
	}
	for i, x := range d.Clients {
		claim(x.Key, "client "+x.Name, p.client(i), "client", x.Name)
	}
	for i, x := range d.Storages {
		claim(x.Key, "storage "+x.Name, p.storage(i), "storage", x.Name)
	}
	for i, x := range d.Consoles {
		claim(x.Key, "console "+x.Name, p.console(i), "console", x.Name)
	}
}
