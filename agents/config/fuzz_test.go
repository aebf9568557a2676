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
