package config

import "testing"

func FuzzParseDirector(f *testing.F) {
	f.Add([]byte(goodDirector))
	f.Add([]byte(dirRes))
	f.Add([]byte(`storage_daemon "s" { volume_dir = "/v" }`))
	f.Add([]byte(`director "d" { data_dir = "/d" }` + "\n" + `fileset "f" { include = ["/", 1, null] exclude = ["["] }`))
	f.Add([]byte(`client "web.example.com" { address = "${x}:1" data_port = 1e99 }`))
	f.Add([]byte(`director "d" {`))
	f.Add([]byte(`job "j" { client = ["a"] level = { x = 1 } }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := ParseDirector("fuzz.hcl", src)
		if (d == nil) == (err == nil) {
			t.Fatalf("ParseDirector returned director %v and error %v", d, err)
		}
		if d != nil {
			if err := d.Validate(); err != nil {
				t.Fatalf("parsed director fails Validate: %v", err)
			}
		}
		if err != nil {
			_ = err.Error()
		}
	})
}

func FuzzParseStorageDaemon(f *testing.F) {
	f.Add([]byte(`storage_daemon "s" { nats_url = "tls://10.0.0.1:4222" volume_dir = "/v" identity_file = "/k" }`))
	f.Add([]byte(`storage_daemon "s" { volume_max_bytes = "1x" insecure = 3 }`))
	f.Add([]byte(`storage_daemon "a.b" {`))
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := ParseStorageDaemon("fuzz.hcl", src)
		if (s == nil) == (err == nil) {
			t.Fatalf("ParseStorageDaemon returned %v and error %v", s, err)
		}
		if s != nil {
			if err := s.Validate(); err != nil {
				t.Fatalf("parsed storage daemon fails Validate: %v", err)
			}
		}
	})
}

func FuzzParseFileDaemon(f *testing.F) {
	f.Add([]byte(`file_daemon "c" { passive = true leaf_password_file = "/s" identity_file = "/k" leaf_cert_file = "/c" }`))
	f.Add([]byte(`file_daemon "c" { nats_url = "nats://x:1" passive = false ca_file = 1 }`))
	f.Add([]byte(`file_daemon "c" { leaf_listen = ":99999" }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := ParseFileDaemon("fuzz.hcl", src)
		if (d == nil) == (err == nil) {
			t.Fatalf("ParseFileDaemon returned %v and error %v", d, err)
		}
		if d != nil {
			if err := d.Validate(); err != nil {
				t.Fatalf("parsed file daemon fails Validate: %v", err)
			}
		}
	})
}
