package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/cgroups/v3"
)

// facts are what the host offers, as probe finds them, for choose.
type facts struct {
	euid    int
	mode    cgroups.CGMode
	unified []string // controllers the unified (v2) hierarchy's root offers
	v1      []string // controllers mounted as v1 hierarchies
}

// probe finds the facts of this host.
func probe() facts {
	f := facts{euid: os.Geteuid(), mode: cgroups.Mode()}
	switch f.mode {
	case cgroups.Unified:
		f.unified = controllersOf(root)
	case cgroups.Hybrid:
		f.unified = controllersOf(filepath.Join(root, "unified"))
	}
	if f.mode == cgroups.Legacy || f.mode == cgroups.Hybrid {
		for _, c := range append(slices.Clone(wanted), "cpuacct") {
			if _, err := os.Stat(filepath.Join(root, c, "cgroup.procs")); err == nil {
				f.v1 = append(f.v1, c)
			}
		}
	}
	return f
}

// controllersOf lists the controllers a v2 hierarchy mounted at dir offers.
func controllersOf(dir string) []string {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(data))
}

// choice is what choose decides from the facts: the mode, the controllers
// used among wanted (plus cpuacct for v1's CPU usage) and, when the mode
// is ModeNone, why.
type choice struct {
	mode        string
	controllers []string
	v2root      string // where the unified hierarchy is mounted, for ModeV2
	cpuacct     bool   // v1 has cpuacct, for CPU usage
	problem     string
}

// choose picks the version that offers more of the wanted controllers,
// v2 on a tie: a hybrid host whose unified hierarchy has them uses it,
// one that mounts them as v1 hierarchies (beside a v2 one with none, as
// systemd does in its hybrid mode) uses v1. Mixing versions, some limits
// in one and some in the other, would double every operation for a
// layout no distribution ships.
func choose(f facts) choice {
	if f.euid != 0 {
		return choice{mode: ModeNone, problem: fmt.Sprintf("the server runs as uid %d, not root, and may not make control groups: tenant limits are not enforced", f.euid)}
	}
	if f.mode == cgroups.Unavailable {
		return choice{mode: ModeNone, problem: "no cgroup hierarchy is mounted at " + root + ": tenant limits are not enforced"}
	}
	v2, v1 := among(wanted, f.unified), among(wanted, f.v1)
	switch {
	case len(v2) > 0 && len(v2) >= len(v1):
		v2root := root
		if f.mode == cgroups.Hybrid {
			v2root = filepath.Join(root, "unified")
		}
		return choice{mode: ModeV2, controllers: v2, v2root: v2root}
	case len(v1) > 0:
		return choice{mode: ModeV1, controllers: v1, cpuacct: slices.Contains(f.v1, "cpuacct")}
	}
	return choice{mode: ModeNone, problem: "no cgroup hierarchy offers the memory, cpu or pids controller: tenant limits are not enforced"}
}

// among is the elements of want that have has, in want's order.
func among(want, has []string) []string {
	var out []string
	for _, c := range want {
		if slices.Contains(has, c) {
			out = append(out, c)
		}
	}
	return out
}

// enforces says what each wanted controller's absence leaves unenforced.
var enforces = map[string]string{
	"memory": "memory limits",
	"cpu":    "CPU limits",
	"pids":   "process limits",
}

// problems is the one line for the operator on what a host in mode with
// controllers does not enforce ("" if it enforces everything). swap says
// whether the memory controller accounts swap, so that it can be held at
// the memory limit.
func problems(mode string, controllers []string, swap, cpuacct bool) string {
	var out []string
	for _, c := range wanted {
		if !slices.Contains(controllers, c) {
			out = append(out, fmt.Sprintf("cgroup %s has no %s controller: %s are not enforced", mode, c, enforces[c]))
		}
	}
	if slices.Contains(controllers, "memory") && !swap {
		out = append(out, fmt.Sprintf("cgroup %s does not account swap: a tenant may swap past its memory limit", mode))
	}
	if mode == ModeV1 && !cpuacct {
		out = append(out, "cgroup v1 has no cpuacct controller: tenants' CPU usage is not measured")
	}
	return strings.Join(out, "; ")
}
