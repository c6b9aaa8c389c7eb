package blueprint

import (
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// HookTimeout is how long a migrate or seed hook may run.
const HookTimeout = 5 * time.Minute

// RenderInput is everything about one tenant that a blueprint's references
// can name.
type RenderInput struct {
	Tenant string
	Bundle stamp.BundleRef
	// Plan is the tenant's plan; "" is the blueprint's default plan.
	Plan string
	// Params are the tenant's parameters, as returned by ResolveParams.
	Params map[string]string
	// Secrets maps a secret's name to its value as text (see
	// GenerateSecrets).
	Secrets map[string]string
	// DatabaseURLs maps a database's name to the URL the app connects with.
	DatabaseURLs map[string]string
	// URL is the tenant's public address through the router, the value
	// of ${tenant.url}; empty where the server has no router.
	URL string
}

// Render returns the desired runtime of one tenant: its services sorted by
// name, sized by the tenant's plan, with references in env values and
// command arguments replaced. Every service's env also holds
// STAMP_TENANT. A reference with no value in in is an error.
func (b *Blueprint) Render(in RenderInput) (*stamp.Runtime, error) {
	planName, plan, err := b.ResolvePlan(in.Plan)
	if err != nil {
		return nil, err
	}
	in.Plan = planName
	rt := &stamp.Runtime{Tenant: in.Tenant, Bundle: in.Bundle, Services: make([]stamp.Service, 0, len(b.Services)), Limits: plan.Limits(), Outbound: plan.Outbound}
	for _, name := range b.ServiceNames() {
		s := b.Services[name]
		env, err := b.renderEnv(s, &in)
		if err != nil {
			return nil, fmt.Errorf("render %s of %s: %w", name, in.Tenant, err)
		}
		cmd, err := b.expandArgs(s.Command, &in)
		if err != nil {
			return nil, fmt.Errorf("render %s of %s: command: %w", name, in.Tenant, err)
		}
		var health *stamp.HealthCheck
		if s.Health != nil {
			health = &stamp.HealthCheck{Path: s.Health.HTTP, Interval: s.Health.Interval, Timeout: s.Health.Timeout}
		}
		rt.Services = append(rt.Services, stamp.Service{
			Name:      name,
			Command:   cmd,
			Image:     s.Image,
			Env:       env,
			NoPortEnv: s.NoPortEnv,
			Port:      s.Port,
			Public:    s.Public,
			Replicas:  plan.Replicas,
			Memory:    plan.Memory,
			CPU:       plan.CPU,
			Health:    health,
			Bind:      s.Bind,
		})
	}
	return rt, nil
}

// Hook returns the task that runs the hook called name ("migrate" or
// "seed") for one tenant, or nil if the blueprint has no such hook. The
// task's env is the rendered env of every service merged in service-name
// order (a later service wins a clash), then the hook's own env over it,
// plus STAMP_HOOK=name. Its image,
// for drivers that run images, is the public service's image, else that of
// the first service that has one.
func (b *Blueprint) Hook(name string, in RenderInput) (*stamp.Task, error) {
	var args []string
	var own map[string]string
	switch name {
	case stamp.StepMigrate:
		args, own = b.Hooks.Migrate, b.Hooks.MigrateEnv
	case stamp.StepSeed:
		args, own = b.Hooks.Seed, b.Hooks.SeedEnv
	default:
		return nil, fmt.Errorf("unknown hook %q (hooks: migrate, seed)", name)
	}
	if len(args) == 0 {
		return nil, nil
	}
	planName, _, err := b.ResolvePlan(in.Plan)
	if err != nil {
		return nil, err
	}
	in.Plan = planName
	env := map[string]string{}
	for _, svc := range b.ServiceNames() {
		e, err := b.renderEnv(b.Services[svc], &in)
		if err != nil {
			return nil, fmt.Errorf("render %s hook of %s: env of %s: %w", name, in.Tenant, svc, err)
		}
		maps.Copy(env, e)
	}
	for k, v := range own {
		x, err := expand(v, func(ref string) (string, error) { return b.lookup(ref, &in) })
		if err != nil {
			return nil, fmt.Errorf("render %s hook of %s: env %s: %w", name, in.Tenant, k, err)
		}
		env[k] = x
	}
	env["STAMP_HOOK"] = name
	cmd, err := b.expandArgs(args, &in)
	if err != nil {
		return nil, fmt.Errorf("render %s hook of %s: %w", name, in.Tenant, err)
	}
	return &stamp.Task{Name: name, Bundle: in.Bundle, Command: cmd, Image: b.hookImage(), Env: env, Timeout: HookTimeout}, nil
}

// GenerateSecrets returns a value for every secret of the blueprint that is
// missing from have: Generate bytes read from r, encoded as unpadded
// URL-safe base64 so that the value fits in env vars and URLs unescaped.
func (b *Blueprint) GenerateSecrets(r io.Reader, have map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range sortedKeys(b.Secrets) {
		if _, ok := have[name]; ok {
			continue
		}
		buf := make([]byte, b.Secrets[name].Generate)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("generate secret %s: %w", name, err)
		}
		out[name] = base64.RawURLEncoding.EncodeToString(buf)
	}
	return out, nil
}

func (b *Blueprint) hookImage() string {
	image := ""
	for _, name := range b.ServiceNames() {
		s := b.Services[name]
		if s.Public && s.Image != "" {
			return s.Image
		}
		if image == "" {
			image = s.Image
		}
	}
	return image
}

func (b *Blueprint) renderEnv(s *Service, in *RenderInput) (map[string]string, error) {
	env := make(map[string]string, len(s.Env)+1)
	for k, v := range s.Env {
		x, err := expand(v, func(ref string) (string, error) { return b.lookup(ref, in) })
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", k, err)
		}
		env[k] = x
	}
	env["STAMP_TENANT"] = in.Tenant
	return env, nil
}

func (b *Blueprint) expandArgs(args []string, in *RenderInput) ([]string, error) {
	if args == nil {
		return nil, nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		x, err := expand(a, func(ref string) (string, error) { return b.lookup(ref, in) })
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
		out[i] = x
	}
	return out, nil
}

// lookup resolves one reference. With in nil it only checks that the
// reference names something the blueprint declares.
func (b *Blueprint) lookup(ref string, in *RenderInput) (string, error) {
	var params, secrets, dbs map[string]string
	if in != nil {
		params, secrets, dbs = in.Params, in.Secrets, in.DatabaseURLs
	}
	kind, name, _ := strings.Cut(ref, ".")
	switch kind {
	case "tenant":
		switch {
		case name == "dir":
			return stamp.InstanceVar(stamp.VarTenantDir), nil
		case in == nil && (name == "name" || name == "plan" || name == "url"):
			return "", nil
		case name == "name":
			return in.Tenant, nil
		case name == "plan":
			return in.Plan, nil
		case name == "url":
			return in.URL, nil
		}
	case stamp.VarPort, stamp.VarHost, stamp.VarListen:
		if name == "" {
			return stamp.InstanceVar(kind), nil
		}
	case "param":
		if name != "" {
			return value(b.Parameters, name, "parameter", in != nil, params)
		}
	case "secret":
		if name != "" {
			return value(b.Secrets, name, "secret", in != nil, secrets)
		}
	case "db":
		db, field, _ := strings.Cut(name, ".")
		switch {
		case db != "" && field == "url":
			return value(b.Databases, db, "database", in != nil, dbs)
		case db != "" && field == "connections":
			return b.connections(db, in)
		}
	}
	return "", fmt.Errorf("unknown reference %q (want db.NAME.url, db.NAME.connections, secret.NAME, param.NAME, tenant.name, tenant.plan, tenant.url, tenant.dir, port, host or listen)", "${"+ref+"}")
}

// value checks that declared holds name and, when rendering, returns its
// value from values.
func value[T any](declared map[string]T, name, kind string, rendering bool, values map[string]string) (string, error) {
	if _, ok := declared[name]; !ok {
		return "", fmt.Errorf("unknown %s %q", kind, name)
	}
	if !rendering {
		return "", nil
	}
	v, ok := values[name]
	if !ok {
		return "", fmt.Errorf("no value for %s %q", kind, name)
	}
	return v, nil
}

// connections resolves ${db.NAME.connections}: one instance's share of
// the plan's connections. With in nil it only checks the database.
func (b *Blueprint) connections(db string, in *RenderInput) (string, error) {
	if _, ok := b.Databases[db]; !ok {
		return "", fmt.Errorf("unknown database %q", db)
	}
	if in == nil {
		return "", nil
	}
	_, plan, err := b.ResolvePlan(in.Plan)
	if err != nil {
		return "", err
	}
	return connectionsRef(plan), nil
}
