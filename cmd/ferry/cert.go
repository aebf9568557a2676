package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/ferrybackup/ferry/agents/pki"
	"github.com/spf13/cobra"
)

// certNewOptions are the flags of `ferry cert new`.
type certNewOptions struct {
	ca    string
	name  string
	hosts []string
	out   string
	days  int
	force bool
}

// maxCertDays bounds --days well below time.Duration's range.
const maxCertDays = 36500

func newCertCommand(_ *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Work with the bus servers' TLS certificates, signed by the deployment's CA",
		Long: `A bus server (the director's embedded NATS server, or a node of an external NATS deployment)
presents a certificate for the names and addresses agents dial it at; agents verify it against
the CA's ca.crt (their ca_file). Certificates from any other CA work as well.`,
	}
	cmd.AddCommand(newCertNewCommand())
	return cmd
}

func newCertNewCommand() *cobra.Command {
	o := &certNewOptions{}
	cmd := &cobra.Command{
		Use:   "new --ca DIR --name NAME --host H[,H...] --out PREFIX [--days N] [--force]",
		Short: "Issue a server certificate: write PREFIX.crt and PREFIX.key (mode 0600), signed by the CA in DIR",
		Example: `  ferry cert new --ca /etc/ferry/ca --name director --host director.example.com,10.0.0.5 \
    --out /etc/ferry/tls/director
  ferry cert new --ca /etc/ferry/ca --name na --host na.example.com --out /etc/nats/na --days 365`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCertNew(cmd.OutOrStdout(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.ca, "ca", "", "the folder `DIR` of the CA that signs, made by ferry ca new (required)")
	f.StringVar(&o.name, "name", "", "the certificate's common `NAME`, such as the server's name (required)")
	f.StringSliceVar(&o.hosts, "host", nil, "a DNS name or IP address `H` agents dial the server at; repeat or separate with commas (required)")
	f.StringVar(&o.out, "out", "", "write `PREFIX`.crt and PREFIX.key (required)")
	f.IntVar(&o.days, "days", 0, "the certificate is valid for `N` days (0: two years)")
	f.BoolVar(&o.force, "force", false, "replace PREFIX.crt and PREFIX.key if they exist")
	return cmd
}

func runCertNew(w io.Writer, o *certNewOptions) error {
	hosts, err := o.check()
	if err != nil {
		return err
	}
	ca, err := pki.LoadCA(o.ca)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.Issue(o.name, hosts, time.Duration(o.days)*24*time.Hour)
	if err != nil {
		var he *pki.HostError
		if errors.As(err, &he) {
			return &usageError{msg: "--host: " + he.Error()}
		}
		return err
	}
	if err := pki.SaveCert(o.out, certPEM, keyPEM, o.force); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: pass --force to replace it", err)
		}
		return err
	}
	b, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "certificate: %s.crt\nkey: %s.key (secret, mode 0600)\nnames: %s\nexpires: %s\n",
		o.out, o.out, strings.Join(sans(cert), ", "), cert.NotAfter.UTC().Format(time.DateTime+" MST"))
	return err
}

// check reports the first usage error and returns the hosts, trimmed.
func (o *certNewOptions) check() ([]string, error) {
	switch {
	case o.ca == "":
		return nil, &usageError{msg: "--ca DIR is required: the folder of the CA that signs (`ferry ca new`)"}
	case strings.TrimSpace(o.name) == "":
		return nil, &usageError{msg: "--name NAME is required: the certificate's common name, such as the server's name"}
	case len(o.hosts) == 0:
		return nil, &usageError{msg: "--host H[,H...] is required: the DNS names and IP addresses agents dial the server at"}
	case o.out == "":
		return nil, &usageError{msg: "--out PREFIX is required: the certificate goes to PREFIX.crt, its key to PREFIX.key"}
	case o.out == "-":
		return nil, &usageError{msg: "--out -: the key is a secret and never goes to standard output; name a file prefix"}
	case o.days < 0 || o.days > maxCertDays:
		return nil, &usageError{msg: fmt.Sprintf("--days %d: give 1 to %d days, or 0 for two years", o.days, maxCertDays)}
	}
	hosts := make([]string, len(o.hosts))
	for i, h := range o.hosts {
		hosts[i] = strings.TrimSpace(h)
	}
	return hosts, nil
}

// sans are a certificate's DNS names and IP addresses.
func sans(c *x509.Certificate) []string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}
