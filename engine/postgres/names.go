package postgres

import (
	"crypto/sha256"
	"encoding/hex"
)

// maxIdentifier is the longest identifier PostgreSQL keeps (NAMEDATALEN-1
// bytes); the server silently truncates longer ones, which could make two
// tenants share a role.
const maxIdentifier = 63

// ObjectName returns the name of both the login role and the database of
// one database of one tenant: "stamp_<tenant>_<database>", '-' kept. Tenant
// and database names are DNS labels, which hold no '_', so distinct pairs
// get distinct names. A name over 63 bytes keeps its first 49 bytes and
// ends in "__" and 12 hex digits of the SHA-256 of the full name: stable
// across runs, unique in practice, and never equal to an untruncated name,
// which cannot contain "__".
func ObjectName(tenant, database string) string {
	return shorten("stamp_" + tenant + "_" + database)
}

// SnapshotName returns the name of the database that holds the snapshot
// snapshot of one database of one tenant:
// "stampsnap_<tenant>_<database>_<snapshot>", shortened like ObjectName.
// Its prefix keeps it apart from every ObjectName, truncated or not.
func SnapshotName(tenant, database, snapshot string) string {
	return shorten("stampsnap_" + tenant + "_" + database + "_" + snapshot)
}

// tempSnapshotName is the name a snapshot is built under before it replaces
// the one of SnapshotName.
func tempSnapshotName(tenant, database, snapshot string) string {
	return shorten("stamptmp_" + tenant + "_" + database + "_" + snapshot)
}

// shorten returns name if it fits in an identifier, else its first bytes
// followed by "__" and 12 hex digits of its SHA-256.
func shorten(name string) string {
	if len(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "__" + hex.EncodeToString(sum[:6])
	return name[:maxIdentifier-len(suffix)] + suffix
}
