package schemas

import (
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestZZProbeAlloc(t *testing.T) {
	// body: map{ "files": array32 len 0x0FFFFFFF }
	body := []byte{0x81, 0xa5, 'f', 'i', 'l', 'e', 's', 0xdd, 0x0f, 0xff, 0xff, 0xff}
	env, _ := msgpack.Marshal(&Envelope{Type: "file_chunk", Version: 1, Body: body})
	_, err := Decode[FileChunk](env)
	t.Log(err)
}

func TestZZProbeDepth(t *testing.T) {
	n := MaxMessageBytes - 100
	body := make([]byte, 0, n+20)
	body = append(body, 0x81, 0xa2, 'z', 'z')
	for len(body) < n {
		body = append(body, 0x91)
	}
	body = append(body, 0xc0)
	env, _ := msgpack.Marshal(&Envelope{Type: "ack", Version: 1, Body: body})
	t.Log(len(env))
	_, err := Decode[Ack](env)
	t.Log(err)
}
