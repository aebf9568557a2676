// An external test package: agents/identity, which writes the samples'
// identity seeds, imports config.
package config_test

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/agents/identity"
)

// deploySecretsDir is where the samples keep their secret files, and
// deployTLSDir their certificates (public, so not rewritten).
const (
	deploySecretsDir = "/etc/ferry/secrets/"
	deployTLSDir     = "/etc/ferry/tls/"
)

// deploySeedExt names the secret files that hold identity seeds: a daemon
// parses them, so the copies hold real seeds.
const deploySeedExt = ".nkey"

var deploySecretRE = regexp.MustCompile(regexp.QuoteMeta(deploySecretsDir) + `[^"\s]+`)

// deployCopy copies every sample in deploy/ into a temp dir, with the
// secrets directory rewritten to a temp secrets dir, where it creates each
// secret file a sample refers to, mode 0600: a fresh identity seed
// (identity.New().Save) for each *.nkey, "sample-secret" for the others. It
// returns the copies' paths by base name and the secrets dir.
func deployCopy(t *testing.T) (samples map[string]string, secrets string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secrets = filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	prefix := filepath.ToSlash(secrets) + "/"
	samples = map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range deploySecretRE.FindAllString(string(src), -1) {
			path := filepath.Join(secrets, filepath.FromSlash(strings.TrimPrefix(ref, deploySecretsDir)))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(path, deploySeedExt) {
				id, err := identity.New()
				if err != nil {
					t.Fatal(err)
				}
				if err := id.Save(path, true); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, []byte("sample-secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		out := strings.ReplaceAll(string(src), deploySecretsDir, prefix)
		copied := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(copied, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		samples[filepath.Base(f)] = copied
	}
	return samples, secrets
}

// TestDeploySamples checks every sample in deploy/ and its kind, that it is
// secure (an identity, and for the director the embedded server's
// certificate) unless it says insecure = true, and reads every secret file
// it refers to: identities are parsed as seeds, other secrets read as
// secrets.
func TestDeploySamples(t *testing.T) {
	samples, secrets := deployCopy(t)
	kinds := map[string]config.Kind{
		"director.hcl":   config.KindDirector,
		"sd.hcl":         config.KindStorageDaemon,
		"fd-passive.hcl": config.KindFileDaemon,
		"fd-active.hcl":  config.KindFileDaemon,
	}
	if len(samples) < len(kinds) {
		t.Fatalf("found %d samples %v, want at least %d", len(samples), samples, len(kinds))
	}
	for base, f := range samples {
		t.Run(base, func(t *testing.T) {
			kind, err := config.Check(f)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if want, ok := kinds[base]; ok && kind != want {
				t.Errorf("kind = %q, want %q", kind, want)
			}
			s := sampleSecurity(t, kind, f)
			if s.insecure {
				return
			}
			if s.problems != nil {
				t.Errorf("not secure: %v", s.problems)
			}
			inSecrets := func(key, path string) {
				if rel, err := filepath.Rel(secrets, path); err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("%s %s is outside %s", key, path, deploySecretsDir)
				}
			}
			for _, path := range s.secrets {
				inSecrets("secret file", path)
				if v, err := config.ReadSecret(path); err != nil || v != "sample-secret" {
					t.Errorf("ReadSecret(%s) = %q, %v", path, v, err)
				}
			}
			if s.identity == "" {
				t.Errorf("identity_file is not set")
			} else {
				inSecrets("identity_file", s.identity)
				if !strings.HasSuffix(s.identity, deploySeedExt) {
					t.Errorf("identity_file %s: want a name ending in %s", s.identity, deploySeedExt)
				}
				if _, err := identity.Load(s.identity); err != nil {
					t.Errorf("identity_file: %v", err)
				}
			}
			for key, path := range s.certs {
				if path == "" {
					t.Errorf("%s is not set", key)
				} else if !strings.HasPrefix(path, deployTLSDir) {
					t.Errorf("%s %s is outside %s", key, path, deployTLSDir)
				}
			}
			for key, path := range s.certKeys {
				if path == "" {
					t.Errorf("%s is not set", key)
					continue
				}
				inSecrets(key, path)
				if fi, err := os.Stat(path); err != nil {
					t.Errorf("%s: %v", key, err)
				} else if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s %s has mode %v, want 0600", key, path, fi.Mode().Perm())
				}
			}
		})
	}
}

// deploySecurity is what a valid sample sets for security.
type deploySecurity struct {
	insecure bool
	problems error             // SecurityProblems
	identity string            // identity_file
	secrets  []string          // other secret files (leaf_password_file)
	certs    map[string]string // certificates and CAs it must set, by key
	certKeys map[string]string // certificate keys it must set, by key
}

// sampleSecurity loads a valid sample of kind and returns its security
// settings and secret files.
func sampleSecurity(t *testing.T, kind config.Kind, path string) deploySecurity {
	t.Helper()
	var s deploySecurity
	var paths []string
	switch kind {
	case config.KindDirector:
		d, err := config.LoadDirector(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Clients {
			paths = append(paths, c.LeafPasswordFile)
		}
		s.insecure, s.problems, s.identity = d.Insecure, d.SecurityProblems(), d.IdentityFile
		if d.NATSURL == "" {
			s.certs = map[string]string{"tls_cert_file": d.TLSCertFile}
			s.certKeys = map[string]string{"tls_key_file": d.TLSKeyFile}
		} else {
			s.certs = map[string]string{"ca_file": d.CAFile}
		}
	case config.KindStorageDaemon:
		sd, err := config.LoadStorageDaemon(path)
		if err != nil {
			t.Fatal(err)
		}
		s.insecure, s.problems, s.identity = sd.Insecure, sd.SecurityProblems(kind, sd.Name), sd.IdentityFile
		s.certs = map[string]string{"ca_file": sd.CAFile}
	case config.KindFileDaemon:
		fd, err := config.LoadFileDaemon(path)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, fd.LeafPasswordFile)
		s.insecure, s.problems, s.identity = fd.Insecure, fd.SecurityProblems(kind, fd.Name), fd.IdentityFile
		if !fd.Passive { // a passive fd dials nothing: no CA to check
			s.certs = map[string]string{"ca_file": fd.CAFile}
		}
	}
	for _, p := range paths {
		if p != "" {
			s.secrets = append(s.secrets, p)
		}
	}
	return s
}

// TestDeployDirector checks the sample director matches the sample daemons.
func TestDeployDirector(t *testing.T) {
	samples, _ := deployCopy(t)
	d, err := config.LoadDirector(samples["director.hcl"])
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Clients) != 2 || len(d.Storages) != 1 || len(d.FileSets) != 2 || len(d.Jobs) != 2 {
		t.Errorf("director has %d clients, %d storages, %d filesets, %d jobs; want 2, 1, 2, 2",
			len(d.Clients), len(d.Storages), len(d.FileSets), len(d.Jobs))
	}
	if len(d.Consoles) == 0 {
		t.Errorf("director has no console block: a secure director obeys only the consoles it names")
	}
	for file, passive := range map[string]bool{"fd-passive.hcl": true, "fd-active.hcl": false} {
		fd, err := config.LoadFileDaemon(samples[file])
		if err != nil {
			t.Fatal(err)
		}
		c, ok := d.Client(fd.Name)
		if !ok || c.Passive != passive || fd.Passive != passive {
			t.Errorf("%s: client %q = %+v, %v; want passive=%v on both sides", file, fd.Name, c, ok, passive)
			continue
		}
		if !passive {
			continue
		}
		if fd.NATSURL != "" {
			t.Errorf("%s: a passive file daemon has nats_url %q", file, fd.NATSURL)
		}
		if c.LeafPasswordFile != fd.LeafPasswordFile {
			t.Errorf("%s: leaf_password_file %q, but the director's client %q has %q; want the same secret",
				file, fd.LeafPasswordFile, c.Name, c.LeafPasswordFile)
		}
		if _, port, err := net.SplitHostPort(fd.LeafListen); err != nil || port != strconv.Itoa(c.LeafPort) {
			t.Errorf("%s: leaf_listen %q, but the director's client %q dials leaf_port %d",
				file, fd.LeafListen, c.Name, c.LeafPort)
		}
		if _, port, err := net.SplitHostPort(fd.DataListen); err != nil || port != strconv.Itoa(c.DataPort) {
			t.Errorf("%s: data_listen %q, but the director's client %q has data_port %d",
				file, fd.DataListen, c.Name, c.DataPort)
		}
	}
	sd, err := config.LoadStorageDaemon(samples["sd.hcl"])
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Storage(sd.Name); !ok {
		t.Errorf("sd.hcl names storage %q, which director.hcl lacks", sd.Name)
	}
}
