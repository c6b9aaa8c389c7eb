package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// wire gives the namespace ns its end of the veth pair of l, addresses,
// loopback and a default route, making what is missing.
func wire(ns netns.NsHandle, l *Link) error {
	inside, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in the namespace: %w", err)
	}
	defer inside.Close()
	if !paired(inside, l.HostIf) {
		if err := pair(ns, inside, l.HostIf); err != nil {
			return err
		}
	}
	host, err := netlink.LinkByName(l.HostIf)
	if err != nil {
		return fmt.Errorf("interface %s: %w", l.HostIf, err)
	}
	if err := ensureAddr(netlink.AddrReplace, host, l.HostAddr); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("set %s up: %w", l.HostIf, err)
	}
	lo, err := inside.LinkByName("lo")
	if err == nil {
		err = inside.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("loopback in the namespace: %w", err)
	}
	eth, err := inside.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("eth0 in the namespace: %w", err)
	}
	if err := ensureAddr(inside.AddrReplace, eth, l.TenantAddr); err != nil {
		return err
	}
	if err := inside.LinkSetUp(eth); err != nil {
		return fmt.Errorf("set eth0 in the namespace up: %w", err)
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.IP(l.HostAddr.AsSlice())}
	if err := inside.RouteReplace(route); err != nil {
		return fmt.Errorf("default route via %s: %w", l.HostAddr, err)
	}
	return nil
}

// paired reports whether the namespace's eth0 and the host's hostIf are
// the two ends of one veth pair.
func paired(inside *netlink.Handle, hostIf string) bool {
	eth, err := inside.LinkByName("eth0")
	if err != nil {
		return false
	}
	host, err := netlink.LinkByName(hostIf)
	if err != nil {
		return false
	}
	return host.Type() == "veth" && eth.Type() == "veth" &&
		eth.Attrs().ParentIndex == host.Attrs().Index && host.Attrs().ParentIndex == eth.Attrs().Index
}

// pair makes a veth pair, hostIf on the host and eth0 in the namespace,
// deleting first what a crash or another number left of one.
func pair(ns netns.NsHandle, inside *netlink.Handle, hostIf string) error {
	if eth, err := inside.LinkByName("eth0"); err == nil {
		if err := inside.LinkDel(eth); err != nil {
			return fmt.Errorf("delete eth0 in the namespace: %w", err)
		}
	}
	if err := unwire(hostIf); err != nil {
		return err
	}
	// The other end is born in the namespace, as eth0: moving an
	// interface between namespaces waits for an RCU grace period, 20 to
	// 30 ms here, most of a tenant's network setup.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostIf}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s with eth0 in the namespace: %w", hostIf, err)
	}
	return nil
}

// peerName is the name of hostIf's other end while in the host's
// namespace.
func peerName(hostIf string) string { return peerPrefix + strings.TrimPrefix(hostIf, ifPrefix) }

// unwire deletes the veth pair whose host end is hostIf, and its other
// end if a crash left it in the host's namespace.
func unwire(hostIf string) error {
	for _, name := range []string{hostIf, peerName(hostIf)} {
		link, err := netlink.LinkByName(name)
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("interface %s: %w", name, err)
		}
		// Deleting one end deletes the pair.
		if err := netlink.LinkDel(link); err != nil {
			return fmt.Errorf("delete %s: %w", name, err)
		}
	}
	return nil
}

// hostEnd returns the host end of the veth pair of the namespace at
// path, or "" if it has none.
func hostEnd(path string) string {
	if !isNamespace(path) {
		return ""
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return ""
	}
	defer ns.Close()
	inside, err := netlink.NewHandleAt(ns)
	if err != nil {
		return ""
	}
	defer inside.Close()
	links, err := inside.LinkList()
	if err != nil {
		return ""
	}
	for _, l := range links {
		if l.Type() != "veth" {
			continue
		}
		host, err := netlink.LinkByIndex(l.Attrs().ParentIndex)
		if err == nil && host.Attrs().ParentIndex == l.Attrs().Index && strings.HasPrefix(host.Attrs().Name, ifPrefix) {
			return host.Attrs().Name
		}
	}
	return ""
}

// ensureAddr gives link addr/30.
func ensureAddr(replace func(netlink.Link, *netlink.Addr) error, link netlink.Link, addr netip.Addr) error {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(30, 32)}}
	if err := replace(link, a); err != nil {
		return fmt.Errorf("address %s on %s: %w", addr, link.Attrs().Name, err)
	}
	return nil
}
