package netns

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The sets of the Manager's table: its tenants' host-side interfaces,
// those of them that may open connections beyond the host, and the host
// loopback ports each may reach (interface . its host address . port).
const (
	membersSet   = "members"
	outboundSet  = "outbound"
	hostPortsSet = "hostports"
)

// ruleTag starts the user data of every rule this version writes: a
// chain whose rules lack it (made by an older Stamp) is rewritten.
const ruleTag = "stamp-netns-2:"

// Registers: 1 (128 bits) for single values, and from 8 on the 32-bit
// registers a concatenated set key is loaded into, field after field.
const (
	reg      = 1
	regIf    = 8  // an interface name: 16 bytes, registers 8 to 11
	regAddr  = 12 // an IPv4 address
	regPort  = 13 // a TCP port
	ctReg    = 2
	loopback = "\x7f\x00\x00\x01"
)

// chainRules is a base chain and the rules it holds.
type chainRules struct {
	chain *nftables.Chain
	rules [][]expr.Any
}

// setUpRules makes the Manager's table current once per Manager.
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

func (m *Manager) nftTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: m.table}
}

// ensureRules makes the Manager's table, its sets and chains, and writes
// anew, in one transaction each, the chains whose rules are not this
// version's. The sets' elements (the tenants) are kept.
func (m *Manager) ensureRules() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := c.AddTable(m.nftTable())
	sets := map[string]*nftables.Set{
		membersSet:   {Table: t, Name: membersSet, KeyType: nftables.TypeIFName},
		outboundSet:  {Table: t, Name: outboundSet, KeyType: nftables.TypeIFName},
		hostPortsSet: {Table: t, Name: hostPortsSet, Concatenation: true, KeyType: hostPortsType},
	}
	for _, s := range sets {
		if err := c.AddSet(s, nil); err != nil {
			return err
		}
	}
	chains := m.chains(t, sets)
	for _, ch := range chains {
		c.AddChain(ch.chain)
	}
	if err := c.Flush(); err != nil {
		return err
	}
	for _, ch := range chains {
		have, err := c.GetRules(t, ch.chain)
		if err != nil {
			return err
		}
		if current(have, len(ch.rules)) {
			continue
		}
		c.FlushChain(ch.chain)
		for i, r := range ch.rules {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch.chain, Exprs: r, UserData: []byte(ruleTag + strconv.Itoa(i))})
		}
	}
	return c.Flush()
}

// current reports whether have are the n rules this version writes.
func current(have []*nftables.Rule, n int) bool {
	if len(have) != n {
		return false
	}
	for i, r := range have {
		if !bytes.Equal(r.UserData, []byte(ruleTag+strconv.Itoa(i))) {
			return false
		}
	}
	return true
}

// chains returns the table's base chains and their rules (see the
// package doc).
func (m *Manager) chains(t *nftables.Table, sets map[string]*nftables.Set) []chainRules {
	accept := nftables.ChainPolicyAccept
	base := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return &nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept}
	}
	lookup := func(name string, r uint32, invert bool) *expr.Lookup {
		return &expr.Lookup{SourceRegister: r, SetName: name, SetID: sets[name].ID, Invert: invert}
	}
	pool := m.cfg.Net.Addr().As4()
	mask := [4]byte{}
	for i := range m.cfg.Net.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return []chainRules{
		{base("forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter), [][]expr.Any{
			// Into a tenant: answers only (so never from another tenant).
			join(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq), answer(), verdict(expr.VerdictAccept)),
			join(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq), verdict(expr.VerdictDrop)),
			// Out of a member not in the outbound set: nothing.
			{
				&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: reg},
				lookup(membersSet, reg, false),
				lookup(outboundSet, reg, true),
				&expr.Verdict{Kind: expr.VerdictDrop},
			},
		}},
		{base("input", nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter), [][]expr.Any{
			// To the host itself: answers, and the host ports given
			// only. Those arrive made 127.0.0.1 by a hostports DNAT (of
			// this Manager's or another's): nothing else on a Stamp host
			// rewrites a tenant's packets to loopback.
			join(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq), answer(), verdict(expr.VerdictAccept)),
			join(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq), ipv4TCP(), dnatted(),
				[]expr.Any{
					&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
					&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte(loopback)},
				}, verdict(expr.VerdictAccept)),
			join(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq), verdict(expr.VerdictDrop)),
		}},
		{base("prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest), [][]expr.Any{
			// iifname . ip daddr . tcp dport @hostports dnat ip to 127.0.0.1
			join(ipv4TCP(), []expr.Any{
				&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: regIf},
				&expr.Payload{DestRegister: regAddr, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
				&expr.Payload{DestRegister: regPort, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
				lookup(hostPortsSet, regIf, false),
				&expr.Immediate{Register: reg, Data: []byte(loopback)},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg},
			}),
		}},
		{base("postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource), [][]expr.Any{
			// ip saddr <pool> oifname != "stv*" masquerade
			join(ipv4(), []expr.Any{
				&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4, Mask: mask[:], Xor: []byte{0, 0, 0, 0}},
				&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: pool[:]},
			}, ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq), []expr.Any{&expr.Masq{}}),
		}},
	}
}

// ifname compares an interface name (key: in or out) with ifPrefix: the
// comparison covers the prefix's bytes only.
func ifname(key expr.MetaKey, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: reg},
		&expr.Cmp{Op: op, Register: reg, Data: []byte(ifPrefix)},
	}
}

// ipv4 matches IPv4 packets (the table is inet: both families).
func ipv4() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{unix.NFPROTO_IPV4}},
	}
}

// ipv4TCP matches IPv4 TCP packets.
func ipv4TCP() []expr.Any {
	return join(ipv4(), []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{unix.IPPROTO_TCP}},
	})
}

// answer matches a packet of a connection already open (established or
// related).
func answer() []expr.Any {
	return ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)
}

// dnatted matches a packet whose destination was rewritten (DNAT).
func dnatted() []expr.Any { return ctBits(expr.CtKeySTATUS, ipsDstNAT) }

// ipsDstNAT is the conntrack status bit IPS_DST_NAT
// (linux/netfilter/nf_conntrack_common.h).
const ipsDstNAT = 1 << 5

// ctBits matches a packet whose conntrack key has one of bits set.
func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: ctReg, Key: key},
		&expr.Bitwise{SourceRegister: ctReg, DestRegister: ctReg, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: ctReg, Data: []byte{0, 0, 0, 0}},
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

// Destroy deletes the Manager's nftables table, for a host that no
// longer runs tenants in namespaces (and tests). Namespaces are left.
func (m *Manager) Destroy() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	c.DelTable(m.nftTable())
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	m.mu.Lock()
	m.rules = false
	m.mu.Unlock()
	return nil
}
