package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/stamphq/stamp"
)

// tenantState is what the driver keeps on disk for one tenant, in
// tenants/<name>/state.json: enough to find its processes again after a
// crash and to never hand its ports to another tenant.
type tenantState struct {
	// Runtime is the runtime last applied; nil while the tenant is only
	// prepared. It holds rendered secrets, hence the file's mode.
	Runtime *stamp.Runtime `json:"runtime,omitempty"`
	// Others are the runtimes of other revisions whose instances still
	// run beside Runtime's until retired.
	Others    []*stamp.Runtime `json:"others,omitempty"`
	Instances []instanceState  `json:"instances"`
	// UID is the user the tenant's processes run as (0: the driver's).
	UID int `json:"uid,omitempty"`
	// Limits are the tenant's limits last applied, and InForce what of
	// them the host enforces; tasks run under them too.
	Limits  stamp.Limits  `json:"limits,omitzero"`
	InForce *stamp.Limits `json:"inForce,omitempty"`
	// Addr is the tenant's address in its network namespace, where its
	// instances listen; empty when it runs on the host's loopback.
	Addr string `json:"addr,omitempty"`
	// Outbound is whether the tenant may open connections beyond the host.
	Outbound bool `json:"outbound,omitempty"`
	// Stopped is set by Stop and cleared by Apply: no instance runs, and
	// none is started when the tenant is taken up.
	Stopped bool `json:"stopped,omitempty"`
	// Swept is set by Stop once nothing carrying the tenant's marker runs
	// any more (its instances stopped, no task under way, a look through
	// the host's processes made), and cleared, durably, before anything
	// of the tenant starts again. A tenant taken up Stopped and Swept is
	// spared that look (every process's environment read): a wake from
	// scale to zero waits for it.
	Swept bool `json:"swept,omitempty"`
}

// runtime returns the applied runtime of revision rev, or nil.
func (st *tenantState) runtime(rev string) *stamp.Runtime {
	if st.Runtime != nil && st.Runtime.Revision == rev {
		return st.Runtime
	}
	for _, rt := range st.Others {
		if rt.Revision == rev {
			return rt
		}
	}
	return nil
}

// instanceState is one instance: its port, what it runs and which process
// runs it.
type instanceState struct {
	ID       string `json:"id"`
	Service  string `json:"service"`
	Revision string `json:"revision,omitempty"`
	Port     int    `json:"port,omitempty"`
	// Declared means Port is the service's declared port, in the tenant's
	// network namespace, and not one the port registry gave out.
	Declared bool `json:"declared,omitempty"`
	// Hash identifies the spec the instance runs (see specHash); empty
	// while the instance is only prepared.
	Hash string `json:"hash,omitempty"`
	// Base is the hash of the spec with Env left out (see baseHash): an
	// instance whose Base stays may take a new environment by a bind.
	Base string `json:"base,omitempty"`
	// BindToken is the bearer token of the running process's bind
	// requests (STAMP_BIND_TOKEN), new for each start; empty if its
	// service takes no binds.
	BindToken string `json:"bindToken,omitempty"`
	// PID and StartTime (field 22 of /proc/<pid>/stat) identify the
	// process together: a recycled pid has another start time.
	PID       int       `json:"pid,omitempty"`
	StartTime uint64    `json:"startTime,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
}

// registered reports whether inst holds a port of the registry.
func (inst *instanceState) registered() bool { return inst.Port > 0 && !inst.Declared }

// taskRecord is one run of a task, in tenants/<name>/tasks/<task>.json.
type taskRecord struct {
	Name      string    `json:"name"`
	PID       int       `json:"pid"`
	StartTime uint64    `json:"startTime"`
	Started   time.Time `json:"started"`
	// Deadline is when the task is killed; zero for no limit. It is kept
	// so that a control-plane restart does not extend it.
	Deadline time.Time     `json:"deadline,omitzero"`
	Timeout  time.Duration `json:"timeout,omitempty"`
	Finished time.Time     `json:"finished,omitzero"`
	ExitCode int           `json:"exitCode"`
	Output   string        `json:"output,omitempty"`
}

// readJSON decodes the file at path into v; a missing file is reported
// as false and no error.
func readJSON(path string, v any) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", path, err)
	}
	return true, nil
}

// writeJSON replaces the file at path with v atomically: a crash leaves
// the old file or the new one, never a torn one.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable.
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
