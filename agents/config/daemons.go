package config

var (
	storageDaemonSchema = attrSchema("nats_url", "data_listen", "volume_dir", "volume_max_bytes", "identity_file", "ca_file", "insecure")
	fileDaemonSchema    = attrSchema("nats_url", "data_listen", "passive", "leaf_listen", "leaf_password_file",
		"leaf_cert_file", "leaf_key_file", "identity_file", "ca_file", "insecure")
)

// storageDaemon decodes a storage daemon file, defaults applied.
func (f *file) storageDaemon() (*StorageDaemon, *blockPos) {
	b := f.d.open(f.main, storageDaemonSchema)
	s := &StorageDaemon{
		Name:           f.main.Labels[0],
		DataListen:     DefaultSDDataListen,
		VolumeMaxBytes: DefaultVolumeMaxBytes,
	}
	value(b, "nats_url", &s.NATSURL)
	value(b, "data_listen", &s.DataListen)
	b.path("volume_dir", &s.VolumeDir)
	b.size("volume_max_bytes", &s.VolumeMaxBytes)
	b.security(&s.Security)
	return s, b.pos
}

// fileDaemon decodes a file daemon file, defaults applied.
func (f *file) fileDaemon() (*FileDaemon, *blockPos) {
	b := f.d.open(f.main, fileDaemonSchema)
	fd := &FileDaemon{Name: f.main.Labels[0], DataListen: DefaultFDDataListen, LeafListen: DefaultFDLeafListen}
	value(b, "nats_url", &fd.NATSURL)
	value(b, "data_listen", &fd.DataListen)
	value(b, "passive", &fd.Passive)
	value(b, "leaf_listen", &fd.LeafListen)
	b.path("leaf_password_file", &fd.LeafPasswordFile)
	b.path("leaf_cert_file", &fd.LeafCertFile)
	b.path("leaf_key_file", &fd.LeafKeyFile)
	b.security(&fd.Security)
	return fd, b.pos
}

func (b *block) security(s *Security) {
	b.path("identity_file", &s.IdentityFile)
	b.path("ca_file", &s.CAFile)
	value(b, "insecure", &s.Insecure)
}
