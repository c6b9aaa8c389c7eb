package benchkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RSSKiB reads the resident memory (VmRSS) of pid from /proc, in KiB. An
// error for a process that has exited wraps os.ErrNotExist.
func RSSKiB(pid int) (int64, error) { return statusKiB(pid, "VmRSS") }

// PeakRSSKiB reads the peak resident memory (VmHWM, the high-water mark)
// of pid from /proc, in KiB: the most it held at once since it started.
// An error for a process that has exited wraps os.ErrNotExist.
func PeakRSSKiB(pid int) (int64, error) { return statusKiB(pid, "VmHWM") }

// statusKiB reads a field in kB of /proc/<pid>/status.
func statusKiB(pid int, field string) (int64, error) {
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s of pid %d: %q", field, pid, rest)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("pid %d has no %s", pid, field)
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: clock ticks,
// which Linux reports at 100 per second whatever the kernel's own rate.
const userHZ = 100

// CPUTime reads the user plus system CPU time pid has used.
func CPUTime(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	// Fields are counted after the command name, which may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse stat of pid %d: no ')' in %q", pid, stat)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("parse stat of pid %d: %d fields after the name", pid, len(f))
	}
	var ticks int64
	for _, field := range f[11:13] { // utime and stime, fields 14 and 15
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse stat of pid %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// MemAvailableKiB reads MemAvailable from /proc/meminfo: what the machine
// can give new processes without swapping, in KiB.
func MemAvailableKiB() (int64, error) { return meminfoKiB("MemAvailable") }

// MemTotalKiB reads MemTotal from /proc/meminfo, in KiB.
func MemTotalKiB() (int64, error) { return meminfoKiB("MemTotal") }

// meminfoKiB reads the field of /proc/meminfo, in KiB.
func meminfoKiB(field string) (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("read /proc/meminfo: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s: %q", field, rest)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("/proc/meminfo has no %s", field)
}

// LoadAverage returns the 1, 5 and 15 minute load averages of the
// machine, such as "0.52 0.61 0.70", or "unknown": on a shared machine
// they say how quiet it was.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// CPUModel returns the first model name of /proc/cpuinfo, or "unknown".
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	return modelName(string(b))
}

// modelName returns the first "model name" of a /proc/cpuinfo, or
// "unknown".
func modelName(cpuinfo string) string {
	for line := range strings.SplitSeq(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
