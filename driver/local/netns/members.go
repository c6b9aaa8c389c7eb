package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// hostPortsType is the key of the hostports set: a tenant's host-side
// interface, its host address and a TCP port.
var hostPortsType = nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIPAddr, nftables.TypeInetService)

// setMember makes l's interface a member of the Manager's tenants, in
// the outbound set or not, with exactly the host ports hostPorts; then
// sets the sysctls they need.
func (m *Manager) setMember(l *Link, outbound bool, hostPorts []int) error {
	key := ifKey(l.HostIf)
	want := map[string][][]byte{membersSet: {key}, outboundSet: nil, hostPortsSet: nil}
	if outbound {
		want[outboundSet] = [][]byte{key}
	}
	for _, p := range hostPorts {
		want[hostPortsSet] = append(want[hostPortsSet], hostPortKey(l.HostIf, l.HostAddr, p))
	}
	if err := m.syncElements(l.HostIf, want); err != nil {
		return err
	}
	// DNAT to 127.0.0.1 of what comes in on the interface, and answers
	// from 127.0.0.1 going out of it, are martians without it.
	localnet := "0\n"
	if len(hostPorts) > 0 {
		localnet = "1\n"
	}
	if err := writeSysctl("net/ipv4/conf/"+l.HostIf+"/route_localnet", localnet); err != nil {
		return err
	}
	if outbound {
		return writeSysctl("net/ipv4/ip_forward", "1\n")
	}
	return nil
}

// dropMember deletes hostIf's elements from the Manager's sets, if the
// table is there.
func (m *Manager) dropMember(hostIf string) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	if _, err := c.ListTableOfFamily(m.table, nftables.TableFamilyINet); errors.Is(err, unix.ENOENT) {
		return nil
	}
	return m.syncElements(hostIf, map[string][][]byte{membersSet: nil, outboundSet: nil, hostPortsSet: nil})
}

// syncElements makes the elements of hostIf in each set named in want
// exactly those given, in one transaction. Only what is missing is added
// and what is there deleted: deleting what is not there fails the whole.
func (m *Manager) syncElements(hostIf string, want map[string][][]byte) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	for name, keys := range want {
		set, err := c.GetSetByName(m.nftTable(), name)
		if err != nil {
			return fmt.Errorf("set %s of table %s: %w", name, m.table, err)
		}
		have, err := c.GetSetElements(set)
		if err != nil {
			return fmt.Errorf("set %s of table %s: %w", name, m.table, err)
		}
		var add, del []nftables.SetElement
		for _, e := range have {
			if bytes.HasPrefix(e.Key, ifKey(hostIf)) && !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, e.Key) }) {
				del = append(del, nftables.SetElement{Key: e.Key})
			}
		}
		for _, k := range keys {
			if !slices.ContainsFunc(have, func(e nftables.SetElement) bool { return bytes.Equal(k, e.Key) }) {
				add = append(add, nftables.SetElement{Key: k})
			}
		}
		if len(add) > 0 {
			if err := c.SetAddElements(set, add); err != nil {
				return err
			}
		}
		if len(del) > 0 {
			if err := c.SetDeleteElements(set, del); err != nil {
				return err
			}
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("sets of table %s: %w", m.table, err)
	}
	return nil
}

// ifKey is an interface name as a set key: zero-padded to IFNAMSIZ.
func ifKey(name string) []byte {
	k := make([]byte, unix.IFNAMSIZ)
	copy(k, name)
	return k
}

// hostPortKey is the hostports key of hostIf, its host address and port:
// each field padded to 4 bytes, the port in network order.
func hostPortKey(hostIf string, addr netip.Addr, port int) []byte {
	a := addr.As4()
	return append(append(ifKey(hostIf), a[:]...), byte(port>>8), byte(port), 0, 0)
}

// writeSysctl writes value to /proc/sys/name.
func writeSysctl(name, value string) error {
	if err := os.WriteFile("/proc/sys/"+name, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s: %w", name, err)
	}
	return nil
}
