package cgroup

import (
	"slices"
	"strings"
	"testing"

	"github.com/containerd/cgroups/v3"
)

func TestChoose(t *testing.T) {
	all := []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}
	tests := []struct {
		name        string
		f           facts
		mode        string
		controllers []string
		v2root      string
		cpuacct     bool
		problem     string // a part of it
	}{
		{"not root", facts{euid: 1000, mode: cgroups.Unified, unified: all}, ModeNone, nil, "", false, "uid 1000, not root"},
		{"nothing mounted", facts{mode: cgroups.Unavailable}, ModeNone, nil, "", false, "no cgroup hierarchy is mounted"},
		{"unified", facts{mode: cgroups.Unified, unified: all}, ModeV2, wanted, root, false, ""},
		{"unified without pids", facts{mode: cgroups.Unified, unified: []string{"memory", "cpu"}}, ModeV2, []string{"memory", "cpu"}, root, false, ""},
		{"unified without controllers", facts{mode: cgroups.Unified}, ModeNone, nil, "", false, "no cgroup hierarchy offers"},
		{"hybrid, controllers in v1", facts{mode: cgroups.Hybrid, unified: []string{"hugetlb"}, v1: []string{"memory", "cpu", "pids", "cpuacct"}}, ModeV1, wanted, "", true, ""},
		{"hybrid, controllers in v2", facts{mode: cgroups.Hybrid, unified: all}, ModeV2, wanted, root + "/unified", false, ""},
		{"hybrid, more in v1", facts{mode: cgroups.Hybrid, unified: []string{"pids"}, v1: []string{"memory", "cpu"}}, ModeV1, []string{"memory", "cpu"}, "", false, ""},
		{"hybrid, a tie", facts{mode: cgroups.Hybrid, unified: []string{"pids"}, v1: []string{"memory"}}, ModeV2, []string{"pids"}, root + "/unified", false, ""},
		{"legacy", facts{mode: cgroups.Legacy, v1: []string{"memory", "cpu", "pids", "cpuacct"}}, ModeV1, wanted, "", true, ""},
		{"legacy without cpuacct", facts{mode: cgroups.Legacy, v1: []string{"memory", "cpu"}}, ModeV1, []string{"memory", "cpu"}, "", false, ""},
		{"legacy without controllers", facts{mode: cgroups.Legacy, v1: []string{"cpuacct"}}, ModeNone, nil, "", false, "no cgroup hierarchy offers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := choose(tt.f)
			if c.mode != tt.mode || !slices.Equal(c.controllers, tt.controllers) || c.v2root != tt.v2root || c.cpuacct != tt.cpuacct {
				t.Errorf("got %s %v %q cpuacct=%v, want %s %v %q cpuacct=%v", c.mode, c.controllers, c.v2root, c.cpuacct, tt.mode, tt.controllers, tt.v2root, tt.cpuacct)
			}
			if tt.problem == "" && c.problem != "" || !strings.Contains(c.problem, tt.problem) {
				t.Errorf("problem: got %q, want one with %q", c.problem, tt.problem)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		mode        string
		controllers []string
		swap        bool
		cpuacct     bool
		want        string
	}{
		{ModeV2, wanted, true, false, ""},
		{ModeV1, wanted, true, true, ""},
		{ModeV1, []string{"memory", "cpu"}, true, true, "cgroup v1 has no pids controller: process limits are not enforced"},
		{ModeV2, []string{"pids"}, false, false, "cgroup v2 has no memory controller: memory limits are not enforced; cgroup v2 has no cpu controller: CPU limits are not enforced"},
		{ModeV2, wanted, false, false, "cgroup v2 does not account swap: a tenant may swap past its memory limit"},
		{ModeV1, []string{"pids"}, false, false, "cgroup v1 has no memory controller: memory limits are not enforced; cgroup v1 has no cpu controller: CPU limits are not enforced; cgroup v1 has no cpuacct controller: tenants' CPU usage is not measured"},
	}
	for _, tt := range tests {
		if got := problems(tt.mode, tt.controllers, tt.swap, tt.cpuacct); got != tt.want {
			t.Errorf("problems(%s, %v, swap=%v, cpuacct=%v): got %q, want %q", tt.mode, tt.controllers, tt.swap, tt.cpuacct, got, tt.want)
		}
	}
}

func TestValidParent(t *testing.T) {
	for _, p := range []string{"stamp/3f9a1c2b", "stamptest/local-12-3", "a", "A_b.c"} {
		if err := validParent(p); err != nil {
			t.Errorf("validParent(%q): %v", p, err)
		}
	}
	for _, p := range []string{"", "stamp//x", "stamp/..", "../etc", "./x", "a b", "stamp/x\n"} {
		if validParent(p) == nil {
			t.Errorf("validParent(%q): got nil, want an error", p)
		}
	}
	if h := Open("../../etc"); h.Mode() != ModeNone || h.Problem() == "" {
		t.Errorf("Open of a bad parent: got %s %q, want %s and a problem", h.Mode(), h.Problem(), ModeNone)
	}
}
