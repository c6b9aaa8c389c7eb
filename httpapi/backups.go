package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"filippo.io/age"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/backup"
)

// BackupStore keeps tenants' backups (backup.Store).
type BackupStore interface {
	List(ctx context.Context, tenant string) ([]stamp.Backup, error)
	Get(ctx context.Context, tenant, id string) (*stamp.Backup, error)
	Download(ctx context.Context, tenant, id string, w io.Writer) error
	Import(ctx context.Context, tenant string, r io.Reader) (*stamp.Backup, *backup.Manifest, error)
	Delete(ctx context.Context, tenant, id string) error
}

// Backups is what the backup routes use: the store, and who takes a
// backup of a tenant (reconcile.Reconciler.Backup).
type Backups struct {
	Store BackupStore
	Take  func(ctx context.Context, t *stamp.Tenant, reason string, recipients ...age.Recipient) (*stamp.Backup, error)
}

// BackupRequest is the body of POST /v1/tenants/{name}/backups, which
// may be empty.
type BackupRequest struct {
	// Reason is stamp.BackupManual (the default) or stamp.BackupExport.
	Reason string `json:"reason,omitempty"`
	// Recipients are age public keys ("age1...") that can open the
	// archive besides the master key: a customer's, for an export.
	Recipients []string `json:"recipients,omitempty"`
}

// RestoreRequest is the body of POST /v1/tenants/{name}/restore; an
// empty Backup is the tenant's latest.
type RestoreRequest struct {
	Backup string `json:"backup,omitempty"`
}

// CloneRequest is the body of POST /v1/tenants/{name}/clone: Name is the
// new tenant, made from Backup of {name} (the latest when empty, a new
// one when there is none) on Plan (the source's when empty).
type CloneRequest struct {
	Name   string `json:"name"`
	Backup string `json:"backup,omitempty"`
	Plan   string `json:"plan,omitempty"`
}

// DefaultMaxImportBytes bounds an archive brought back as a tenant
// unless the server says otherwise: 16 GiB.
const DefaultMaxImportBytes = 16 << 30

// errNoBackups answers the backup routes of a server with no store.
var errNoBackups = stamp.Errorf(stamp.EUNAVAILABLE, "this server keeps no backups (see stamp server --backup-store)")

// withBackups answers 503 in place of h on a server that keeps no
// backups.
func withBackups(b *Backups, h http.Handler) http.Handler {
	if b != nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeError(w, r, errNoBackups) })
}

// newTenantName refuses a name a new tenant cannot take: not a name, or
// a tenant's already.
func newTenantName(ctx context.Context, st Store, name string) error {
	if err := stamp.ValidateTenantName(name); err != nil {
		return err
	}
	if _, err := st.GetTenant(ctx, name); err == nil {
		return stamp.Errorf(stamp.ECONFLICT, "tenant %q already exists", name)
	}
	return nil
}

// decodeOptional is decode for a body that may be empty.
func decodeOptional[T any](r *http.Request) (T, error) {
	if r.ContentLength == 0 {
		var zero T
		return zero, nil
	}
	return decode[T](r)
}

// handleBackupCreate takes a backup of tenant {name} now and answers
// with its record once it is stored.
func handleBackupCreate(st Store, b *Backups) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeOptional[BackupRequest](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		reason := req.Reason
		switch reason {
		case "":
			reason = stamp.BackupManual
		case stamp.BackupManual, stamp.BackupExport:
		default:
			writeError(w, r, stamp.Errorf(stamp.EINVALID, "reason %q is neither %q nor %q", reason, stamp.BackupManual, stamp.BackupExport))
			return
		}
		var recipients []age.Recipient
		for _, s := range req.Recipients {
			rc, err := age.ParseX25519Recipient(s)
			if err != nil {
				writeError(w, r, stamp.Errorf(stamp.EINVALID, "recipient %q is not an age public key (age1...): %v", s, err))
				return
			}
			recipients = append(recipients, rc)
		}
		t, err := getTenant(r.Context(), st, r.PathValue("name"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		backup, err := b.Take(r.Context(), t, reason, recipients...)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusCreated, backup)
	})
}

// handleBackupList lists the backups of tenant {name}, newest first. A
// tenant deleted softly keeps its backups until it is purged.
func handleBackupList(b *Backups) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := b.Store.List(r.Context(), r.PathValue("name"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		if list == nil {
			list = []stamp.Backup{}
		}
		encode(w, r, http.StatusOK, list)
	})
}

// handleBackupArchive answers with backup {id}'s archive as stored: the
// export a customer gets.
func handleBackupArchive(b *Backups) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, id := r.PathValue("name"), r.PathValue("id")
		info, err := b.Store.Get(r.Context(), name, id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(info.Size))
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+"-"+id+".stamp"))
		if err := b.Store.Download(r.Context(), name, id, w); err != nil {
			// Headers are sent: a short body tells the client.
			panic(http.ErrAbortHandler)
		}
	})
}

// findBackup returns backup id of tenant, or its latest when id is
// empty.
func findBackup(ctx context.Context, b *Backups, tenant, id string) (*stamp.Backup, error) {
	if id != "" {
		return b.Store.Get(ctx, tenant, id)
	}
	list, err := b.Store.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "tenant %q has no backup; take one with `stamp tenant backup %s`", tenant, tenant)
	}
	return &list[0], nil
}

// versionKept refuses a backup whose blueprint version is gone: a
// restore runs that version again.
func versionKept(ctx context.Context, st Store, b *stamp.Backup) error {
	_, err := st.GetBundle(ctx, b.Blueprint, b.Version)
	if stamp.ErrorCode(err) == stamp.ENOTFOUND {
		return stamp.Errorf(stamp.ECONFLICT, "backup %s is of %s@%s, which is no longer stored; push that version again to restore it", b.ID, b.Blueprint, b.Version)
	}
	return err
}

// handleTenantRestore puts tenant {name} back to a backup: its
// databases and data directory, and the version it ran. The reconciler
// stops it, loads the backup and starts it again.
func handleTenantRestore(st Store, clock stamp.Clock, enqueue func(string), b *Backups) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeOptional[RestoreRequest](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		name := r.PathValue("name")
		bk, err := findBackup(r.Context(), b, name, req.Backup)
		if err == nil {
			err = versionKept(r.Context(), st, bk)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		ev := &stamp.Event{Type: stamp.EventTenantRestoring, Message: fmt.Sprintf("to backup %s (%s@%s)", bk.ID, bk.Blueprint, bk.Version)}
		t, err := changeTenant(r.Context(), st, clock, enqueue, name, ev, true, func(t *stamp.Tenant) (bool, error) {
			switch {
			case t.Spec.Desired == stamp.DesiredDeleted:
				return false, stamp.Errorf(stamp.ECONFLICT, "tenant %q is being deleted", name)
			case t.Spec.Desired == stamp.DesiredSuspended:
				return false, errSuspended(name)
			case t.Spec.Desired == stamp.DesiredSoftDeleted:
				return false, errSoftDeleted(name)
			case t.Upgrading():
				return false, stamp.Errorf(stamp.ECONFLICT, "tenant %q is moving to version %s; restore it once the move is over", name, t.Status.Upgrade.To)
			case t.Spec.Blueprint != bk.Blueprint:
				return false, stamp.Errorf(stamp.ECONFLICT, "backup %s is of blueprint %s; tenant %q runs %s", bk.ID, bk.Blueprint, name, t.Spec.Blueprint)
			}
			t.Spec.Version = bk.Version
			t.Spec.Load = &stamp.BackupRef{Tenant: name, ID: bk.ID, Generation: t.Generation + 1}
			return true, nil
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusAccepted, masked(t))
	})
}

// handleTenantClone makes a new tenant from a backup of tenant {name}:
// the same blueprint version and parameters, its data, and secrets and
// databases of its own.
func handleTenantClone(st Store, clock stamp.Clock, enqueue func(string), b *Backups) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[CloneRequest](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		noteTenant(r, req.Name)
		if err := newTenantName(r.Context(), st, req.Name); err != nil {
			writeError(w, r, err)
			return
		}
		src, err := getTenant(r.Context(), st, r.PathValue("name"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		bk, err := findBackup(r.Context(), b, src.Name, req.Backup)
		if stamp.ErrorCode(err) == stamp.ENOTFOUND && req.Backup == "" {
			bk, err = b.Take(r.Context(), src, stamp.BackupManual) // none yet: one now
		}
		if err == nil {
			err = versionKept(r.Context(), st, bk)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		spec := stamp.TenantSpec{
			Blueprint: bk.Blueprint, Version: bk.Version, Plan: src.Spec.Plan, Params: src.Spec.Params,
			Channel: src.Spec.Channel, SecretParams: src.Spec.SecretParams,
		}
		if req.Plan != "" {
			spec.Plan = req.Plan
		}
		t, err := createLoaded(r.Context(), st, clock, enqueue, req.Name, spec, &stamp.BackupRef{Tenant: src.Name, ID: bk.ID, Generation: 1},
			fmt.Sprintf("clone of %s from backup %s (%s@%s plan %s)", src.Name, bk.ID, bk.Blueprint, bk.Version, spec.Plan))
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusAccepted, masked(t))
	})
}

// handleTenantImport makes tenant {name} from an archive in the body (an
// export brought back): the archive is checked and kept as the tenant's
// first backup, then loaded.
func handleTenantImport(st Store, clock stamp.Clock, enqueue func(string), b *Backups) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := newTenantName(r.Context(), st, name); err != nil {
			writeError(w, r, err)
			return
		}
		body := &bodyWatch{r: r.Body}
		bk, m, err := b.Store.Import(r.Context(), name, body)
		if body.max != nil {
			err = bodyTooLarge(body.max)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		err = versionKept(r.Context(), st, bk)
		var t *stamp.Tenant
		if err == nil {
			spec := stamp.TenantSpec{Blueprint: m.Blueprint, Version: m.Version, Plan: m.Plan, Params: m.Params}
			t, err = createLoaded(r.Context(), st, clock, enqueue, name, spec, &stamp.BackupRef{Tenant: name, ID: bk.ID, Generation: 1},
				fmt.Sprintf("from an archive of %s taken %s (%s@%s plan %s)", m.Tenant, m.CreatedAt.Format("2006-01-02 15:04Z07:00"), m.Blueprint, m.Version, m.Plan))
		}
		if err != nil {
			if derr := b.Store.Delete(context.WithoutCancel(r.Context()), name, bk.ID); derr != nil {
				err = fmt.Errorf("%w (and the imported archive %s stays: %v)", err, bk.ID, derr)
			}
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusAccepted, masked(t))
	})
}

// bodyWatch passes a body on and keeps the error of a body over its
// limit, which a reader further in may have turned into another.
type bodyWatch struct {
	r   io.Reader
	max *http.MaxBytesError
}

func (b *bodyWatch) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.max == nil {
		errors.As(err, &b.max)
	}
	return n, err
}

// createLoaded records tenant name, of spec, to be made from backup ref
// in place of its seed. It never claims a pooled stamp: its data is the
// backup's.
func createLoaded(ctx context.Context, st Store, clock stamp.Clock, enqueue func(string), name string, spec stamp.TenantSpec, ref *stamp.BackupRef, msg string) (*stamp.Tenant, error) {
	spec.Desired, spec.Load = stamp.DesiredRunning, ref
	t := &stamp.Tenant{Name: name, Spec: spec, Status: stamp.TenantStatus{Phase: stamp.PhaseProvisioning}, Generation: 1}
	ev := &stamp.Event{Time: clock.Now(), Type: stamp.EventTenantCreated, Tenant: name, Generation: 1, Message: msg}
	if err := st.CreateTenant(ctx, t, ev); err != nil {
		if stamp.ErrorCode(err) == stamp.ECONFLICT {
			return nil, stamp.Errorf(stamp.ECONFLICT, "tenant %q already exists", name)
		}
		return nil, fmt.Errorf("create tenant %s: %w", name, err)
	}
	enqueue(name)
	return t, nil
}
