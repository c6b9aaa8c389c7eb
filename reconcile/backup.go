package reconcile

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"filippo.io/age"
	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/backup"
)

// Backups is where tenants' backups are kept (backup.Store).
type Backups interface {
	Take(ctx context.Context, m *backup.Manifest, parts []backup.Part, recipients ...age.Recipient) (*stamp.Backup, error)
	Unpack(ctx context.Context, tenant, id string) (*backup.Unpacked, error)
	List(ctx context.Context, tenant string) ([]stamp.Backup, error)
	Delete(ctx context.Context, tenant, id string) error
	StaleUploads(ctx context.Context, age time.Duration, dryRun bool) ([]string, error)
}

// staleUpload is how old a file of the backup store that is no archive
// must be for the garbage collector to take it for a killed upload.
const staleUpload = time.Hour

// backedUp are the phases a tenant can be backed up in: its data is that
// of one version, which no step is changing.
var backedUp = []string{stamp.PhaseReady, stamp.PhaseSleeping, stamp.PhaseSuspended, stamp.PhaseSoftDeleted}

// Backup takes a backup of tenant t now, for reason (stamp.Backup*): a
// consistent dump of each of its databases and its data directory, while
// it serves. recipients can open the archive besides the master key. A
// tenant moving between versions, being made, restored or deleted is
// ECONFLICT: its data is not one version's.
func (r *Reconciler) Backup(ctx context.Context, t *stamp.Tenant, reason string, recipients ...age.Recipient) (*stamp.Backup, error) {
	if r.cfg.Backups == nil {
		return nil, stamp.Errorf(stamp.EUNAVAILABLE, "this server keeps no backups")
	}
	if !slices.Contains(backedUp, t.Status.Phase) || t.Upgrading() || t.Spec.Desired == stamp.DesiredDeleted {
		return nil, stamp.Errorf(stamp.ECONFLICT, "tenant %q is %s; back it up once it is ready, asleep or suspended", t.Name, t.Status.Phase)
	}
	version := t.Status.Version
	bp, err := r.Blueprint(ctx, t.Spec.Blueprint, version)
	if err != nil {
		return nil, fmt.Errorf("back up %s: %w", t.Name, err)
	}
	m := &backup.Manifest{
		ID: backup.NewID(r.cfg.Clock.Now()), Tenant: t.Name, Blueprint: t.Spec.Blueprint, Version: version,
		Plan: t.Spec.Plan, Params: t.Spec.Params, Reason: reason, CreatedAt: r.cfg.Clock.Now().UTC(),
	}
	var parts []backup.Part
	for _, name := range slices.Sorted(maps.Keys(bp.Databases)) {
		dumper, err := r.dumper(name, bp.Databases[name].Engine)
		if err != nil {
			return nil, err
		}
		path := "databases/" + name + "." + dumper.DumpFormat()
		m.Databases = append(m.Databases, backup.Database{Name: name, Format: dumper.DumpFormat(), File: backup.File{Path: path}})
		db := stamp.DatabaseSpec{Tenant: t.RuntimeName(), Name: name}
		parts = append(parts, backup.Part{Path: path, Write: func(ctx context.Context, w io.Writer) error {
			return dumper.Dump(ctx, db, w)
		}})
	}
	if da, ok := r.cfg.Driver.(stamp.DataArchiver); ok {
		m.Data = &backup.File{Path: "data.tar"}
		parts = append(parts, backup.Part{Path: "data.tar", Write: func(ctx context.Context, w io.Writer) error {
			return da.WriteData(ctx, t.RuntimeName(), w)
		}})
	}
	b, err := r.cfg.Backups.Take(ctx, m, parts, recipients...)
	if err != nil {
		return nil, err
	}
	ev := &stamp.Event{Type: stamp.EventTenantBackedUp, Tenant: t.Name, Generation: t.Generation, Message: fmt.Sprintf("backup %s (%s, %d bytes)", b.ID, reason, b.Size)}
	if err := r.cfg.Store.AppendEvents(ctx, ev); err != nil {
		r.cfg.Logger.Warn("record tenant.backed-up", "tenant", t.Name, "backup", b.ID, "err", err)
	}
	return b, nil
}

// engine returns the engine, by its name, of database name; one this
// server does not provide is a terminal error.
func (r *Reconciler) engine(name, engine string) (stamp.Engine, error) {
	e := r.cfg.Engines[engine]
	if e == nil {
		return nil, terminal("database %s needs engine %q, which this server does not provide", name, engine)
	}
	return e, nil
}

// dumper returns the engine of database name as a Dumper.
func (r *Reconciler) dumper(name, engine string) (stamp.Dumper, error) {
	e, err := r.engine(name, engine)
	if err != nil {
		return nil, err
	}
	d, ok := e.(stamp.Dumper)
	if !ok {
		return nil, terminal("database %s: the %s engine cannot dump a database, so it cannot be backed up or restored", name, engine)
	}
	return d, nil
}

// loadBackup fills the tenant's databases and data directory from the
// backup its spec names. A tenant that served is taken off its route
// and its instances stopped first, so nothing writes meanwhile; the
// steps after start it again, of the backup's version (the route step
// retires what ran before). The databases then hold what the backup's
// version migrated, and the seed is not run: the data is the backup's.
func (p *pass) loadBackup(ctx context.Context) error {
	ref := p.t.Spec.Load
	if p.r.cfg.Backups == nil {
		return terminal("this server keeps no backups, so it cannot load backup %s", ref.ID)
	}
	if err := p.stopForLoad(ctx); err != nil {
		return err
	}
	u, err := p.r.cfg.Backups.Unpack(ctx, ref.Tenant, ref.ID)
	if c := stamp.ErrorCode(err); c == stamp.ENOTFOUND || c == stamp.EINVALID {
		return terminal("%s", stamp.ErrorMessage(err))
	}
	if err != nil {
		return err
	}
	defer u.Close()
	if err := p.loadArchive(ctx, u); err != nil {
		return err
	}
	m := u.Manifest
	return p.updateWith(ctx, func(st *stamp.TenantStatus) {
		st.Loaded = ref.String()
		st.MigratedVersion, st.Seeded = m.Version, true
		// Started anew of the backup's version, as a new tenant is: a
		// pass cut short from here on takes the steps of one, not of a
		// move from what ran before, which is stopped.
		st.Version, st.Revision, st.Config = "", "", nil
		st.Upgrade = nil // snapshots of earlier moves are not of this data
	}, &stamp.Event{Type: stamp.EventTenantRestored, Message: fmt.Sprintf("backup %s of %s, taken %s of version %s", m.ID, m.Tenant, m.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), m.Version)})
}

// stopForLoad takes a tenant that serves off its route and stops it, as
// a suspension does.
func (p *pass) stopForLoad(ctx context.Context) error {
	if p.t.Status.Version == "" && len(p.t.Status.Endpoints) == 0 {
		return nil // never served: nothing runs that writes
	}
	return p.stopOffRoute(ctx, stamp.PhaseRestoring, "restore")
}

// loadArchive loads each database the blueprint declares from its dump
// in u, and the data directory. The archive must be of the tenant's
// blueprint and version (the API sees to it) and hold a dump of every
// database in the engine's format.
func (p *pass) loadArchive(ctx context.Context, u *backup.Unpacked) error {
	m := u.Manifest
	if m.Blueprint != p.t.Spec.Blueprint || m.Version != p.t.Spec.Version {
		return terminal("backup %s is of %s@%s, not of %s@%s", m.ID, m.Blueprint, m.Version, p.t.Spec.Blueprint, p.t.Spec.Version)
	}
	dumps := map[string]backup.Database{}
	for _, db := range m.Databases {
		dumps[db.Name] = db
	}
	for _, name := range slices.Sorted(maps.Keys(p.bp.Databases)) {
		if err := p.loadDatabase(ctx, u, name, p.bp.Databases[name].Engine, dumps); err != nil {
			return err
		}
	}
	da, ok := p.r.cfg.Driver.(stamp.DataArchiver)
	if !ok || m.Data == nil {
		return nil // the driver keeps no files, or the backup had none
	}
	f, err := u.Open(m.Data.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := da.ReadData(ctx, p.t.RuntimeName(), f); err != nil {
		return fmt.Errorf("load the data directory: %w", err)
	}
	return nil
}

// loadDatabase loads database name of the tenant from its dump in u.
func (p *pass) loadDatabase(ctx context.Context, u *backup.Unpacked, name, engine string, dumps map[string]backup.Database) error {
	dumper, err := p.r.dumper(name, engine)
	if err != nil {
		return err
	}
	dump, ok := dumps[name]
	switch {
	case !ok:
		return terminal("backup %s has no dump of database %s", u.Manifest.ID, name)
	case dump.Format != dumper.DumpFormat():
		return terminal("backup %s holds database %s as %s; its engine %s loads %s", u.Manifest.ID, name, dump.Format, engine, dumper.DumpFormat())
	}
	if err := dumper.Load(ctx, p.database(name), u.Path(dump.Path)); err != nil {
		if stamp.ErrorCode(err) == stamp.EINVALID {
			return terminal("load database %s: %s", name, stamp.ErrorMessage(err))
		}
		return fmt.Errorf("load database %s: %w", name, err)
	}
	return nil
}

// dropBackups deletes the backups of a tenant being purged: everything
// of a customer who left goes, and what they take with them is the
// export they were given.
func (p *pass) dropBackups(ctx context.Context) error {
	if p.r.cfg.Backups == nil || p.t.Spec.Pooled {
		return nil
	}
	list, err := p.r.cfg.Backups.List(ctx, p.t.Name)
	if err != nil {
		return fmt.Errorf("list backups to delete: %w", err)
	}
	for _, b := range list {
		if err := p.r.cfg.Backups.Delete(ctx, p.t.Name, b.ID); err != nil && stamp.ErrorCode(err) != stamp.ENOTFOUND {
			return fmt.Errorf("delete backup %s: %w", b.ID, err)
		}
	}
	return nil
}
