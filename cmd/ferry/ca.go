package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ferrybackup/ferry/agents/pki"
	"github.com/spf13/cobra"
)

// caNewOptions are the flags of `ferry ca new`.
type caNewOptions struct {
	out   string
	name  string
	force bool
}

func newCACommand(_ *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Work with the deployment's certificate authority, which signs the bus servers' certificates",
		Long: `The CA is a folder with ca.crt, the certificate agents verify the NATS servers with (their
ca_file), and ca.key, mode 0600, the key that signs server certificates (` + "`ferry cert new`" + `).
Keep the folder on the host where certificates are made; only ca.crt goes to the agents.
Operators with a CA of their own need none of this: point ca_file at that CA's certificate.`,
	}
	cmd.AddCommand(newCANewCommand())
	return cmd
}

func newCANewCommand() *cobra.Command {
	o := &caNewOptions{}
	cmd := &cobra.Command{
		Use:   "new --out DIR [--name NAME] [--force]",
		Short: "Make a new CA in DIR (ca.crt, and ca.key mode 0600) and print its certificate's SHA-256 fingerprint",
		Example: `  ferry ca new --out /etc/ferry/ca --name prod
  ferry ca new --out /etc/ferry/ca --force   # replace an existing CA`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCANew(cmd.OutOrStdout(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "the folder `DIR` to write ca.crt and ca.key to (required; made, mode 0700, if missing)")
	f.StringVar(&o.name, "name", "", "the CA is named \"Ferry CA `NAME`\" (default: this host's name)")
	f.BoolVar(&o.force, "force", false, "replace a CA in DIR: certificates the old one issued no longer verify")
	return cmd
}

func runCANew(w io.Writer, o *caNewOptions) error {
	switch o.out {
	case "":
		return &usageError{msg: "--out DIR is required: the folder that keeps the new CA"}
	case "-":
		return &usageError{msg: "--out -: the CA key is a secret and never goes to standard output; name a folder"}
	}
	name := o.name
	if name == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "deployment"
		}
		name = host
	}
	ca, err := pki.NewCA(name)
	if err != nil {
		return &usageError{msg: "--name: " + err.Error()}
	}
	if err := ca.Save(o.out, o.force); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: pass --force to replace the CA (certificates it issued stop verifying)", err)
		}
		return err
	}
	_, err = fmt.Fprintf(w, "certificate: %s\nsha256: %s\nkey: %s (secret, mode 0600)\n",
		filepath.Join(o.out, pki.CACertFile), pki.Fingerprint(ca.Certificate()), filepath.Join(o.out, pki.CAKeyFile))
	return err
}
