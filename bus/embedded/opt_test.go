package embedded_test

import "github.com/nats-io/nats.go"

type natsOption = nats.Option
