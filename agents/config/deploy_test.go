package config

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// deploySecretsDir is where the samples keep their secret files.
const deploySecretsDir = "/etc/ferry/secrets/"

var deploySecretRE = regexp.MustCompile(regexp.QuoteMeta(deploySecretsDir) + `[^"\s]+`)

// deployCopy copies every sample in deploy/ into a temp dir, with the
// secrets directory rewritten to a temp secrets dir, where it creates each
// secret file a sample refers to, mode 0600. It returns the copies' paths by
// base name and the secrets dir.
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
			if err := os.WriteFile(path, []byte("sample-secret\n"), 0o600); err != nil {
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

// TestDeploySamples checks every sample in deploy/ and its kind, and reads
// every secret file it refers to.
func TestDeploySamples(t *testing.T) {
	samples, secrets := deployCopy(t)
	kinds := map[string]Kind{
		"director.hcl":   KindDirector,
		"sd.hcl":         KindStorageDaemon,
		"fd-passive.hcl": KindFileDaemon,
		"fd-active.hcl":  KindFileDaemon,
	}
	if len(samples) < len(kinds) {
		t.Fatalf("found %d samples %v, want at least %d", len(samples), samples, len(kinds))
	}
	for base, f := range samples {
		t.Run(base, func(t *testing.T) {
			kind, err := Check(f)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if want, ok := kinds[base]; ok && kind != want {
				t.Errorf("kind = %q, want %q", kind, want)
			}
			for _, path := range sampleSecrets(t, kind, f) {
				if rel, err := filepath.Rel(secrets, path); err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("secret file %s is outside %s", path, deploySecretsDir)
				}
				if s, err := ReadSecret(path); err != nil || s != "sample-secret" {
					t.Errorf("ReadSecret(%s) = %q, %v", path, s, err)
				}
			}
		})
	}
}

// sampleSecrets is every secret file path a valid sample of kind sets.
func sampleSecrets(t *testing.T, kind Kind, path string) []string {
	t.Helper()
	var paths []string
	switch kind {
	case KindDirector:
		d, err := LoadDirector(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Clients {
			paths = append(paths, c.LeafPasswordFile)
		}
	case KindFileDaemon:
		fd, err := LoadFileDaemon(path)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, fd.LeafPasswordFile)
	}
	var set []string
	for _, p := range paths {
		if p != "" {
			set = append(set, p)
		}
	}
	return set
}

// TestDeployDirector checks the sample director matches the sample daemons.
func TestDeployDirector(t *testing.T) {
	samples, _ := deployCopy(t)
	d, err := LoadDirector(samples["director.hcl"])
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Clients) != 2 || len(d.Storages) != 1 || len(d.FileSets) != 2 || len(d.Jobs) != 2 {
		t.Errorf("director has %d clients, %d storages, %d filesets, %d jobs; want 2, 1, 2, 2",
			len(d.Clients), len(d.Storages), len(d.FileSets), len(d.Jobs))
	}
	for file, passive := range map[string]bool{"fd-passive.hcl": true, "fd-active.hcl": false} {
		fd, err := LoadFileDaemon(samples[file])
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
	sd, err := LoadStorageDaemon(samples["sd.hcl"])
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Storage(sd.Name); !ok {
		t.Errorf("sd.hcl names storage %q, which director.hcl lacks", sd.Name)
	}
}
