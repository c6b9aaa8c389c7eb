package local

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/stamphq/stamp"
)

// Restart backoff: the first restart waits minBackoff, each next one twice
// as long up to maxBackoff; an instance that ran resetAfter starts over.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
	resetAfter = 10 * time.Second
)

// Causes of a supervisor's end.
var (
	errDetach = errors.New("supervision ended: instance left running")
	errStop   = errors.New("instance stopped")
)

// supervisor keeps one instance running: it restarts the process when it
// exits, until stopped (the process is terminated) or detached (the
// process is left running for the tenant's next owner to adopt).
type supervisor struct {
	d  *Driver
	t  *tenant
	id string
	// svc is guarded by t.mu: a bind (see bind.go) gives it a new Env,
	// which the next start of the process takes.
	svc       stamp.Service
	port      int
	bundleDir string

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	proc *proc // guarded by t.mu; nil while no process runs
}

// supervise adopts instance inst of t if its recorded process lives, or
// starts it, and keeps it running. It returns once the process runs.
// t.op must be held.
func (d *Driver) supervise(t *tenant, inst instanceState, svc stamp.Service, bundleDir string) error {
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &supervisor{
		d: d, t: t, id: inst.ID, svc: svc, port: inst.Port, bundleDir: bundleDir,
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	p := adopt(inst.PID, inst.StartTime, inst.StartedAt)
	if p != nil {
		d.log.Info("adopted instance", "tenant", t.name, "instance", inst.ID, "pid", p.pid)
		t.mu.Lock()
		s.proc = p
		t.mu.Unlock()
	} else {
		var err error
		if p, err = s.start(); err != nil {
			cancel(errStop)
			return err
		}
	}
	t.mu.Lock()
	t.sups[s.id] = s
	t.mu.Unlock()
	go s.run(p)
	return nil
}

// start starts the instance's process, with a new bind token if its
// service takes binds, and records both.
func (s *supervisor) start() (*proc, error) {
	s.t.mu.Lock()
	svc := s.svc
	s.t.mu.Unlock()
	token := ""
	if svc.Bind != "" {
		token = newBindToken()
	}
	vars := s.t.vars(s.t.host(), s.port)
	path, isolated := s.t.path()
	argv, err := resolve(expandAll(svc.Command, vars), s.bundleDir, path, isolated)
	if err != nil {
		return nil, fmt.Errorf("start %s of %s: %w", s.id, s.t.name, err)
	}
	spec := spawnSpec{
		argv: argv,
		env:  envList(s.environ(svc, vars, path, token)),
		dir:  s.t.dataDir(),
		log:  s.t.logPath(s.id),
	}
	s.d.confine(s.t, &spec)
	p, err := spawn(spec)
	if err != nil {
		return nil, fmt.Errorf("start %s of %s: %w", s.id, s.t.name, err)
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if inst := s.t.instance(s.id); inst != nil {
		inst.PID, inst.StartTime, inst.StartedAt = p.pid, p.start, p.startedAt
		inst.BindToken = token
	}
	if err := s.t.save(); err != nil {
		// Unrecorded, the process would be an orphan: end it now.
		p.signal(syscall.SIGKILL)
		return nil, fmt.Errorf("start %s of %s: %w", s.id, s.t.name, err)
	}
	s.proc = p
	return p, nil
}

// run watches p and restarts the instance whenever it exits.
func (s *supervisor) run(p *proc) {
	rotated := make(chan struct{})
	go func() {
		defer close(rotated)
		s.rotateLogs()
	}()
	defer func() {
		<-rotated
		close(s.done)
	}()
	backoff := minBackoff
	for {
		status, exited := p.wait(s.ctx)
		if !exited {
			if context.Cause(s.ctx) == errStop {
				// What it leaves running, whoever stopped it kills
				// (see Driver.stopAll): one look for all it stops.
				terminate(p, s.d.cfg.StopTimeout)
			}
			s.setProc(nil)
			return
		}
		s.exited(status)
		if time.Since(p.startedAt) >= resetAfter {
			backoff = minBackoff
		}
		for {
			if !sleep(s.ctx, backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			// Leftovers of the run that ended (children of a crashed
			// process) could hold the port or the instance's files.
			// Elsewhere the orphan sweep of the take-up and stop remove them.
			s.d.killMarked(s.t.name, s.t.recordedUID(), s.id)
			var err error
			if p, err = s.start(); err == nil {
				break
			}
			s.exited(err.Error())
		}
	}
}

// rotateLogs keeps the instance's log rotated (see logrotate.go) until
// supervision ends.
func (s *supervisor) rotateLogs() {
	tick := time.NewTicker(s.d.logCheck)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-s.ctx.Done():
			return
		}
		if _, err := rotateLog(s.t.logPath(s.id), s.d.cfg.LogMaxSize, s.d.cfg.LogFiles); err != nil {
			s.d.log.Warn("rotate instance log", "tenant", s.t.name, "instance", s.id, "err", err)
		}
	}
}

// exited records that the instance's process ended (or failed to start)
// and is about to be restarted.
func (s *supervisor) exited(status string) {
	oom := s.d.oomKills(s.t.name)
	s.t.mu.Lock()
	s.proc = nil
	service := s.svc.Name
	st := s.t.stats[service]
	if st == nil {
		st = &stamp.ServiceObserved{}
		s.t.stats[service] = st
	}
	// A new out-of-memory kill in the tenant's group is put down to
	// this exit: the kernel kills a process of the group that reached
	// its limit, and this one just died.
	st.LastExitOOM = oom > s.t.oomKills
	if st.LastExitOOM {
		s.t.oomKills = oom
		status = "out of memory (limit " + mib(s.t.state.InForce) + "): " + status
	}
	st.Restarts++
	st.LastExit, st.LastExitAt = status, time.Now()
	s.t.mu.Unlock()
	s.d.log.Warn("instance exited; restarting", "tenant", s.t.name, "instance", s.id, "status", status)
	if s.d.cfg.OnExit != nil {
		s.d.cfg.OnExit(s.t.name, service)
	}
}

func (s *supervisor) setProc(p *proc) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	s.proc = p
}

// stop ends supervision, terminating the process when cause is errStop
// and leaving it running when it is errDetach, and forgets s.
func (s *supervisor) stop(cause error) {
	s.cancel(cause)
	<-s.done
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if s.t.sups[s.id] == s {
		delete(s.t.sups, s.id)
	}
}

// sleep waits for d or until ctx ends, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
