package stamp

import (
	"context"
	"io"
	"time"
)

// Runtime is the desired runtime of one tenant, rendered from its
// blueprint: the reconciler hands it to a Driver, which converges to it.
type Runtime struct {
	Tenant string `json:"tenant"`
	// Revision names this set of the tenant's instances (the reconciler
	// uses the blueprint version). Instances of another revision keep
	// running beside them until Retire: that is how a new version starts
	// while the old one serves. Up to 64 of [A-Za-z0-9._+-].
	Revision string    `json:"revision,omitempty"`
	Bundle   BundleRef `json:"bundle"`
	Services []Service `json:"services"`
	// UID is the Unix user and group every process of the tenant runs
	// as; 0 means the driver's own user (isolation by user is off).
	UID int `json:"uid,omitempty"`
	// Limits bound what all of the tenant's processes together may use,
	// every revision's instances and tasks alike.
	Limits Limits `json:"limits,omitzero"`
	// Outbound lets the tenant open connections beyond the host, where
	// the driver gives it a network of its own (the plan's outbound).
	Outbound bool `json:"outbound,omitempty"`
}

// Limits are a tenant's resource limits, from its plan. Zero is no limit.
type Limits struct {
	Memory int64   `json:"memory,omitempty"` // bytes
	CPU    float64 `json:"cpu,omitempty"`    // cores
	PIDs   int64   `json:"pids,omitempty"`   // processes and threads
}

// BundleRef names the bundle a runtime runs.
type BundleRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// Service is the desired runtime of one service of a tenant.
type Service struct {
	Name string `json:"name"`
	// Command runs the service on the local driver, relative to the
	// extracted bundle; Image runs it on Kubernetes.
	Command []string `json:"command,omitempty"`
	Image   string   `json:"image,omitempty"`
	// Env is fully rendered, secrets included. PORT is set by the driver
	// unless NoPortEnv.
	Env map[string]string `json:"env,omitempty"`
	// NoPortEnv leaves PORT out of the environment the driver gives the
	// service (the blueprint's port_env: false): apps that read PORT for
	// something else, or take their port as a flag (${port}).
	NoPortEnv bool `json:"noPortEnv,omitempty"`
	// Port is the port the app listens on inside its container. The local
	// driver gives it to one instance at a time in the tenant's network
	// namespace, and otherwise (no namespace, or another instance holds
	// it) a port of its range; either is passed as $PORT and ${port}.
	// Zero means the service serves no traffic.
	Port     int          `json:"port,omitempty"`
	Public   bool         `json:"public,omitempty"`
	Replicas int          `json:"replicas"`
	Memory   int64        `json:"memory,omitempty"` // bytes; 0 is unlimited
	CPU      float64      `json:"cpu,omitempty"`    // cores; 0 is unlimited
	Health   *HealthCheck `json:"health,omitempty"`
	// Bind, if set, is the HTTP path at which a running instance takes a
	// new environment (POST, the driver's token as bearer, a JSON body
	// {"env": {...}}) instead of being restarted, when only Env changed.
	// Drivers that cannot (Kubernetes) restart it as for any change.
	Bind string `json:"bind,omitempty"`
}

// HealthCheck is an HTTP probe: GET Path must answer 2xx within Timeout.
type HealthCheck struct {
	Path     string        `json:"path"`
	Interval time.Duration `json:"interval"`
	Timeout  time.Duration `json:"timeout"`
}

// Observed is what a driver sees of one tenant.
type Observed struct {
	Tenant   string                      `json:"tenant"`
	Services map[string]*ServiceObserved `json:"services"`
	// Limits are the limits in force for the tenant's processes: a limit
	// the host cannot enforce is 0. Nil when the driver enforces none.
	Limits *Limits `json:"limits,omitempty"`
}

// ServiceObserved is what a driver sees of one service.
type ServiceObserved struct {
	// Instances are the running replicas.
	Instances []Instance `json:"instances"`
	// Restarts counts restarts since the control plane started watching.
	Restarts int `json:"restarts"`
	// LastExit describes the last exit ("exit status 1", "signal: killed").
	LastExit string `json:"lastExit,omitempty"`
	// LastExitAt is when the last exit was seen; zero if none was.
	LastExitAt time.Time `json:"lastExitAt,omitzero"`
	// LastExitOOM says the last exit was the kernel killing the process
	// for memory: the tenant reached its memory limit.
	LastExitOOM bool `json:"lastExitOOM,omitempty"`
	// Waiting says why an instance is not running or not ready, where
	// the driver's platform tells ("ImagePullBackOff: ...", a quota that
	// refused a pod); "" if it does not.
	Waiting string `json:"waiting,omitempty"`
}

// Instance is one running copy of one service.
type Instance struct {
	ID string `json:"id"` // stable within the tenant, e.g. "web-0@1.2.0"
	// Revision is the runtime revision the instance belongs to.
	Revision string `json:"revision,omitempty"`
	// Endpoint is host:port where the instance serves, empty if no port.
	Endpoint  string    `json:"endpoint,omitempty"`
	PID       int       `json:"pid,omitempty"`
	StartedAt time.Time `json:"startedAt"`
}

// Task is one-shot work (a migrate or seed hook) run in a tenant's runtime.
// Its Name is stable: running a task whose name the driver has seen before
// returns that earlier run's result, or waits for it if it is still going,
// instead of starting a second one.
type Task struct {
	Name    string            `json:"name"`
	Bundle  BundleRef         `json:"bundle"`
	Command []string          `json:"command,omitempty"`
	Image   string            `json:"image,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Timeout time.Duration     `json:"timeout"`
	// UID is the Unix user and group the task runs as, as in Runtime.
	UID int `json:"uid,omitempty"`
	// Limits and Outbound are the tenant's, as in Runtime: a driver that
	// sets a tenant's bounds up only with its instances (Kubernetes)
	// sets them up for a task that runs first.
	Limits   Limits `json:"limits,omitzero"`
	Outbound bool   `json:"outbound,omitempty"`
}

// TaskResult is how a task ended. A non-zero ExitCode is a failed hook, not
// an error of the driver.
type TaskResult struct {
	ExitCode int `json:"exitCode"`
	// Output holds the last lines the task printed (stdout and stderr).
	Output string `json:"output"`
}

// Driver runs tenants' instances somewhere: local processes or Kubernetes.
// Methods are idempotent and safe to call again after a crash.
type Driver interface {
	// Apply converges the tenant's instances of revision rt.Revision to rt
	// and returns once they are started (not necessarily healthy). It
	// allocates whatever rt needs (directories, ports) and extracts the
	// bundle on first use. Instances of other revisions are left running.
	Apply(ctx context.Context, rt *Runtime) error
	// Retire stops the tenant's instances of every revision but keep and
	// releases what they held. The instances of keep, which must have
	// been applied, are untouched. Retiring what is already gone is not an
	// error.
	Retire(ctx context.Context, tenant, keep string) error
	// Observe returns what runs for tenant; a tenant the driver holds
	// nothing for yields an Observed with no services, not an error.
	Observe(ctx context.Context, tenant string) (*Observed, error)
	// RunTask runs task for tenant to completion (see Task for the rules on
	// names). A task that exceeds its Timeout is killed and reported with
	// ExitCode -1.
	RunTask(ctx context.Context, tenant string, task *Task) (*TaskResult, error)
	// Remove stops everything of tenant and releases what it held
	// (processes, ports, files). A tenant already gone is not an error.
	Remove(ctx context.Context, tenant string) error
	// Tenants lists every tenant the driver holds something for, so the
	// reconciler can remove what no longer has a tenant.
	Tenants(ctx context.Context) ([]string, error)
}

// Releaser is implemented by drivers that watch over a tenant's instances
// (restart them when they crash) only for the control-plane process that
// owns the tenant. Release stops watching tenant, leaving its instances
// running, when ownership passes to another process; any later call for
// the tenant takes it up again, re-adopting what runs.
type Releaser interface {
	Release(ctx context.Context, tenant string) error
}

// LogReader is implemented by drivers that can hand out a service's logs.
type LogReader interface {
	// Logs returns the service's combined output, as much of it as the
	// driver keeps, or with opts.Tail its last lines. With opts.Follow,
	// the reader keeps returning new output until ctx ends. An unknown
	// tenant or service is ENOTFOUND.
	Logs(ctx context.Context, tenant, service string, opts LogOptions) (io.ReadCloser, error)
}

// LogOptions says which part of a service's output LogReader.Logs
// returns.
type LogOptions struct {
	// Tail, if above 0, is how many of the last lines to return (of each
	// instance), read from the end of the output: the cost does not grow
	// with the size of the log.
	Tail int
	// Follow keeps the reader returning new output until ctx ends.
	Follow bool
}

// Engine provides per-tenant databases of one kind (sqlite, postgres).
type Engine interface {
	// Ensure creates the database if missing and returns the URL the
	// tenant's app connects with. Password is the tenant's generated
	// credential for engines that use one.
	Ensure(ctx context.Context, db DatabaseSpec) (url string, err error)
	// Drop deletes the database; a missing one is not an error.
	Drop(ctx context.Context, db DatabaseSpec) error
}

// Snapshotter is implemented by engines that can copy a tenant database
// aside and put it back: the safety net of an upgrade whose migration may
// need undoing. Snapshot names are DNS labels (e.g. "pre-1-3-0").
type Snapshotter interface {
	// Snapshot copies db into the snapshot name, replacing an earlier one
	// of that name. The copy is consistent while the tenant's app writes.
	Snapshot(ctx context.Context, db DatabaseSpec, name string) error
	// Restore makes db's contents those of the snapshot again, while the
	// tenant's app may still be connected (it sees the restored data on
	// its next query or reconnect). A missing snapshot is ENOTFOUND.
	Restore(ctx context.Context, db DatabaseSpec, name string) error
	// DropSnapshot deletes the snapshot; a missing one is not an error.
	DropSnapshot(ctx context.Context, db DatabaseSpec, name string) error
}

// Dumper is implemented by engines that can write a tenant database out
// as one file and read such a file back: the databases of a backup, a
// restore, a clone and an export.
type Dumper interface {
	// DumpFormat names the format of the engine's dumps, which is also
	// the extension of their files in an archive: "sqlite" (an SQLite
	// database file) or "pgdump" (pg_dump's custom format).
	DumpFormat() string
	// Dump writes a consistent copy of db to w while its app writes. A
	// missing database is ENOTFOUND.
	Dump(ctx context.Context, db DatabaseSpec, w io.Writer) error
	// Load makes db, which must exist (Ensure), hold the dump in the
	// file at path, as Snapshotter.Restore does: the app may stay
	// connected and sees the dump's schema and rows on its next query or
	// reconnect. A dump the engine cannot read is EINVALID and leaves db
	// as it was.
	Load(ctx context.Context, db DatabaseSpec, path string) error
}

// Collector is implemented by engines that can list what they hold, so
// that the garbage collector finds the databases no tenant owns any
// more (a deletion cut short, a store restored from an older copy).
type Collector interface {
	// Orphans returns the databases (and what goes with them: files,
	// roles, snapshots) the engine holds that belong to no runtime in
	// keep, which maps each runtime to the names of the databases it
	// may have; and how many databases the engine holds in all.
	Orphans(ctx context.Context, keep map[string][]string) (orphans []string, held int, err error)
	// DropOrphan deletes one orphan Orphans returned, with what goes
	// with it. One already gone is not an error.
	DropOrphan(ctx context.Context, orphan string) error
}

// DatabaseSpec names one database of one tenant.
type DatabaseSpec struct {
	Tenant   string
	Name     string // the blueprint's database name, e.g. "main"
	Password string
	// UID, if not 0, is the Unix user whose processes open the database's
	// files: engines that keep a tenant's data in files (sqlite) give
	// them to that user, and to no one else.
	UID int
	// ConnectionLimit is the most connections the tenant's processes may
	// hold to the database at once, for engines that can bound it
	// (postgres); 0 leaves the engine's default.
	ConnectionLimit int
}

// DataSnapshotter is implemented by drivers that keep files of a tenant's
// own (its data directory, ${tenant.dir}): an upgrade copies them aside
// with its databases, and a move back restores them. Snapshot names are
// those of Snapshotter.
type DataSnapshotter interface {
	// SnapshotData copies the tenant's data into the snapshot name,
	// replacing an earlier one of that name.
	SnapshotData(ctx context.Context, tenant, name string) error
	// RestoreData makes the tenant's data that of the snapshot again. A
	// missing snapshot is ENOTFOUND.
	RestoreData(ctx context.Context, tenant, name string) error
}

// DataArchiver is implemented by drivers that keep files of a tenant's
// own (its data directory): a backup writes them out as a tar stream,
// and a restore or a clone reads such a stream back.
type DataArchiver interface {
	// WriteData writes the tenant's data directory to w as a tar stream
	// of directories, regular files and symbolic links, with paths
	// relative to it.
	WriteData(ctx context.Context, tenant string, w io.Writer) error
	// ReadData makes the tenant's data directory hold what the tar
	// stream r holds, owned by the tenant's user. A stream that would
	// write outside the directory is EINVALID and changes nothing.
	ReadData(ctx context.Context, tenant string, r io.Reader) error
}

// ExposureReporter is implemented by drivers that can tell when a
// tenant's instances listen where more than the router reaches them (an
// app bound to all addresses on a host it shares with others).
type ExposureReporter interface {
	// Exposed returns one line per such listener of the tenant's running
	// instances, naming the instance and the address; none is fine.
	Exposed(ctx context.Context, tenant string) ([]string, error)
}

// Stopper is implemented by drivers that can stop a tenant's instances
// and keep the rest of it (its files, logs, addresses), as a tenant that
// failed is kept for an operator to look into and retry: it serves no
// one, so nothing of it runs. Observe then lists its services with no
// instance, the stop outlasts a restart of the control plane, and the
// next Apply starts the instances again. Stopping a stopped or unknown
// tenant is not an error.
type Stopper interface {
	Stop(ctx context.Context, tenant string) error
}

// ListenReporter is implemented by drivers that can tell where an
// instance's processes listen, so that a health check that finds nothing
// at the instance's endpoint can say where the app listens instead (an
// app that ignores the port it was given).
type ListenReporter interface {
	// Listening returns the TCP addresses (host:port) the processes of
	// instance id of tenant listen on; none is an empty list. An instance
	// with no process running is ENOTFOUND.
	Listening(ctx context.Context, tenant, id string) ([]string, error)
}

// Preparer is implemented by drivers that can set a tenant up (directories,
// the extracted bundle, ports) before anything of it runs, so that setup is
// a step of its own. Prepare is idempotent like Apply.
type Preparer interface {
	Prepare(ctx context.Context, rt *Runtime) error
}

// TaskStarter is implemented by drivers that can start a task without
// waiting for it, so that it runs beside what the caller does next from
// the first: a seed hook beside the instances it shares a tenant with,
// which Apply would otherwise keep it from starting until they run.
type TaskStarter interface {
	// StartTask starts task for tenant as RunTask would and returns once
	// it runs; the RunTask of it that follows waits for that run and
	// returns its result. A task that runs or has run is left as it is.
	StartTask(ctx context.Context, tenant string, task *Task) error
}

// Remote is implemented by drivers whose tenants run off this host, on
// a platform (a Kubernetes cluster) the control plane may not reach
// directly. The platform runs each service's health check itself
// (readiness probes): Observe lists only instances that pass theirs, and
// the control plane probes none. Waiting on a task there costs this host
// nothing, so a pass waits on one without holding a worker.
type Remote interface {
	// Remote reports that the driver's tenants run off this host.
	Remote() bool
}

// IsRemote reports whether d's tenants run off this host (see Remote).
func IsRemote(d Driver) bool {
	r, ok := d.(Remote)
	return ok && r.Remote()
}

// Switcher is implemented by drivers that put each public service of a
// tenant behind a stable address of the platform's (a Kubernetes
// Service) instead of having the router reach instances one by one.
type Switcher interface {
	// Switch points the tenant's stable addresses at the instances of
	// revision rev, which must have been applied, and returns them
	// (host:port): the router proxies there. Switching to the revision
	// already served changes nothing.
	Switch(ctx context.Context, tenant, rev string) ([]string, error)
}
