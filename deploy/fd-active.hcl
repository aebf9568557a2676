# Ferry file daemon, active: /etc/ferry/fd.hcl on web1.
# An active file daemon dials the director's NATS server and the storage
# daemon's data socket itself, so it works from behind NAT or a firewall.

file_daemon "web1" {
  nats_url    = "tls://10.0.0.1:4222" # TLS either way; nats:// works too
  data_listen = "0.0.0.0:9102"
  passive     = false

  # Security: web1 signs in to the bus with its own key and checks the NATS
  # server's certificate against the deployment's CA. The same key is the one
  # its data sockets present to the storage daemon.
  #   ferry key new --out /etc/ferry/secrets/web1.nkey   # mode 0600, owned by root
  # The director names the printed public key in client "web1" { key = ... };
  # or leave it out there and enrol: web1 waits as pending until
  # `ferry agents accept web1`, then signs in again by itself.
  identity_file = "/etc/ferry/secrets/web1.nkey"
  ca_file       = "/etc/ferry/tls/ca.crt" # the CA's certificate (never its key); empty: the system's roots

  # WARNING: plain text and no key on this daemon's links, for a closed lab
  # only; the director must be insecure too.
  # insecure = true
}
