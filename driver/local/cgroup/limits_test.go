package cgroup

import (
	"fmt"
	"math"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/stamphq/stamp"
)

func TestInForce(t *testing.T) {
	plan := stamp.Limits{Memory: 256 << 20, CPU: 0.5, PIDs: 100}
	tests := []struct {
		name        string
		l           stamp.Limits
		controllers []string
		want        stamp.Limits
	}{
		{"all", plan, wanted, plan},
		{"no pids controller", plan, []string{"memory", "cpu"}, stamp.Limits{Memory: 256 << 20, CPU: 0.5}},
		{"no controller", plan, nil, stamp.Limits{}},
		{"none set", stamp.Limits{}, wanted, stamp.Limits{}},
		{"negative is none", stamp.Limits{Memory: -1, CPU: -1, PIDs: -1}, wanted, stamp.Limits{}},
		{"CPU rounded to the quota", stamp.Limits{CPU: 0.333333}, wanted, stamp.Limits{CPU: 0.33333}},
		{"CPU at least the least quota", stamp.Limits{CPU: 0.001}, wanted, stamp.Limits{CPU: 0.01}},
	}
	for _, tt := range tests {
		if got := inForce(tt.l, tt.controllers); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestV1Resources(t *testing.T) {
	tests := []struct {
		name                         string
		in                           stamp.Limits
		swap                         bool
		memory, memsw, quota, pidMax int64 // memsw -2: not written
	}{
		{"limits", stamp.Limits{Memory: 64 << 20, CPU: 0.2, PIDs: 20}, true, 64 << 20, 64 << 20, 20_000, 20},
		{"none", stamp.Limits{}, true, -1, -1, -1, pidMaxLimit},
		{"no swap accounting", stamp.Limits{Memory: 64 << 20, CPU: 2.5}, false, 64 << 20, -2, 250_000, pidMaxLimit},
	}
	for _, tt := range tests {
		res := v1Resources(tt.in, tt.swap)
		memsw := int64(-2)
		if res.Memory.Swap != nil {
			memsw = *res.Memory.Swap
		}
		got := [...]int64{*res.Memory.Limit, memsw, *res.CPU.Quota, int64(*res.CPU.Period), *res.Pids.Limit}
		want := [...]int64{tt.memory, tt.memsw, tt.quota, cfsPeriod, tt.pidMax}
		if got != want {
			t.Errorf("%s: got memory, memsw, quota, period, pids %v, want %v", tt.name, got, want)
		}
	}
}

func TestV2Resources(t *testing.T) {
	tests := []struct {
		name        string
		in          stamp.Limits
		controllers []string
		swap        bool
		want        string
	}{
		{"limits", stamp.Limits{Memory: 64 << 20, CPU: 0.2, PIDs: 20}, wanted, true, "memory.max=67108864 memory.swap.max=0 cpu.max=20000 100000 pids.max=20"},
		{"none", stamp.Limits{}, wanted, true, "memory.max=max memory.swap.max=max cpu.max=max 100000 pids.max=max"},
		{"no swap accounting", stamp.Limits{Memory: 64 << 20}, wanted, false, "memory.max=67108864 memory.swap.max=- cpu.max=max 100000 pids.max=max"},
		{"only pids", stamp.Limits{PIDs: 20}, []string{"pids"}, false, "memory.max=- memory.swap.max=- cpu.max=- pids.max=20"},
	}
	for _, tt := range tests {
		if got := describeV2(v2Resources(tt.in, tt.controllers, tt.swap)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// describeV2 shows what res has the library write, as the kernel reads
// it ("-" for a file not written).
func describeV2(res *cgroup2.Resources) string {
	num := func(p *int64) string {
		switch {
		case p == nil:
			return "-"
		case *p == math.MaxInt64:
			return "max"
		}
		return fmt.Sprint(*p)
	}
	memory, swap, cpu, pids := "-", "-", "-", "-"
	if res.Memory != nil {
		memory, swap = num(res.Memory.Max), num(res.Memory.Swap)
	}
	if res.CPU != nil {
		cpu = string(res.CPU.Max)
	}
	if res.Pids != nil {
		pids = "max"
		if res.Pids.Max > 0 {
			pids = fmt.Sprint(res.Pids.Max)
		}
	}
	return fmt.Sprintf("memory.max=%s memory.swap.max=%s cpu.max=%s pids.max=%s", memory, swap, cpu, pids)
}

func TestLimitOf(t *testing.T) {
	for _, tt := range []struct {
		v    uint64
		want int64
	}{
		{64 << 20, 64 << 20},
		{9223372036854771712, 0}, // v1's none
		{math.MaxUint64, 0},      // v2's "max"
		{0, 0},
	} {
		if got := limitOf(tt.v); got != tt.want {
			t.Errorf("limitOf(%d): got %d, want %d", tt.v, got, tt.want)
		}
	}
}
