// Package blueprint owns stamp.yaml, the description of the product Stamp
// stamps out: it parses and strictly validates a blueprint (every problem
// named by file, line and key), resolves a tenant's plan and parameters, and
// renders the blueprint for one tenant into the stamp.Runtime and hook
// stamp.Tasks that drivers run.
package blueprint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// FileName is the name of a blueprint's file inside its directory.
const FileName = "stamp.yaml"

// Blueprint is a parsed and validated stamp.yaml (format v1).
type Blueprint struct {
	Name        string
	Version     string
	Description string
	Parameters  map[string]*Parameter
	// Plans always holds at least one plan: a blueprint without plans has
	// the implicit plan "default" with one replica and no limits.
	Plans       map[string]*Plan
	DefaultPlan string
	Databases   map[string]*Database
	Secrets     map[string]*Secret
	// Build is the command `stamp blueprint push` runs in the blueprint
	// directory before packing it; empty for none.
	Build []string
	// Requires are the commands the host must provide in the PATH its
	// tenants get; push and `stamp server --check` report those it does
	// not, and a tenant of the blueprint is refused until it does.
	Requires []stamp.Requirement
	Services map[string]*Service
	Hooks    Hooks
}

// Parameter is a per-tenant input, validated when a tenant is created.
type Parameter struct {
	Default  string
	Required bool
	// Pattern is a Go regular expression the value must match (unanchored:
	// write ^ and $ to match the whole value).
	Pattern string
	// Secret marks a credential (an initial admin password): its value is
	// kept among the tenant's secrets, sealed at rest, shown only as
	// redacted and hidden in logs like a generated secret.
	Secret bool

	re *regexp.Regexp
}

// Plan is a size class: the tenant's limits and the replica count of
// every service. The limits bound all of a tenant's processes together
// (every service and replica, both versions during an upgrade, hooks).
type Plan struct {
	Memory   int64   // bytes; 0 is unlimited
	CPU      float64 // cores; 0 is unlimited
	PIDs     int     // processes and threads; 0 is unlimited
	Replicas int     // instances per service, at least 1
	// Outbound lets the tenant's processes open connections beyond the
	// host (mail, payment APIs), where they have a network of their own;
	// default true.
	Outbound bool
	Idle     time.Duration // scale to zero after this long without traffic; 0 never
	// Connections is how many PostgreSQL connections one version of the
	// tenant's app (every service and replica together) may open to each
	// of its databases; DefaultConnections if the plan does not say.
	Connections int
	// Pool is how many stamps of the blueprint's latest version on this
	// plan are kept made ahead (database, migration, processes) for the
	// next creates to claim; 0 keeps none.
	Pool int
	// Backup, if set, is how often the tenant is backed up, and how many
	// of those scheduled backups are kept.
	Backup *BackupSchedule
}

// BackupSchedule is a plan's backups: one every Every, the newest Keep
// of them kept (backups taken by hand are not counted, nor removed).
type BackupSchedule struct {
	Every time.Duration
	Keep  int
}

// Bounds of a backup schedule: backups are taken by a sweep that runs
// every minute, and each holds a tenant's whole data.
const (
	MinBackupEvery = time.Hour
	MaxBackupKeep  = 1000
)

// MaxPool bounds a plan's warm pool: every pooled stamp runs, for no one.
const MaxPool = 50

// Database is one per-tenant database.
type Database struct {
	Engine string // "sqlite" (the default) or "postgres"
}

// Secret is a per-tenant secret generated at create time.
type Secret struct {
	Generate int // bytes of randomness, 1..1024
}

// Service is one long-running process of the product.
type Service struct {
	Command []string // run relative to the extracted bundle (local driver)
	Image   string   // container image (kubernetes driver)
	Port    int      // the port the app listens on; 0 for none
	Public  bool     // served by the router; at most one service is public
	Env     map[string]string
	Health  *Health
	// NoPortEnv leaves PORT out of the service's environment (port_env:
	// false), for apps that take the port as a flag (${port}) or read
	// PORT for something else; by default PORT is the port to listen on.
	NoPortEnv bool
	// Upgrade is how an upgrade replaces the service's instances:
	// UpgradeBlueGreen (or empty, the default) or UpgradeRecreate.
	Upgrade string
	// Bind is the HTTP path at which a running instance takes a new
	// environment instead of being restarted (see stamp.Service.Bind);
	// empty if the app does not take one.
	Bind string
}

// Upgrade strategies of a service.
const (
	// UpgradeBlueGreen starts the new version beside the old and switches
	// the route once it is healthy: no request waits.
	UpgradeBlueGreen = "blue-green"
	// UpgradeRecreate stops the old version before the new one starts,
	// for services whose two versions cannot share their data (two
	// writers on one data directory); the router holds requests until
	// the new version serves.
	UpgradeRecreate = "recreate"
)

// Health is a service's HTTP health check.
type Health struct {
	HTTP     string // request path, e.g. "/healthz"
	Interval time.Duration
	Timeout  time.Duration
}

// Health check defaults.
const (
	DefaultHealthInterval = 5 * time.Second
	DefaultHealthTimeout  = 2 * time.Second
)

// Hooks are one-shot commands run in a tenant's runtime.
type Hooks struct {
	Migrate []string // before start, on create and on upgrade
	Seed    []string // once, on create
	// MigrateEnv and SeedEnv are each hook's own environment, merged over
	// the services' (an admin password the seed needs need not sit in
	// the running service's environment).
	MigrateEnv map[string]string
	SeedEnv    map[string]string
	// SeedAfter is when the seed runs on create: SeedBesideStart (or
	// empty, the default) or SeedAfterHealthy.
	SeedAfter string
}

// When the seed hook runs on create.
const (
	// SeedBesideStart runs the seed beside start and health, after
	// migrate: the tenant serves once both are done.
	SeedBesideStart = "start"
	// SeedAfterHealthy runs the seed once the services are healthy, for
	// apps that migrate their own schema at start.
	SeedAfterHealthy = "healthy"
)

// Recreates reports whether an upgrade to this blueprint must stop the
// old version before starting it: a service chose UpgradeRecreate.
func (b *Blueprint) Recreates() bool {
	for _, s := range b.Services {
		if s.Upgrade == UpgradeRecreate {
			return true
		}
	}
	return false
}

// Load reads and parses dir/stamp.yaml. Problems name the file "stamp.yaml".
func Load(dir string) (*Blueprint, error) {
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "no %s in %s", FileName, dir)
	}
	if err != nil {
		return nil, err
	}
	return Parse(FileName, data)
}

// Limits returns the tenant-wide limits of the plan.
func (p *Plan) Limits() stamp.Limits {
	return stamp.Limits{Memory: p.Memory, CPU: p.CPU, PIDs: int64(p.PIDs)}
}

// ServiceNames returns the names of the services, sorted.
func (b *Blueprint) ServiceNames() []string {
	return sortedKeys(b.Services)
}

// Ref returns "name@version".
func (b *Blueprint) Ref() string { return b.Name + "@" + b.Version }

// ResolvePlan returns the plan called name, or the default plan for "". An
// unknown plan is EUNPROCESSABLE.
func (b *Blueprint) ResolvePlan(name string) (string, *Plan, error) {
	if name == "" {
		name = b.DefaultPlan
	}
	p, ok := b.Plans[name]
	if !ok {
		return "", nil, stamp.Errorf(stamp.EUNPROCESSABLE, "plan %q does not exist in blueprint %s (plans: %s)",
			name, b.Ref(), strings.Join(sortedKeys(b.Plans), ", "))
	}
	return name, p, nil
}

// ResolveParams checks the parameters given for a tenant and returns the
// full set: given values plus defaults, and "" for optional parameters
// without a default. Unknown parameters, missing required ones and values
// that do not match their pattern are reported together, sorted by
// parameter name, as one EUNPROCESSABLE error.
func (b *Blueprint) ResolveParams(given map[string]string) (map[string]string, error) {
	type problem struct{ name, msg string }
	var problems []problem
	for _, name := range sortedKeys(given) {
		if _, ok := b.Parameters[name]; !ok {
			msg := fmt.Sprintf("unknown parameter %q", name)
			if len(b.Parameters) == 0 {
				msg += " (the blueprint has no parameters)"
			} else {
				msg += " (parameters: " + strings.Join(sortedKeys(b.Parameters), ", ") + ")"
			}
			problems = append(problems, problem{name, msg})
		}
	}
	out := make(map[string]string, len(b.Parameters))
	for name, p := range b.Parameters {
		v, ok := given[name]
		switch {
		case p.Required && v == "":
			problems = append(problems, problem{name, fmt.Sprintf("parameter %q is required", name)})
			continue
		case !ok:
			out[name] = p.Default
			continue
		}
		if strings.ContainsRune(v, 0) {
			problems = append(problems, problem{name, fmt.Sprintf("parameter %q: value must not contain a NUL byte", name)})
			continue
		}
		if p.re != nil && !p.re.MatchString(v) {
			problems = append(problems, problem{name, fmt.Sprintf("parameter %q: value %q does not match pattern %q", name, v, p.Pattern)})
			continue
		}
		out[name] = v
	}
	if len(problems) > 0 {
		slices.SortFunc(problems, func(a, b problem) int {
			return strings.Compare(a.name+"\x00"+a.msg, b.name+"\x00"+b.msg)
		})
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.msg
		}
		return nil, stamp.Errorf(stamp.EUNPROCESSABLE, "%s", strings.Join(msgs, "; "))
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
