package stamp

import "time"

// Backup is one archive of a tenant: a consistent copy of each of its
// databases and its data directory, with a manifest, compressed and
// encrypted, in the server's backup store (docs/archive.md).
type Backup struct {
	// ID names the backup among its tenant's: the time it was taken,
	// then random digits (20261205T011500Z-3f2a9c01), so IDs sort by age.
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Blueprint and Version are what the tenant ran; a restore runs that
	// version again.
	Blueprint string    `json:"blueprint"`
	Version   string    `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	// Size is the archive's size in bytes, as stored.
	Size int64 `json:"size"`
	// Key is the id of the master key the archive is encrypted with.
	Key string `json:"key"`
	// Reason says why it was taken: BackupManual, BackupScheduled or
	// BackupExport.
	Reason string `json:"reason"`
}

// Why a backup was taken (Backup.Reason).
const (
	BackupManual    = "manual"    // stamp tenant backup
	BackupScheduled = "scheduled" // the plan's backup schedule
	BackupExport    = "export"    // before the tenant was deleted
)
