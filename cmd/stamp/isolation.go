package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stamphq/stamp/driver/local"
	"github.com/stamphq/stamp/driver/local/cgroup"
	"github.com/stamphq/stamp/reconcile"
)

// isolation is how far this host lets the server keep tenants apart, as
// found at start: what is enforced, and a line for each thing that is not
// and why, so that nothing is left out silently.
type isolation struct {
	uids reconcile.UIDRange // zero: tenants run as the server's user
	// cgroups confines tenants to their plans' limits; nil: no limits.
	cgroups *cgroup.Host
	// parts describe each part for the operator, in order.
	parts []isolationPart
}

// isolationPart is one line of what isolation holds: "users: ...".
type isolationPart struct {
	line string
	gap  bool // not enforced; line says why
}

// uidRange parses --tenant-uids: MIN-MAX, or "none".
func (c *serverConfig) uidRange() (reconcile.UIDRange, error) {
	if c.TenantUIDs == "none" {
		return reconcile.UIDRange{}, nil
	}
	a, b, ok := strings.Cut(c.TenantUIDs, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	// 65534 is nobody; tenants' users start above the usual system and
	// login users and stay below the 32-bit limit.
	if !ok || err1 != nil || err2 != nil || lo <= 65535 || hi >= 1<<31 || lo > hi {
		return reconcile.UIDRange{}, fmt.Errorf("--tenant-uids %q: want MIN-MAX with 65535 < MIN <= MAX < 2147483648 (e.g. 200000-299999), or none", c.TenantUIDs)
	}
	return reconcile.UIDRange{Min: lo, Max: hi}, nil
}

// detectIsolation finds what the host allows, given the server's data dir
// (made already). Running tenants as users of their own needs root and a
// data dir other users can pass through (to reach bundles and their own
// directories): the data dir itself is opened to them (0711: passing
// through, no listing), its parents are the operator's to open.
func detectIsolation(cfg serverConfig, data string) (*isolation, error) {
	iso := &isolation{}
	uids, err := cfg.uidRange()
	if err != nil {
		return nil, err
	}
	switch {
	case uids.Size() == 0:
		iso.gap("users", "off (--tenant-uids none): every tenant runs as the server's user and can read the others' files")
	case os.Geteuid() != 0:
		iso.gap("users", fmt.Sprintf("off: the server runs as uid %d, not root, so every tenant runs as that one user and can read the others' files", os.Geteuid()))
	default:
		if err := os.Chmod(data, 0o711); err != nil {
			return nil, fmt.Errorf("open data dir to tenants' users: %w", err)
		}
		if err := local.Reachable(data); err != nil {
			return nil, fmt.Errorf("tenants' users cannot reach the data dir (or start with --tenant-uids none): %w", err)
		}
		iso.uids = uids
		iso.enforced("users", fmt.Sprintf("one per tenant from %d-%d (%d), no supplementary groups", uids.Min, uids.Max, uids.Size()))
	}
	iso.detectCgroups(data)
	return iso, nil
}

// detectCgroups finds the control groups that enforce plans' limits. The
// driver's groups live under stamp/<hash of the data dir>: servers on one
// data dir share them, servers on others never touch them.
func (iso *isolation) detectCgroups(data string) {
	sum := sha256.Sum256([]byte(filepath.Join(data, "local")))
	h := cgroup.Open("stamp/" + hex.EncodeToString(sum[:4]))
	if h.Mode() == cgroup.ModeNone {
		iso.gap("limits", "off: "+h.Problem()+"; plans' memory, cpu and pids limits are not enforced (stamp tenant get shows none in force)")
		return
	}
	iso.cgroups = h
	iso.enforced("limits", fmt.Sprintf("cgroup %s (%s), one group per tenant", h.Mode(), strings.Join(h.Controllers(), ", ")))
	if p := h.Problem(); p != "" {
		iso.gap("limits", p)
	}
}

// enforced records part as enforced, as how says.
func (iso *isolation) enforced(part, how string) {
	iso.parts = append(iso.parts, isolationPart{line: part + ": " + how})
}

// gap records part as not enforced, for why.
func (iso *isolation) gap(part, why string) {
	iso.parts = append(iso.parts, isolationPart{line: part + ": " + why, gap: true})
}

// log says once, at start, what is enforced and what is not.
func (iso *isolation) log(logger *slog.Logger) {
	for _, p := range iso.parts {
		if p.gap {
			logger.Warn("isolation not enforced", "part", p.line)
		} else {
			logger.Info("isolation", "part", p.line)
		}
	}
}

// print writes one line per part for `stamp server --check`.
func (iso *isolation) print(w io.Writer) {
	for _, p := range iso.parts {
		fmt.Fprintln(w, p.line)
	}
}
