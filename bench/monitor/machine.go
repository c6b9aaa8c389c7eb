package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// machine is what the report says of the machine and the code measured.
type machine struct {
	nproc       int
	memTotalKiB int64
	memAvailKiB int64 // before the run
	kernel      string
	goVersion   string
	commit      string // short hash, and whether the tree had changes
	load        string // before the run
}

// readMachine reads the machine's figures and the commit of the module
// at root.
func readMachine(ctx context.Context, root string) (machine, error) {
	m := machine{nproc: runtime.NumCPU(), goVersion: runtime.Version(), load: benchkit.LoadAverage(), commit: commitOf(ctx, root)}
	var err error
	if m.memTotalKiB, err = benchkit.MemTotalKiB(); err != nil {
		return m, err
	}
	if m.memAvailKiB, err = benchkit.MemAvailableKiB(); err != nil {
		return m, err
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	return m, nil
}

// commitOf returns the short commit of the work tree at root, noting
// uncommitted changes to tracked files (they are built too), or "unknown"
// outside git.
func commitOf(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(out))
	status, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	if err != nil || len(strings.TrimSpace(string(status))) > 0 {
		commit += " with uncommitted changes"
	}
	return commit
}

// passiveOpens reads how many TCP connections the machine has accepted
// (PassiveOpens in /proc/net/snmp): the monitor's probes open one each.
func passiveOpens() (int64, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, fmt.Errorf("read /proc/net/snmp: %w", err)
	}
	return snmpField(string(b), "Tcp", "PassiveOpens")
}

// snmpField finds field of protocol proto in the text of /proc/net/snmp,
// where each protocol has a line of names and then a line of values.
func snmpField(text, proto, field string) (int64, error) {
	var names []string
	for line := range strings.SplitSeq(text, "\n") {
		rest, ok := strings.CutPrefix(line, proto+":")
		if !ok {
			continue
		}
		if names == nil {
			names = strings.Fields(rest)
			continue
		}
		values := strings.Fields(rest)
		for i, name := range names {
			if name == field && i < len(values) {
				n, err := strconv.ParseInt(values[i], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("parse %s %s: %q", proto, field, values[i])
				}
				return n, nil
			}
		}
		break
	}
	return 0, fmt.Errorf("/proc/net/snmp has no %s %s", proto, field)
}
