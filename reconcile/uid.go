package reconcile

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	stamp "github.com/stamphq/stamp"
)

// UIDRange is the range of Unix users (and groups of the same number)
// tenants are given, Min to Max inclusive. The zero range gives none:
// tenants run as the server's user.
type UIDRange struct {
	Min, Max int
}

// Size is how many users the range holds.
func (r UIDRange) Size() int {
	if r.Max < r.Min || r.Min <= 0 {
		return 0
	}
	return r.Max - r.Min + 1
}

// uidAttempts bounds the tries to find a free uid: each try is a random
// uid of the range, and the store refuses one another tenant holds. With
// the range half full, eight tries all failing has odds of 1 in 256.
const uidAttempts = 8

// ensureUID gives the tenant a Unix user of Config.UIDs if it has none.
// The user is kept in the tenant's status for the tenant's life; the
// store refuses a uid another tenant holds, and then another is tried.
func (p *pass) ensureUID(ctx context.Context) error {
	size := p.r.cfg.UIDs.Size()
	if size == 0 || p.t.Status.UID != 0 {
		return nil
	}
	for range uidAttempts {
		uid, err := pickUID(p.r.cfg.Random, p.r.cfg.UIDs)
		if err != nil {
			return err
		}
		err = p.update(ctx, func(st *stamp.TenantStatus) { st.UID = uid })
		if err != errStale {
			return err
		}
		// Stale: the tenant changed, or the uid is another tenant's. The
		// store's copy tells which.
		fresh, err := p.r.cfg.Store.GetTenant(ctx, p.t.Name)
		if err != nil || fresh.ResourceVersion != p.t.ResourceVersion {
			return errStale
		}
		p.t.Status.UID = 0
	}
	return fmt.Errorf("give tenant a Unix user: %d random uids of %d..%d were all held by other tenants; widen --tenant-uids", uidAttempts, p.r.cfg.UIDs.Min, p.r.cfg.UIDs.Max)
}

// pickUID returns a uid of r drawn from random.
func pickUID(random io.Reader, r UIDRange) (int, error) {
	var b [8]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return 0, fmt.Errorf("pick a uid: %w", err)
	}
	return r.Min + int(binary.BigEndian.Uint64(b[:])%uint64(r.Size())), nil
}
