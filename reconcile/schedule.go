package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	stamp "github.com/stamphq/stamp"
)

// backupLease is the lease of the process that takes the scheduled
// backups, so that servers sharing a store do not each take them.
const backupLease = "backups"

// takeScheduledBackups takes the backups plans schedule until ctx ends,
// looking every BackupCheck.
func (r *Reconciler) takeScheduledBackups(ctx context.Context) {
	if r.cfg.Backups == nil {
		return
	}
	ticker := time.NewTicker(r.cfg.BackupCheck)
	defer ticker.Stop()
	for {
		if err := r.scheduledBackups(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("take scheduled backups", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// scheduledBackups backs up, if this process holds the backup lease,
// each tenant whose plan schedules backups and whose last scheduled one
// is due, then removes its scheduled backups past the plan's keep. A
// tenant that cannot be backed up now (moving between versions, being
// made or restored) is taken at a later look; one that fails does not
// keep the others from theirs.
func (r *Reconciler) scheduledBackups(ctx context.Context) error {
	tenants, err := r.cfg.Store.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	known := make(map[string]bool, len(tenants))
	for _, t := range tenants {
		known[t.Name] = true
	}
	r.mu.Lock()
	for name := range r.lastBackup {
		if !known[name] {
			delete(r.lastBackup, name) // deleted
		}
	}
	r.mu.Unlock()
	var errs []error
	for _, t := range tenants {
		if t.Spec.Pooled || t.Spec.Desired == stamp.DesiredDeleted || t.Status.Version == "" {
			continue
		}
		bp, err := r.Blueprint(ctx, t.Spec.Blueprint, t.Status.Version)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, plan, err := bp.ResolvePlan(t.Spec.Plan)
		if err != nil || plan.Backup == nil {
			continue
		}
		// Taken again before each tenant, which keeps it while a long
		// look runs: a second server must not take the same backups.
		ok, err := r.cfg.Store.TryLease(ctx, backupLease, r.cfg.Holder, r.cfg.BackupCheck+time.Hour)
		if err != nil || !ok {
			return err // another server takes them
		}
		if err := r.scheduledBackup(ctx, t, plan.Backup.Every, plan.Backup.Keep); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t.Name, err))
		}
	}
	return errors.Join(errs...)
}

// scheduledBackup backs up tenant t if its last scheduled backup is
// every old, and keeps its newest keep scheduled backups.
func (r *Reconciler) scheduledBackup(ctx context.Context, t *stamp.Tenant, every time.Duration, keep int) error {
	r.mu.Lock()
	last, known := r.lastBackup[t.Name]
	r.mu.Unlock()
	if known && r.cfg.Clock.Now().Sub(last) < every {
		return nil // not due: no need to list the store
	}
	list, err := r.cfg.Backups.List(ctx, t.Name)
	if err != nil {
		return err
	}
	var scheduled []stamp.Backup // newest first, as listed
	for _, b := range list {
		if b.Reason == stamp.BackupScheduled {
			scheduled = append(scheduled, b)
		}
	}
	if len(scheduled) == 0 || r.cfg.Clock.Now().Sub(scheduled[0].CreatedAt) >= every {
		b, err := r.Backup(ctx, t, stamp.BackupScheduled)
		if stamp.ErrorCode(err) == stamp.ECONFLICT {
			return nil // not now: the next look takes it
		}
		if err != nil {
			return err
		}
		scheduled = append([]stamp.Backup{*b}, scheduled...)
	}
	if len(scheduled) > 0 {
		r.mu.Lock()
		r.lastBackup[t.Name] = scheduled[0].CreatedAt
		r.mu.Unlock()
	}
	for _, b := range scheduled[min(keep, len(scheduled)):] {
		if err := r.cfg.Backups.Delete(ctx, t.Name, b.ID); err != nil && stamp.ErrorCode(err) != stamp.ENOTFOUND {
			return err
		}
	}
	return nil
}
