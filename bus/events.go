package bus

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nats.go/jetstream"
)

// EnsureEventStream creates or updates the job event stream with limits.
func EnsureEventStream(ctx context.Context, c *Conn, maxAge time.Duration, maxBytes int64) error {
	_, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        schemas.EventStreamName,
		Description: "Ferry job lifecycle events",
		Subjects:    []string{schemas.EventStreamMatch},
		MaxAge:      maxAge,
		MaxBytes:    maxBytes,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("event stream %s: %w", schemas.EventStreamName, err)
	}
	return nil
}

// PublishEvent stores ev in the event stream and waits for the ack.
func PublishEvent(ctx context.Context, c *Conn, ev schemas.JobEvent) error {
	subj, err := schemas.JobEvents.Subject(strconv.FormatInt(ev.JobID, 10), ev.Event)
	if err != nil {
		return err
	}
	data, err := schemas.Encode(ev)
	if err != nil {
		return err
	}
	if _, err := c.js.Publish(ctx, subj, data); err != nil {
		return fmt.Errorf("publish %s: %w", subj, err)
	}
	return nil
}

// WatchEvents streams stored and new events matching filter (a JobEvents
// subject, possibly with wildcards). fromStart replays what the stream holds;
// otherwise only new events come. The channel closes when ctx ends.
func WatchEvents(ctx context.Context, c *Conn, filter string, fromStart bool) (<-chan schemas.JobEvent, error) {
	policy := jetstream.DeliverNewPolicy
	if fromStart {
		policy = jetstream.DeliverAllPolicy
	}
	cons, err := c.js.OrderedConsumer(ctx, schemas.EventStreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  policy,
	})
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", filter, err)
	}
	out := make(chan schemas.JobEvent, 64)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		ev, err := schemas.Decode[schemas.JobEvent](m.Data())
		if err != nil {
			c.log.Warn("bad event dropped", "subject", m.Subject(), "err", err)
			return
		}
		select {
		case out <- ev:
		case <-ctx.Done():
		}
	})
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", filter, err)
	}
	go func() {
		<-ctx.Done()
		cc.Stop()
		close(out)
	}()
	return out, nil
}
