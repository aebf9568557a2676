package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/spf13/cobra"
)

// keyNewOptions are the flags of `ferry key new`.
type keyNewOptions struct {
	out   string
	force bool
}

func newKeyCommand(_ *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Work with agent identities: the key a daemon authenticates to the bus and its peers with",
		Long: `An agent identity is an ed25519 key: a NATS user nkey (public key "U...") and the key of the
agent's self-signed TLS certificate. The seed file holds the secret half, one line, mode 0600;
the public key is what the director's configuration and peers know the agent by.`,
	}
	cmd.AddCommand(newKeyNewCommand(), newKeyShowCommand())
	return cmd
}

func newKeyNewCommand() *cobra.Command {
	o := &keyNewOptions{}
	cmd := &cobra.Command{
		Use:   "new --out FILE [--force]",
		Short: "Make a new identity, write its seed to FILE (mode 0600) and print its public key",
		Example: `  ferry key new --out /etc/ferry/fd.nkey
  ferry key new --out /etc/ferry/fd.nkey --force   # replace an existing key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runKeyNew(cmd.OutOrStdout(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "seed file to write (required; never standard output)")
	f.BoolVar(&o.force, "force", false, "replace FILE if it exists: the old identity is lost")
	return cmd
}

func runKeyNew(w io.Writer, o *keyNewOptions) error {
	switch o.out {
	case "":
		return &usageError{msg: "--out FILE is required: the file that keeps the new seed"}
	case "-":
		return &usageError{msg: "--out -: the seed is a secret and never goes to standard output; name a file"}
	}
	id, err := identity.New()
	if err != nil {
		return err
	}
	if err := id.Save(o.out, o.force); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: pass --force to replace it (the old identity is lost)", err)
		}
		return err
	}
	_, err = fmt.Fprintln(w, id.PublicKey())
	return err
}

func newKeyShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show FILE",
		Short: "Print the public key of the identity whose seed FILE holds",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return runKeyShow(cmd.OutOrStdout(), args[0]) },
	}
}

func runKeyShow(w io.Writer, path string) error {
	id, err := identity.Load(path)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, id.PublicKey())
	return err
}
