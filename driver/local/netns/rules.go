package netns

import (
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Sets of host-side interfaces: the Manager's tenants', and those of
// them that may open connections beyond the host.
const (
	membersSet  = "members"
	outboundSet = "outbound"
)

// setUpRules makes the Manager's tables once per Manager.
func (m *Manager) setUpRules() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rules {
		return nil
	}
	if err := m.ensureRules(); err != nil {
		return err
	}
	m.rules = true
	return nil
}

// ensureRules makes the Manager's nftables tables (see the package doc)
// unless they exist: tenants' outbound access, kept in the set, survives
// a restart of the server.
func (m *Manager) ensureRules() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	if t, err := c.ListTableOfFamily(m.table, nftables.TableFamilyINet); err == nil && t != nil {
		return nil
	}
	filter := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: m.table})
	members := &nftables.Set{Table: filter, Name: membersSet, KeyType: nftables.TypeIFName}
	outbound := &nftables.Set{Table: filter, Name: outboundSet, KeyType: nftables.TypeIFName}
	for _, s := range []*nftables.Set{members, outbound} {
		if err := c.AddSet(s, nil); err != nil {
			return err
		}
	}
	accept, drop := nftables.ChainPolicyAccept, expr.VerdictDrop
	forward := c.AddChain(&nftables.Chain{Name: "forward", Table: filter, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	input := c.AddChain(&nftables.Chain{Name: "input", Table: filter, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	rules := [][]expr.Any{
		// Into a tenant: answers only (so never from another tenant).
		join(ifname(expr.MetaKeyOIFNAME), answer(expr.VerdictAccept)),
		join(ifname(expr.MetaKeyOIFNAME), verdict(drop)),
		// Out of a tenant of this Manager's not in its outbound set:
		// nothing forwarded. (Other Managers' tables judge theirs.)
		{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Lookup{SourceRegister: 1, SetName: members.Name, SetID: members.ID},
			&expr.Lookup{SourceRegister: 1, SetName: outbound.Name, SetID: outbound.ID, Invert: true},
			&expr.Verdict{Kind: drop},
		},
	}
	for _, r := range rules {
		c.AddRule(&nftables.Rule{Table: filter, Chain: forward, Exprs: r})
	}
	// To the host itself: answers only.
	c.AddRule(&nftables.Rule{Table: filter, Chain: input, Exprs: join(ifname(expr.MetaKeyIIFNAME), answer(expr.VerdictAccept))})
	c.AddRule(&nftables.Rule{Table: filter, Chain: input, Exprs: join(ifname(expr.MetaKeyIIFNAME), verdict(drop))})

	nat := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: m.table + "-nat"})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: nat, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
	netAddr := m.cfg.Net.Addr().As4()
	mask := [4]byte{}
	for i := range m.cfg.Net.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	c.AddRule(&nftables.Rule{Table: nat, Chain: post, Exprs: []expr.Any{
		// ip saddr <pool> oifname != "stv*" masquerade
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask[:], Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: netAddr[:]},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte(ifPrefix)},
		&expr.Masq{},
	}})
	return c.Flush()
}

// ifname matches an interface name (key: in or out) starting with
// ifPrefix, leaving the name in register 1.
func ifname(key expr.MetaKey) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(ifPrefix)},
	}
}

// answer matches a packet of a connection already open (established or
// related) and gives it v.
func answer(v expr.VerdictKind) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 2, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 2, DestRegister: 2, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 2, Data: []byte{0, 0, 0, 0}},
		&expr.Verdict{Kind: v},
	}
}

func verdict(v expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: v}} }

func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// setMember puts the host-side interface hostIf in the Manager's sets
// (members, and outbound if outbound), or takes it out of them (member
// false), and turns forwarding on when a tenant has outbound access.
func (m *Manager) setMember(hostIf string, member, outbound bool) error {
	for name, in := range map[string]bool{membersSet: member, outboundSet: member && outbound} {
		if err := m.setElement(name, hostIf, in); err != nil {
			return err
		}
	}
	if member && outbound {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
	}
	return nil
}

// setElement adds hostIf to the set name, or deletes it from it; a
// delete of what is not there is fine.
func (m *Manager) setElement(name, hostIf string, in bool) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	set, err := c.GetSetByName(&nftables.Table{Family: nftables.TableFamilyINet, Name: m.table}, name)
	if err != nil {
		return fmt.Errorf("set %s of table %s: %w", name, m.table, err)
	}
	key := make([]byte, unix.IFNAMSIZ)
	copy(key, hostIf)
	elems := []nftables.SetElement{{Key: key}}
	if in {
		err = c.SetAddElements(set, elems)
	} else {
		err = c.SetDeleteElements(set, elems)
	}
	if err != nil {
		return err
	}
	if err := c.Flush(); err != nil && !(errors.Is(err, unix.ENOENT) && !in) {
		return fmt.Errorf("set %s: %w", name, err)
	}
	return nil
}

// Destroy deletes the Manager's nftables tables, for a host that no
// longer runs tenants in namespaces (and tests). Namespaces are left.
func (m *Manager) Destroy() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: m.table})
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: m.table + "-nat"})
	return c.Flush()
}
