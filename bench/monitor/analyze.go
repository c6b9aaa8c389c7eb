package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	stamp "github.com/stamphq/stamp"
)

// kill is one process killed and what the monitor made of it.
type kill struct {
	tenant string
	pid    int
	at     time.Time // just before SIGKILL
	// From the event log: the first incident.opened of the tenant after
	// the kill, how many there were, and the incident's resolution.
	incident string
	opened   time.Time
	openings int
	resolved time.Time
	// From the incident: its openedAt, when the check that saw the exit
	// ran (the event follows the incident's write), and its cause.
	checked time.Time
	cause   string
}

// detected is the time from the kill to its incident.opened event.
func (k *kill) detected() time.Duration { return k.opened.Sub(k.at) }

// seen is the time from the kill to the check that saw it.
func (k *kill) seen() time.Duration { return k.checked.Sub(k.at) }

// recovered is the time from the kill to its incident.resolved event.
func (k *kill) recovered() time.Duration { return k.resolved.Sub(k.at) }

// open is how long the incident stayed open, by its events.
func (k *kill) open() time.Duration { return k.resolved.Sub(k.opened) }

// analyze matches each kill with its tenant's incident events in events
// (the whole log; kills are of distinct tenants, in time order): the first
// incident.opened at or after the kill, how many opened then, and the
// resolution of the first. It returns every other incident.opened at or
// after since: of a tenant not killed, or of a killed one before its kill.
func analyze(kills []*kill, events []*stamp.Event, since time.Time) (spurious []string) {
	byTenant := map[string]*kill{}
	for _, k := range kills {
		byTenant[k.tenant] = k
		k.incident, k.opened, k.openings, k.resolved = "", time.Time{}, 0, time.Time{}
	}
	for _, e := range events {
		if e.Time.Before(since) {
			continue
		}
		k := byTenant[e.Tenant]
		switch e.Type {
		case stamp.EventIncidentOpened:
			if k == nil || e.Time.Before(k.at) {
				spurious = append(spurious, fmt.Sprintf("%s: incident %s opened at %s: %s", e.Tenant, e.Incident, e.Time.Format("15:04:05.000"), e.Message))
				continue
			}
			k.openings++
			if k.openings == 1 {
				k.incident, k.opened = e.Incident, e.Time
			}
		case stamp.EventIncidentResolved:
			if k != nil && k.incident != "" && e.Incident == k.incident && k.resolved.IsZero() {
				k.resolved = e.Time
			}
		}
	}
	return spurious
}

// withIncident returns the kills whose incident opened, and those whose
// incident also resolved.
func withIncident(kills []*kill) (opened, resolved []*kill) {
	for _, k := range kills {
		if k.openings == 0 {
			continue
		}
		opened = append(opened, k)
		if !k.resolved.IsZero() {
			resolved = append(resolved, k)
		}
	}
	return opened, resolved
}

// profile is what perf saw of the fleet's server.
type profile struct {
	skipped   string         // why there is no profile, or ""
	wall, cpu time.Duration  // the profile's length and the server's CPU time in it
	samples   map[string]int // by part (a part's name)
	total     int
	// monitor counts the samples of the monitor's parts by where in the
	// monitor they are (see detail).
	monitor map[string]int
}

// part is a part of the server a stack sample can belong to. A sample
// belongs to the part of the outermost frame that one of the parts
// claims: the goroutine's own code, not what it calls (the monitor calls
// the reconciler's blueprint cache and the store; a reconcile pass calls
// health probes). Shared parts (the Go runtime's own goroutines) serve
// all the others.
type part struct {
	name    string
	monitor bool // it is the monitor's
	shared  bool
	frames  []string // prefixes of the frames it claims
}

// parts are tried in order at each frame, from the outermost in.
var parts = []part{
	{name: "monitor: checks (with the store, driver and probe calls they make)", monitor: true,
		frames: []string{"github.com/stamphq/stamp/monitor.", "github.com/stamphq/stamp/health."}},
	// While idle, the probes are the server's only HTTP client traffic.
	{name: "monitor: probe connections (net/http client dials, reads, writes)", monitor: true,
		frames: []string{"net/http.(*persistConn)", "net/http.(*Transport)"}},
	{name: "reconciler (lease renewals, resyncs, passes)", frames: []string{"github.com/stamphq/stamp/reconcile."}},
	{name: "local driver (instance supervisors)", frames: []string{"github.com/stamphq/stamp/driver/local."}},
	{name: "router (route sync)", frames: []string{"github.com/stamphq/stamp/router."}},
	{name: "release controller", frames: []string{"github.com/stamphq/stamp/rollout."}},
	{name: "webhooks", frames: []string{"github.com/stamphq/stamp/notify."}},
	{name: "metrics", frames: []string{"github.com/stamphq/stamp/metrics."}},
	{name: "API server", frames: []string{"github.com/stamphq/stamp/httpapi.", "net/http.(*conn)", "net/http.(*Server)"}},
	{name: "store connections (database/sql)", frames: []string{"database/sql."}},
	{name: "Go runtime: garbage collector", shared: true,
		frames: []string{"runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcStart", "runtime.forcegchelper"}},
}

// Parts of samples no entry of parts claims.
var (
	runtimePart = part{name: "Go runtime: scheduler, timers, network poller", shared: true}
	otherPart   = part{name: "other"}
)

// classify returns the part that stack (innermost frame first) belongs to
// and, for the monitor's parts, where in the monitor: the innermost
// monitor frame and what it called, or the probe connection's outermost
// net/http frame.
func classify(stack []string) (part, string) {
	for i := len(stack) - 1; i >= 0; i-- {
		for _, p := range parts {
			for _, prefix := range p.frames {
				if strings.HasPrefix(stack[i], prefix) {
					return p, detail(p, stack[:i+1])
				}
			}
		}
	}
	for _, f := range stack {
		if strings.HasPrefix(f, "runtime.") {
			return runtimePart, ""
		}
	}
	return otherPart, ""
}

// stampPkg is the prefix of the frames of Stamp's own packages.
const stampPkg = "github.com/stamphq/stamp/"

// detail says where in the monitor's part p a stack is, given the stack
// up to the frame that made it p's (its last).
func detail(p part, stack []string) string {
	if !p.monitor {
		return ""
	}
	if p.name != parts[0].name {
		return stack[len(stack)-1]
	}
	i := len(stack) - 1
	for i > 0 && strings.HasPrefix(stack[i-1], stampPkg+"monitor.") {
		i--
	}
	if i == 0 {
		return strings.TrimPrefix(stack[0], stampPkg) + " (itself)"
	}
	return strings.TrimPrefix(stack[i], stampPkg) + " → " + strings.TrimPrefix(stack[i-1], stampPkg)
}

// allParts is every part, in the report's order.
func allParts() []part { return append(append([]part{}, parts...), runtimePart, otherPart) }

// parseProfile reads the output of `perf script -F comm,tid,ip,sym` of a
// profile recorded with call graphs: per sample a header line, then one
// "address symbol" line per frame, innermost first, then a blank line. It
// counts the samples by part and, for the monitor's, by where in it.
func parseProfile(r io.Reader) (*profile, error) {
	p := &profile{samples: map[string]int{}, monitor: map[string]int{}}
	var stack []string
	inSample := false
	flush := func() {
		if inSample {
			pt, where := classify(stack)
			p.samples[pt.name]++
			if pt.monitor {
				p.monitor[where]++
			}
			p.total++
		}
		stack, inSample = stack[:0], false
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			if f := strings.Fields(line); len(f) >= 2 {
				stack = append(stack, strings.Join(f[1:], " "))
			}
		default:
			flush()
			inSample = true
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read perf script output: %w", err)
	}
	return p, nil
}

// monitorShare returns the monitor's share of the profile's samples: of
// all of them (direct), and with the shared parts' samples split among the
// others in proportion (estimated).
func (p *profile) monitorShare() (direct, estimated float64) {
	if p.total == 0 {
		return 0, 0
	}
	var mon, shared int
	for _, pt := range allParts() {
		switch {
		case pt.monitor:
			mon += p.samples[pt.name]
		case pt.shared:
			shared += p.samples[pt.name]
		}
	}
	direct = float64(mon) / float64(p.total)
	if own := p.total - shared; own > 0 {
		estimated = float64(mon) / float64(own)
	}
	return direct, estimated
}
