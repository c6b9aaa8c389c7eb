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
	m := machine{nproc: runtime.NumCPU(), goVersion: runtime.Version(), load: benchkit.LoadAverage(), commit: benchkit.Commit(ctx, root)}
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

// passiveOpens reads how many TCP connections the machine has accepted
// (PassiveOpens in /proc/net/snmp): a probe without keep-alives opens one.
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

// tenantRequests reads, for each established TCP connection whose local
// port is in ports ("lo-hi", the tenants' block), how many data segments
// it has received (`ss -ti`, data_segs_in): a probe's request is one
// segment, so on kept-alive connections these count the probes each
// tenant answered. The counts are by connection, "local peer".
func tenantRequests(ctx context.Context, ports string) (map[string]int64, error) {
	lo, hi, ok := strings.Cut(ports, "-")
	if !ok {
		return nil, fmt.Errorf("port block %q: want lo-hi", ports)
	}
	filter := fmt.Sprintf("( sport >= :%s and sport <= :%s )", lo, hi)
	out, err := exec.CommandContext(ctx, "ss", "-tinH", "state", "established", filter).Output()
	if err != nil {
		return nil, fmt.Errorf("ss -ti of the connections to ports %s: %w", ports, err)
	}
	return parseSS(string(out))
}

// parseSS reads the output of `ss -tinH state established`: for each
// connection, a line ending in its local and peer addresses, then an
// indented line of its TCP info, where ss leaves out data_segs_in while
// it is 0.
func parseSS(text string) (map[string]int64, error) {
	conns := map[string]int64{}
	conn := ""
	for line := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			f := strings.Fields(line)
			if len(f) < 2 {
				return nil, fmt.Errorf("ss: connection line %q: want its local and peer addresses last", line)
			}
			conn = f[len(f)-2] + " " + f[len(f)-1]
			conns[conn] = 0
			continue
		}
		if conn == "" {
			return nil, fmt.Errorf("ss: info line %q before any connection", strings.TrimSpace(line))
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "data_segs_in:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("ss: %s of %s: %w", f, conn, err)
				}
				conns[conn] = n
			}
		}
		conn = ""
	}
	return conns, nil
}

// received returns what the connections open at after received since
// before: a connection not open at before, or whose count went down (a
// new one on the same ports), counts from 0. What connections closed
// since before received is not counted.
func received(before, after map[string]int64) int64 {
	var n int64
	for conn, segs := range after {
		if prev, ok := before[conn]; ok && prev <= segs {
			segs -= prev
		}
		n += segs
	}
	return n
}
