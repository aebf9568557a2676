# Ferry file daemon, passive: /etc/ferry/fd.hcl on db1.
# A passive file daemon dials nothing, not even NATS: everything reaches it.
#  - Bus link: it runs its own NATS server, with no client port and only a
#    leafnode listener (leaf_listen). The director's NATS side dials it there
#    at the Client resource's address:leaf_port, as user "db1" with the
#    password in leaf_password_file.
#  - Data socket: it listens on data_listen and the storage daemon dials it.
# Since it dials nothing, it needs no name resolution and no route out: only
# the two ports below must be open to the director and the storage daemon.
# The director must list it as client "db1" with passive = true, the same
# leaf port and the same secret.

file_daemon "db1" {
  passive     = true
  data_listen = "0.0.0.0:9102" # the storage daemon dials this
  leaf_listen = "0.0.0.0:7422" # the director's NATS side dials this

  # The leafnode password, alone in its own file, the same secret as the
  # director's leaf_password_file for client "db1". It is refused unless
  # only its owner may read it (chmod 600). No nats_url: a passive file
  # daemon must not have one.
  leaf_password_file = "/etc/ferry/secrets/db1-leaf.secret"

  # Security: db1's key. Its certificate is what the leafnode listener and the
  # data socket present; the director's NATS side pins its public key (client
  # "db1" { key = ... } in the director's file, or the key it finds on first
  # contact, once `ferry agents accept db1`). db1 dials nothing, so it needs no
  # ca_file.
  #   ferry key new --out /etc/ferry/secrets/db1.nkey   # mode 0600, owned by root
  identity_file = "/etc/ferry/secrets/db1.nkey"

  # WARNING: plain text and no key on this daemon's links, for a closed lab
  # only; the director must be insecure too.
  # insecure = true
}
