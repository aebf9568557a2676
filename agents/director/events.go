package director

import (
	"context"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
)

// publishPatience is how long publish keeps retrying while the bus is away
// (a restarting NATS server): automation hooks rely on every event.
const publishPatience = time.Minute

// publish stores a lifecycle event of job j in the event stream. This is
// where every job event leaves the director. It retries while the bus is
// unreachable; a failure after that is logged, never fatal to the job: the
// catalog is the record.
func (d *Director) publish(j catalog.Job, event string, fill func(*schemas.JobEvent)) {
	ev := schemas.JobEvent{
		JobID: j.ID, Event: event, Time: d.now().UnixNano(), Name: j.Name, Kind: string(j.Kind),
		Client: j.Client, Storage: j.Storage,
	}
	if fill != nil {
		fill(&ev)
	}
	deadline := time.Now().Add(publishPatience)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := bus.PublishEvent(ctx, d.bus, ev)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			d.log.Error("job event not published", "job", j.ID, "event", event, "err", err)
			return
		}
		d.log.Warn("job event not published yet, retrying", "job", j.ID, "event", event, "err", err)
		time.Sleep(wait)
	}
}
