package local

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stamphq/stamp"
)

// listening returns the TCP addresses process pid listens on: the
// sockets among its open files that /proc/<pid>/net/tcp and tcp6 (its
// network namespace's tables) list in state LISTEN.
func listening(pid int) ([]netip.AddrPort, error) {
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(proc, "fd"))
	if err != nil {
		return nil, fmt.Errorf("open files of pid %d: %w", pid, err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(proc, "fd", fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	var out []netip.AddrPort
	for _, table := range []string{"tcp", "tcp6"} {
		found, err := listeners(filepath.Join(proc, "net", table), inodes)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return slices.Compact(out), nil
}

// listeners reads a /proc/net/tcp or tcp6 table and returns the local
// addresses of its LISTEN sockets whose inode is in inodes.
func listeners(path string, inodes map[string]bool) ([]netip.AddrPort, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil // no IPv6 in this kernel
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []netip.AddrPort
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" {
			// The kernel lists the listening sockets first (its
			// listening hash), then the others. A host's table may hold
			// tens of thousands of connections (its TIME_WAITs), more
			// with every tenant on its loopback: the first that does
			// not listen ends the reading, before the kernel writes
			// them out.
			break
		}
		if !inodes[fields[9]] {
			continue
		}
		ap, err := parseProcAddr(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, ap)
	}
	return out, sc.Err()
}

// parseProcAddr parses a /proc/net/tcp address, "0100007F:1F90": the
// address in hex as the kernel holds it (32-bit words in host order,
// little-endian here), then the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	addrHex, portHex, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(addrHex)
	port, perr := strconv.ParseUint(portHex, 16, 16)
	if !ok || err != nil || perr != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

var _ stamp.ExposureReporter = (*Driver)(nil)

// Exposed lists the listeners of tenant's running instances that are not
// on loopback: with no network of its own, such an instance is reachable
// by other tenants and from outside, without the router.
func (d *Driver) Exposed(ctx context.Context, tenant string) ([]string, error) {
	obs, err := d.Observe(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if t := d.tenantIfKnown(tenant); t != nil && t.ownNetwork() {
		return nil, nil // a network of its own: every address is its own
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(obs.Services)) {
		for _, inst := range obs.Services[name].Instances {
			addrs, err := listening(inst.PID)
			if err != nil {
				continue // it exited meanwhile
			}
			for _, a := range addrs {
				if !a.Addr().IsLoopback() {
					out = append(out, fmt.Sprintf("instance %s of %s listens on %s, beyond loopback: reachable without the router; bind $HOST (${host}) instead", inst.ID, tenant, a))
				}
			}
		}
	}
	return out, nil
}

var _ stamp.ListenReporter = (*Driver)(nil)

// Listening returns the TCP addresses the processes of instance id of
// tenant listen on: every live process carrying its marker (the app and
// the children it started), read from /proc.
func (d *Driver) Listening(ctx context.Context, tenant, id string) ([]string, error) {
	if err := stamp.ValidateName("tenant", tenant); err != nil {
		return nil, err
	}
	found := false
	var addrs []netip.AddrPort
	for _, m := range d.markedOf(tenant, d.uidOf(tenant)) {
		if m.id != tenant+"/"+id {
			continue
		}
		got, err := listening(m.pid)
		if err != nil {
			continue // it exited meanwhile
		}
		found = true
		addrs = append(addrs, got...)
	}
	if !found {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "instance %s of %s has no process running", id, tenant)
	}
	slices.SortFunc(addrs, func(a, b netip.AddrPort) int { return a.Compare(b) })
	out := []string{}
	for _, a := range slices.Compact(addrs) {
		out = append(out, a.String())
	}
	return out, nil
}
