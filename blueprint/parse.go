package blueprint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the values a blueprint may expand to through YAML
// aliases, so that a small file cannot make parsing loop or explode.
const maxNodes = 100_000

// identRE is the syntax of parameter, database and secret names: they
// appear inside references such as ${db.main.url}.
var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// envNameRE is the syntax of an environment variable name.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// yamlLineRE picks the line out of a YAML syntax error.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

var engines = []string{"postgres", "sqlite"}

// Parse parses and validates a blueprint. filename is only used in
// problems. Every problem found is reported in one *ValidationError.
func Parse(filename string, data []byte) (*Blueprint, error) {
	d := &decoder{file: filename}
	b := d.parse(data)
	if len(d.problems) > 0 {
		sortProblems(d.problems)
		return nil, &ValidationError{Problems: d.problems}
	}
	return b, nil
}

// decoder walks the YAML node tree, filling a Blueprint and collecting
// problems instead of stopping at the first one.
type decoder struct {
	file     string
	problems []Problem
	b        *Blueprint
}

// entry is one key/value pair of a mapping, with its dotted key path.
type entry struct {
	name     string
	path     string
	key, val *yaml.Node
}

func (d *decoder) add(line int, key, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Key: key, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) parse(data []byte) *Blueprint {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.add(0, "", "empty blueprint")
		} else {
			d.syntaxError(err, data)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.add(extra.Line, "", "more than one YAML document; a blueprint is a single document")
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.syntaxError(err, data)
		return nil
	}
	if len(doc.Content) == 0 || isNull(resolve(doc.Content[0])) {
		d.add(0, "", "empty blueprint")
		return nil
	}
	root := resolve(doc.Content[0])
	if budget := maxNodes; !withinBudget(root, &budget) {
		d.add(root.Line, "", "blueprint expands to more than %d values through YAML aliases", maxNodes)
		return nil
	}
	top, ok := d.fields(root, "", "name", "version", "description", "parameters", "plans", "default_plan",
		"databases", "secrets", "build", "requires", "services", "hooks")
	if !ok {
		return nil
	}
	d.b = &Blueprint{
		Parameters: map[string]*Parameter{},
		Plans:      map[string]*Plan{},
		Databases:  map[string]*Database{},
		Secrets:    map[string]*Secret{},
		Services:   map[string]*Service{},
	}
	b := d.b
	if e, ok := d.required(top, "name", root.Line, ""); ok {
		if b.Name, ok = d.str(e); ok {
			if err := stamp.ValidateName("blueprint", b.Name); err != nil {
				d.add(e.val.Line, e.path, "%s", stamp.ErrorMessage(err))
			}
		}
	}
	if e, ok := d.required(top, "version", root.Line, ""); ok {
		if b.Version, ok = d.str(e); ok && !ValidVersion(b.Version) {
			d.add(e.val.Line, e.path, "%q is not a semantic version (want MAJOR.MINOR.PATCH, e.g. 1.2.0)", b.Version)
		}
	}
	if e, ok := top["description"]; ok {
		b.Description, _ = d.str(e)
	}
	// References in services and hooks name parameters, databases and
	// secrets, so those are decoded first.
	d.parameters(top["parameters"])
	d.databases(top["databases"])
	d.secrets(top["secrets"])
	d.plans(top["plans"], top["default_plan"])
	if e, ok := top["build"]; ok {
		b.Build, _ = d.strList(e, false, false)
	}
	if e, ok := top["requires"]; ok {
		d.requires(e)
	}
	if e, ok := d.required(top, "services", root.Line, ""); ok {
		d.services(e)
	}
	if e, ok := top["hooks"]; ok {
		d.hooks(e)
	}
	return b
}

func (d *decoder) syntaxError(err error, data []byte) {
	line, msg := 1, strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	// A reference in a flow collection is the classic mistake: "{" and
	// "}" end a plain scalar there. YAML reports the line it was on when
	// it gave up, which may be the one before or after.
	lines := strings.Split(string(data), "\n")
	for i := max(line-2, 0); i < min(line+1, len(lines)); i++ {
		if strings.Contains(lines[i], "${") {
			msg += " (quote values that hold ${...} inside [...] or {...})"
			break
		}
	}
	d.add(line, "", "invalid YAML: %s", msg)
}

func (d *decoder) parameters(e entry) {
	if e.val == nil {
		return
	}
	entries, _ := d.entries(e.val, e.path)
	for _, e := range entries {
		d.checkIdent("parameter", e)
		p := &Parameter{}
		d.b.Parameters[e.name] = p
		f, _ := d.fields(e.val, e.path, "default", "required", "pattern", "secret")
		if e, ok := f["pattern"]; ok {
			if p.Pattern, ok = d.str(e); ok {
				re, err := regexp.Compile(p.Pattern)
				if err != nil {
					d.add(e.val.Line, e.path, "invalid pattern %q: %v", p.Pattern, err)
				}
				p.re = re
			}
		}
		if e, ok := f["required"]; ok {
			p.Required, _ = d.boolean(e)
		}
		if e, ok := f["secret"]; ok {
			p.Secret, _ = d.boolean(e)
		}
		if e, ok := f["default"]; ok {
			if p.Default, ok = d.str(e); ok {
				if p.re != nil && !p.re.MatchString(p.Default) {
					d.add(e.val.Line, e.path, "default %q does not match pattern %q", p.Default, p.Pattern)
				}
				if p.Required {
					d.add(e.val.Line, e.path, "a required parameter cannot have a default")
				}
			}
		}
	}
}

func (d *decoder) databases(e entry) {
	if e.val == nil {
		return
	}
	entries, _ := d.entries(e.val, e.path)
	for _, e := range entries {
		d.checkIdent("database", e)
		db := &Database{Engine: "sqlite"}
		d.b.Databases[e.name] = db
		f, _ := d.fields(e.val, e.path, "engine")
		if e, ok := f["engine"]; ok {
			if db.Engine, ok = d.str(e); ok && !slices.Contains(engines, db.Engine) {
				d.add(e.val.Line, e.path, "unknown engine %q (engines: %s)", db.Engine, strings.Join(engines, ", "))
			}
		}
	}
}

func (d *decoder) secrets(e entry) {
	if e.val == nil {
		return
	}
	entries, _ := d.entries(e.val, e.path)
	for _, e := range entries {
		d.checkIdent("secret", e)
		s := &Secret{}
		d.b.Secrets[e.name] = s
		f, ok := d.fields(e.val, e.path, "generate")
		if !ok {
			continue
		}
		if g, ok := d.required(f, "generate", e.key.Line, e.path); ok {
			if s.Generate, ok = d.integer(g); ok && (s.Generate < 1 || s.Generate > 1024) {
				d.add(g.val.Line, g.path, "must be between 1 and 1024 (bytes of randomness), not %d", s.Generate)
			}
		}
	}
}

func (d *decoder) plans(plans, defaultPlan entry) {
	b := d.b
	if plans.val != nil {
		entries, _ := d.entries(plans.val, plans.path)
		for _, e := range entries {
			if err := stamp.ValidateName("plan", e.name); err != nil {
				d.add(e.key.Line, e.path, "%s", stamp.ErrorMessage(err))
			}
			p := &Plan{Replicas: 1, Outbound: true, Connections: DefaultConnections}
			b.Plans[e.name] = p
			f, _ := d.fields(e.val, e.path, "memory", "cpu", "pids", "replicas", "idle", "outbound", "connections", "pool", "backup")
			if e, ok := f["memory"]; ok {
				if s, ok := d.str(e); ok {
					var err error
					if p.Memory, err = parseSize(s); err != nil {
						d.add(e.val.Line, e.path, "%v", err)
					}
				}
			}
			if e, ok := f["cpu"]; ok {
				if s, ok := d.str(e); ok {
					var err error
					if p.CPU, err = parseCPU(s); err != nil {
						d.add(e.val.Line, e.path, "%v", err)
					}
				}
			}
			if e, ok := f["pids"]; ok {
				if p.PIDs, ok = d.integer(e); ok && p.PIDs < 1 {
					d.add(e.val.Line, e.path, "must be at least 1, not %d", p.PIDs)
				}
			}
			if e, ok := f["replicas"]; ok {
				if p.Replicas, ok = d.integer(e); ok && p.Replicas < 1 {
					d.add(e.val.Line, e.path, "must be at least 1, not %d", p.Replicas)
				}
			}
			if e, ok := f["idle"]; ok {
				p.Idle, _ = d.duration(e)
			}
			if e, ok := f["outbound"]; ok {
				p.Outbound, _ = d.boolean(e)
			}
			if e, ok := f["connections"]; ok {
				if p.Connections, ok = d.integer(e); ok && (p.Connections < 1 || p.Connections > MaxConnections) {
					d.add(e.val.Line, e.path, "must be between 1 and %d, not %d", MaxConnections, p.Connections)
				}
			}
			if e, ok := f["backup"]; ok {
				p.Backup = d.backupSchedule(e)
			}
			if e, ok := f["pool"]; ok {
				if p.Pool, ok = d.integer(e); ok && (p.Pool < 0 || p.Pool > MaxPool) {
					d.add(e.val.Line, e.path, "must be between 0 and %d, not %d", MaxPool, p.Pool)
				}
				// A pooled stamp is made before its tenant is known,
				// with the parameters' defaults.
				for _, name := range sortedKeys(d.b.Parameters) {
					if p.Pool > 0 && d.b.Parameters[name].Required {
						d.add(e.val.Line, e.path, "a pooled stamp is made before its tenant is known, so parameter %q cannot be required (give it a default)", name)
					}
				}
			}
		}
	}
	if len(b.Plans) == 0 {
		b.Plans["default"] = &Plan{Replicas: 1, Outbound: true, Connections: DefaultConnections}
	}
	names := strings.Join(sortedKeys(b.Plans), ", ")
	switch {
	case defaultPlan.val != nil:
		name, ok := d.str(defaultPlan)
		if ok && b.Plans[name] == nil {
			d.add(defaultPlan.val.Line, defaultPlan.path, "plan %q does not exist (plans: %s)", name, names)
		}
		b.DefaultPlan = name
	case len(b.Plans) == 1:
		b.DefaultPlan = sortedKeys(b.Plans)[0]
	default:
		d.add(plans.key.Line, "default_plan", "is required when there is more than one plan (plans: %s)", names)
	}
}

// backupSchedule decodes a plan's backup: {every: 24h, keep: 7}, both
// required.
func (d *decoder) backupSchedule(e entry) *BackupSchedule {
	f, ok := d.fields(e.val, e.path, "every", "keep")
	if !ok {
		return nil
	}
	s := &BackupSchedule{}
	every, hasEvery := f["every"]
	keep, hasKeep := f["keep"]
	if !hasEvery || !hasKeep {
		d.add(e.val.Line, e.path, "needs both every (how often, e.g. 24h) and keep (how many backups are kept, e.g. 7)")
		return nil
	}
	if s.Every, ok = d.duration(every); ok && s.Every < MinBackupEvery {
		d.add(every.val.Line, every.path, "must be at least %s, not %s", MinBackupEvery, s.Every)
	}
	if s.Keep, ok = d.integer(keep); ok && (s.Keep < 1 || s.Keep > MaxBackupKeep) {
		d.add(keep.val.Line, keep.path, "must be between 1 and %d, not %d", MaxBackupKeep, s.Keep)
	}
	return s
}

func (d *decoder) services(e entry) {
	entries, ok := d.entries(e.val, e.path)
	if ok && len(entries) == 0 {
		d.add(e.key.Line, e.path, "at least one service is required")
	}
	type publicService struct {
		name string
		flag entry
	}
	var public []publicService
	for _, e := range entries {
		if err := stamp.ValidateName("service", e.name); err != nil {
			d.add(e.key.Line, e.path, "%s", stamp.ErrorMessage(err))
		}
		s := &Service{}
		d.b.Services[e.name] = s
		f, ok := d.fields(e.val, e.path, "command", "image", "port", "public", "env", "health", "port_env", "upgrade", "bind")
		if !ok {
			continue
		}
		d.serviceExtras(s, f)
		if c, ok := f["command"]; ok {
			s.Command, _ = d.strList(c, true, true)
		}
		if i, ok := f["image"]; ok {
			if s.Image, ok = d.str(i); ok && s.Image == "" {
				d.add(i.val.Line, i.path, "must not be empty")
			}
		}
		if f["command"].val == nil && f["image"].val == nil {
			d.add(e.key.Line, e.path, "needs a command (local driver) or an image (kubernetes driver)")
		}
		if p, ok := f["port"]; ok {
			if s.Port, ok = d.integer(p); ok && (s.Port < 1 || s.Port > 65535) {
				d.add(p.val.Line, p.path, "must be between 1 and 65535, not %d", s.Port)
			}
		}
		if p, ok := f["public"]; ok {
			if s.Public, _ = d.boolean(p); s.Public {
				if f["port"].val == nil {
					d.add(p.val.Line, p.path, "a public service needs a port")
				}
				public = append(public, publicService{e.name, p})
			}
		}
		if env, ok := f["env"]; ok {
			d.env(s, env)
		}
		if h, ok := f["health"]; ok {
			s.Health = d.health(h)
			if f["port"].val == nil {
				d.add(h.key.Line, h.path, "a health check needs a port")
			}
		}
	}
	slices.SortFunc(public, func(a, b publicService) int { return a.flag.val.Line - b.flag.val.Line })
	for _, p := range public[min(1, len(public)):] {
		d.add(p.flag.val.Line, p.flag.path, "only one service may be public; %s (line %d) is public too",
			public[0].name, public[0].flag.val.Line)
	}
}

func (d *decoder) env(s *Service, e entry) {
	portProblem := ""
	if !s.NoPortEnv {
		portProblem = "PORT is set by Stamp (port_env: false on the service leaves it to you)"
	}
	s.Env = d.envMap(e, portProblem)
}

// envMap decodes an env mapping, checking names and references. PORT is
// refused with portProblem unless that is empty.
func (d *decoder) envMap(e entry, portProblem string) map[string]string {
	entries, _ := d.entries(e.val, e.path)
	env := make(map[string]string, len(entries))
	for _, e := range entries {
		switch {
		case !envNameRE.MatchString(e.name):
			d.add(e.key.Line, e.path, "invalid environment variable name %q", e.name)
		case e.name == "PORT" && portProblem != "":
			d.add(e.key.Line, e.path, "%s", portProblem)
		case strings.HasPrefix(e.name, "STAMP_"):
			d.add(e.key.Line, e.path, "%s is set by Stamp", e.name)
		}
		if v, ok := d.str(e); ok {
			env[e.name] = v
			d.checkRefs(e, v, e.val.Line)
		}
	}
	return env
}

func (d *decoder) health(e entry) *Health {
	h := &Health{Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout}
	f, ok := d.fields(e.val, e.path, "http", "interval", "timeout")
	if !ok {
		return h
	}
	if p, ok := d.required(f, "http", e.key.Line, e.path); ok {
		if h.HTTP, ok = d.str(p); ok && !strings.HasPrefix(h.HTTP, "/") {
			d.add(p.val.Line, p.path, "path %q must start with /", h.HTTP)
		}
	}
	if p, ok := f["interval"]; ok {
		h.Interval, _ = d.duration(p)
	}
	if p, ok := f["timeout"]; ok {
		h.Timeout, _ = d.duration(p)
	}
	return h
}

// checkRefs reports the first bad reference in s, the value of e.
func (d *decoder) checkRefs(e entry, s string, line int) {
	if _, err := expand(s, func(ref string) (string, error) { return d.b.lookup(ref, nil) }); err != nil {
		d.add(line, e.path, "%v", err)
	}
}

func (d *decoder) checkIdent(kind string, e entry) {
	if !identRE.MatchString(e.name) {
		d.add(e.key.Line, e.path, "%s name %q must match [a-z][a-z0-9_]*", kind, e.name)
	}
}

// required returns the entry name of m, the fields of the mapping at
// path whose key is on line, reporting it if missing.
func (d *decoder) required(m map[string]entry, name string, line int, path string) (entry, bool) {
	e, ok := m[name]
	if !ok {
		d.add(line, join(path, name), "is required")
	}
	return e, ok
}

// entries returns the pairs of the mapping n at path, reporting anything
// that is not a mapping and duplicate keys. A null is an empty mapping.
func (d *decoder) entries(n *yaml.Node, path string) ([]entry, bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, path, "must be a mapping, not %s", describe(n))
		return nil, false
	}
	first := map[string]int{}
	var out []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		switch {
		case k.Kind != yaml.ScalarNode:
			d.add(k.Line, path, "keys must be strings, not %s", describe(k))
			continue
		case k.ShortTag() == "!!merge":
			d.add(k.Line, join(path, k.Value), "merge keys are not supported")
			continue
		}
		p := join(path, k.Value)
		if line, dup := first[k.Value]; dup {
			d.add(k.Line, p, "duplicate key (first at line %d)", line)
			continue
		}
		first[k.Value] = k.Line
		out = append(out, entry{name: k.Value, path: p, key: k, val: v})
	}
	return out, true
}

// fields is entries for a mapping with a fixed set of keys: unknown keys
// are reported, with a suggestion when one is close.
func (d *decoder) fields(n *yaml.Node, path string, known ...string) (map[string]entry, bool) {
	entries, ok := d.entries(n, path)
	out := make(map[string]entry, len(entries))
	for _, e := range entries {
		if !slices.Contains(known, e.name) {
			d.add(e.key.Line, e.path, "unknown key%s", suggest(e.name, known))
			continue
		}
		out[e.name] = e
	}
	return out, ok
}

func (d *decoder) str(e entry) (string, bool) {
	if e.val.Kind != yaml.ScalarNode || isNull(e.val) {
		d.add(e.val.Line, e.path, "must be a string, not %s", describe(e.val))
		return "", false
	}
	if strings.ContainsRune(e.val.Value, 0) {
		d.add(e.val.Line, e.path, "must not contain a NUL byte")
		return "", false
	}
	return e.val.Value, true
}

func (d *decoder) integer(e entry) (int, bool) {
	var i int
	if e.val.Kind != yaml.ScalarNode || e.val.ShortTag() != "!!int" {
		d.add(e.val.Line, e.path, "must be an integer, not %s", describe(e.val))
		return 0, false
	}
	if err := e.val.Decode(&i); err != nil {
		d.add(e.val.Line, e.path, "integer %s is out of range", e.val.Value)
		return 0, false
	}
	return i, true
}

func (d *decoder) boolean(e entry) (bool, bool) {
	var v bool
	if e.val.Kind != yaml.ScalarNode || e.val.ShortTag() != "!!bool" || e.val.Decode(&v) != nil {
		d.add(e.val.Line, e.path, "must be true or false, not %s", describe(e.val))
		return false, false
	}
	return v, true
}

func (d *decoder) duration(e entry) (time.Duration, bool) {
	s, ok := d.str(e)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		d.add(e.val.Line, e.path, "invalid duration %q: want a number with a unit, e.g. 30s, 5m or 1h30m", s)
		return 0, false
	case v <= 0:
		d.add(e.val.Line, e.path, "duration %q must be greater than 0", s)
		return 0, false
	}
	return v, true
}

// strList decodes a list of strings. With refs, each item is checked for
// bad references.
func (d *decoder) strList(e entry, nonEmpty, refs bool) ([]string, bool) {
	if e.val.Kind != yaml.SequenceNode {
		d.add(e.val.Line, e.path, "must be a list of strings, not %s", describe(e.val))
		return nil, false
	}
	if nonEmpty && len(e.val.Content) == 0 {
		d.add(e.val.Line, e.path, "must not be empty")
		return nil, false
	}
	out := make([]string, 0, len(e.val.Content))
	ok := true
	for i, n := range e.val.Content {
		item := entry{path: fmt.Sprintf("%s[%d]", e.path, i), val: resolve(n)}
		s, good := d.str(item)
		if good && refs {
			d.checkRefs(item, s, item.val.Line)
		}
		out = append(out, s)
		ok = ok && good
	}
	return out, ok
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// withinBudget reports whether n expands to at most *budget nodes,
// following aliases (which may form cycles).
func withinBudget(n *yaml.Node, budget *int) bool {
	if *budget--; *budget < 0 {
		return false
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return withinBudget(n.Alias, budget)
	}
	for _, c := range n.Content {
		if !withinBudget(c, budget) {
			return false
		}
	}
	return true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names the kind of a node for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!bool":
		return "a boolean"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!str":
		return "a string"
	}
	return "a value tagged " + n.ShortTag()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest returns ` (did you mean "x"?)` for the known key closest to key,
// or "" if none is close.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
