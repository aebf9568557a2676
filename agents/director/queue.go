package director

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/bus"
)

// waitAgents holds a job whose client or storage daemon is offline for up
// to the client's max_wait (default 0: no wait; the first command then
// fails at once with "offline"). The session key is minted only after both
// agents are present. The job row stays "created" while it waits, so a
// restarted director picks the job up again (see resume).
func (d *Director) waitAgents(rj *runningJob) error {
	wait := rj.client.MaxWait
	if wait <= 0 || d.bothOnline(rj) {
		return nil
	}
	d.note(rj.job.ID, catalog.LevelInfo, "waiting up to %s (max_wait of client %s) for %s", wait, rj.client.Name, d.absent(rj))
	deadline := time.NewTimer(wait - d.now().Sub(rj.job.Created))
	defer deadline.Stop()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for !d.bothOnline(rj) {
		select {
		case <-rj.ctx.Done():
			return context.Cause(rj.ctx)
		case <-deadline.C:
			return d.neverConnected(rj, wait)
		case <-t.C:
		}
	}
	d.note(rj.job.ID, catalog.LevelInfo, "client %s and storage daemon %s are online: starting", rj.client.Name, rj.storage.Name)
	return nil
}

// bothOnline: both agents heartbeat, and a passive client's bus link (as
// the hub sees it) is up.
func (d *Director) bothOnline(rj *runningJob) bool {
	_, fd := d.presence.lookup("fd", rj.client.Name, d.now())
	_, sd := d.presence.lookup("sd", rj.storage.Name, d.now())
	if l, ok := d.linkOf(rj.client.Name); ok && rj.client.Passive && !l.Up {
		fd = false
	}
	return fd && sd
}

// mayWaitAgain: a job with max_wait whose agent did not answer, although it
// looked online, goes back to waiting while its max_wait lasts.
func (d *Director) mayWaitAgain(rj *runningJob, role, name string, err error) bool {
	if !errors.Is(err, bus.ErrNoResponders) || rj.client.MaxWait <= 0 || d.now().Sub(rj.job.Created) >= rj.client.MaxWait {
		return false
	}
	d.presence.forget(role, name)
	return true
}

func (d *Director) absent(rj *runningJob) string {
	if _, ok := d.presence.lookup("fd", rj.client.Name, d.now()); !ok {
		return "client " + rj.client.Name
	}
	return "storage daemon " + rj.storage.Name
}

// neverConnected says why the agent never came and what to check.
func (d *Director) neverConnected(rj *runningJob, wait time.Duration) error {
	if _, ok := d.presence.lookup("fd", rj.client.Name, d.now()); ok {
		return fmt.Errorf("storage daemon %s never connected within max_wait %s: check that it runs and reaches NATS at %s", rj.storage.Name, wait, d.busAddr())
	}
	if !rj.client.Passive {
		return fmt.Errorf("client %s never connected within max_wait %s: it must dial NATS at %s; if it cannot dial out, set passive = true (on client %s and in its file daemon)",
			rj.client.Name, wait, d.busAddr(), rj.client.Name)
	}
	msg := fmt.Sprintf("client %s (passive) was never linked within max_wait %s: the NATS side dials its leafnode listener at %s:%d",
		rj.client.Name, wait, rj.client.Address, rj.client.LeafPort)
	if l, ok := d.linkOf(rj.client.Name); ok && l.LastError != "" {
		msg += "; last link error: " + l.LastError
	}
	return fmt.Errorf("%s; check that the file daemon runs there with passive = true and the same leaf_password_file", msg)
}

// busAddr is the NATS address agents dial.
func (d *Director) busAddr() string {
	if d.cfg.NATSURL != "" {
		return d.cfg.NATSURL
	}
	return "nats://" + d.cfg.NATSListen
}

// resume restarts a backup a previous director process left waiting for
// its agents (status created): the durable queue.
func (d *Director) resume(j catalog.Job) bool {
	if j.Kind != catalog.KindBackup || j.Status != catalog.StatusCreated {
		return false
	}
	rj, err := d.backupJob(j.Name, j.Level)
	if err != nil || rj.client.MaxWait <= 0 {
		return false
	}
	rj.job.Created = j.Created
	d.note(j.ID, catalog.LevelInfo, "director restarted: the job waits again for its agents")
	d.start(j.ID, rj)
	return true
}
