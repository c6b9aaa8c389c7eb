package blueprint

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// hookAfters are the values of a seed hook's after.
var hookAfters = []string{SeedBesideStart, SeedAfterHealthy}

// upgrades are the values of a service's upgrade.
var upgrades = []string{UpgradeBlueGreen, UpgradeRecreate}

// hooks decodes the hooks mapping: each hook is a command list, or a
// mapping {command, env, after}.
func (d *decoder) hooks(e entry) {
	h, _ := d.fields(e.val, e.path, "migrate", "seed")
	hooks := &d.b.Hooks
	if e, ok := h["migrate"]; ok {
		hooks.Migrate, hooks.MigrateEnv, _ = d.hook(e, false)
	}
	if e, ok := h["seed"]; ok {
		hooks.Seed, hooks.SeedEnv, hooks.SeedAfter = d.hook(e, true)
	}
}

// hook decodes one hook. Only the seed (withAfter) may say when it runs.
func (d *decoder) hook(e entry, withAfter bool) (cmd []string, env map[string]string, after string) {
	known := []string{"command", "env"}
	if withAfter {
		known = append(known, "after")
	}
	switch {
	case e.val.Kind == yaml.SequenceNode:
		cmd, _ = d.strList(e, true, true)
		return cmd, nil, ""
	case e.val.Kind != yaml.MappingNode:
		d.add(e.val.Line, e.path, "must be a command (a list of strings) or a mapping {%s}, not %s", strings.Join(known, ", "), describe(e.val))
		return nil, nil, ""
	}
	f, ok := d.fields(e.val, e.path, known...)
	if !ok {
		return nil, nil, ""
	}
	if c, ok := d.required(f, "command", e.key.Line, e.path); ok {
		cmd, _ = d.strList(c, true, true)
	}
	if v, ok := f["env"]; ok {
		env = d.envMap(v, "PORT is set by Stamp (hooks get no port)")
	}
	if a, ok := f["after"]; ok {
		if after, ok = d.str(a); ok && !slices.Contains(hookAfters, after) {
			d.add(a.val.Line, a.path, "unknown value %q (want %s)", after, strings.Join(hookAfters, " or "))
		}
	}
	return cmd, env, after
}

// serviceExtras decodes a service's port_env, upgrade and bind; f are the
// service's fields.
func (d *decoder) serviceExtras(s *Service, f map[string]entry) {
	if e, ok := f["port_env"]; ok {
		var portEnv bool
		if portEnv, ok = d.boolean(e); ok && f["port"].val == nil {
			d.add(e.key.Line, e.path, "a service without a port gets no PORT; port_env needs a port")
		}
		s.NoPortEnv = !portEnv
	}
	if e, ok := f["upgrade"]; ok {
		if s.Upgrade, ok = d.str(e); ok && !slices.Contains(upgrades, s.Upgrade) {
			d.add(e.val.Line, e.path, "unknown upgrade %q (want %s)", s.Upgrade, strings.Join(upgrades, " or "))
		}
	}
	if e, ok := f["bind"]; ok {
		if s.Bind, ok = d.str(e); ok && !strings.HasPrefix(s.Bind, "/") {
			d.add(e.val.Line, e.path, "path %q must start with /", s.Bind)
		}
		if f["port"].val == nil {
			d.add(e.key.Line, e.path, "bind is a request to the service's port; bind needs a port")
		}
	}
}
