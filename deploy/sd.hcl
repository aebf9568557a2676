# Ferry storage daemon: /etc/ferry/sd.hcl
# The volume folder is configured here because only the storage daemon touches it.

storage_daemon "site1" {
  nats_url         = "tls://10.0.0.1:4222" # the director's NATS server (TLS either way; nats:// works too)
  data_listen      = "0.0.0.0:9103"        # active file daemons dial this
  volume_dir       = "/var/lib/ferry/volumes"
  volume_max_bytes = "50GiB" # a volume larger than this takes no new sessions

  # Security: the sd signs in to the bus with its own key and checks the NATS
  # server's certificate against the deployment's CA.
  #   ferry key new --out /etc/ferry/secrets/site1.nkey   # mode 0600, owned by ferry
  # The director names the printed public key in storage "site1" { key = ... };
  # or leave it out there and enrol: the sd waits as pending until
  # `ferry agents accept site1`.
  identity_file = "/etc/ferry/secrets/site1.nkey"
  ca_file       = "/etc/ferry/tls/ca.crt" # the CA's certificate (never its key); empty: the system's roots

  # WARNING: plain text and no key on this daemon's links, for a closed lab
  # only; the director must be insecure too.
  # insecure = true
}
