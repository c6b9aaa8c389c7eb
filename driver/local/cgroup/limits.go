package cgroup

import (
	"math"
	"slices"

	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stamphq/stamp"
)

const (
	// cfsPeriod is the CFS period, in µs, of which a CPU limit is a
	// quota: the kernel's default, short enough that a limited tenant
	// is throttled in slices of at most 100ms.
	cfsPeriod = 100_000
	// minQuota is the smallest CFS quota the kernel takes, in µs.
	minQuota = 1_000
	// pidMaxLimit is Linux's PID_MAX_LIMIT: no more processes can
	// exist. It stands for "none" on v1, where the library cannot
	// write "max" to pids.max.
	pidMaxLimit = 4 << 20
	// unlimited is how a v2 memory limit of none is written: the
	// library writes numbers, v2 does not take v1's -1, and the kernel
	// clamps this one to its maximum, which it shows as "max".
	unlimited = math.MaxInt64
)

// inForce is l as a host with controllers enforces it: without the
// limits no controller enforces or l does not set (0 or less), the CPU
// rounded to the quota written.
func inForce(l stamp.Limits, controllers []string) stamp.Limits {
	var in stamp.Limits
	if slices.Contains(controllers, "memory") && l.Memory > 0 {
		in.Memory = l.Memory
	}
	if slices.Contains(controllers, "cpu") && l.CPU > 0 {
		in.CPU = float64(cpuQuota(l.CPU)) / cfsPeriod
	}
	if slices.Contains(controllers, "pids") && l.PIDs > 0 {
		in.PIDs = l.PIDs
	}
	return in
}

// cpuQuota is the CFS quota, in µs per cfsPeriod, of a limit of cores.
func cpuQuota(cores float64) int64 {
	return max(minQuota, int64(math.Round(cores*cfsPeriod)))
}

// v1Resources are the v1 settings of limits in (as inForce makes them):
// all of them, "none" for a limit in does not set. With swap accounted,
// memory and swap together are held at the memory limit, so a tenant
// cannot swap its way past it.
func v1Resources(in stamp.Limits, swap bool) *specs.LinuxResources {
	memory, quota, period, pids := int64(-1), int64(-1), uint64(cfsPeriod), int64(pidMaxLimit)
	if in.Memory > 0 {
		memory = in.Memory
	}
	if in.CPU > 0 {
		quota = cpuQuota(in.CPU)
	}
	if in.PIDs > 0 {
		pids = in.PIDs
	}
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &memory},
		CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period},
		Pids:   &specs.LinuxPids{Limit: &pids},
	}
	if swap {
		res.Memory.Swap = &memory
	}
	return res
}

// v2Resources are the v2 settings of limits in (as inForce makes them)
// for the controllers a host has: all of them, "max" for a limit in does
// not set. With swap accounted, a memory limit comes with no swap at
// all, so a tenant cannot swap its way past it.
func v2Resources(in stamp.Limits, controllers []string, swap bool) *cgroup2.Resources {
	var res cgroup2.Resources
	if slices.Contains(controllers, "memory") {
		memory, swapMax := int64(unlimited), int64(unlimited)
		if in.Memory > 0 {
			memory, swapMax = in.Memory, 0
		}
		res.Memory = &cgroup2.Memory{Max: &memory}
		if swap {
			res.Memory.Swap = &swapMax
		}
	}
	if slices.Contains(controllers, "cpu") {
		period := uint64(cfsPeriod)
		var quota *int64
		if in.CPU > 0 {
			q := cpuQuota(in.CPU)
			quota = &q
		}
		res.CPU = &cgroup2.CPU{Max: cgroup2.NewCPUMax(quota, &period)}
	}
	if slices.Contains(controllers, "pids") {
		res.Pids = &cgroup2.Pids{Max: -1}
		if in.PIDs > 0 {
			res.Pids.Max = in.PIDs
		}
	}
	return &res
}

// limitOf is a memory limit as the kernel reports it, 0 for none: v1
// reports none as the largest multiple of a page below 2^63, v2 as "max",
// which the library reads as 2^64-1.
func limitOf(v uint64) int64 {
	if v >= 1<<62 {
		return 0
	}
	return int64(v)
}
