// Package sqlstore holds what the two SQL stores, store/sqlite and
// store/postgres, share above their SQL dialects: the errors they return,
// the limits of their lists, how they read their migrations and how they
// bring a decoded row to the store's conventions. Keeping one copy keeps
// the two word for word alike where the conformance suite compares them.
package sqlstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stamphq/stamp"
)

// Table is a table of rows with a key of their own.
type Table struct {
	Noun string // what messages call a row
	Name string // the table's name
	Key  string // the primary key column
}

// The tables whose rows are written only at the resource version they were
// read at, and the tokens.
var (
	Tenants   = Table{Noun: "tenant", Name: "tenants", Key: "name"}
	Releases  = Table{Noun: "release", Name: "releases", Key: "id"}
	Incidents = Table{Noun: "incident", Name: "incidents", Key: "id"}
	Webhooks  = Table{Noun: "webhook", Name: "webhooks", Key: "id"}
	Tokens    = Table{Noun: "token", Name: "tokens", Key: "id"}
	// Runtimes looks tenants up by the runtime they run under.
	Runtimes = Table{Noun: "tenant runtime", Name: "tenants", Key: "runtime"}
)

// VersionSQL returns the query of the stored resource version of a row,
// with param standing for its key: a write guarded by a version that
// touched no row reads it to tell a missing row from a stale version.
func (t Table) VersionSQL(param string) string {
	return `SELECT resource_version FROM ` + t.Name + ` WHERE ` + t.Key + ` = ` + param
}

// NotFound is the error for a missing row.
func (t Table) NotFound(key string) error {
	return stamp.Errorf(stamp.ENOTFOUND, "%s %q does not exist", t.Noun, key)
}

// Exists is the error for a create whose key is taken.
func (t Table) Exists(key string) error {
	return stamp.Errorf(stamp.ECONFLICT, "%s %q already exists", t.Noun, key)
}

// Stale is the error for a write at resource version version of a row
// stored at version stored.
func (t Table) Stale(key string, version, stored int64) error {
	return stamp.Errorf(stamp.ECONFLICT, "%s %q was changed by someone else (resource version %d, stored %d); re-read and retry", t.Noun, key, version, stored)
}

// UIDTaken is the error of a write that would give t's UID to a second
// tenant.
func UIDTaken(t *stamp.Tenant) error {
	return stamp.Errorf(stamp.ECONFLICT, "uid %d of tenant %q is held by another tenant", t.Status.UID, t.Name)
}

// RuntimeTaken is the error for a write of t whose runtime another
// tenant holds.
func RuntimeTaken(t *stamp.Tenant) error {
	return stamp.Errorf(stamp.ECONFLICT, "runtime %q of tenant %q is held by another tenant", t.Status.Runtime, t.Name)
}

// NotPooled is the error for a claim of a tenant that is no pooled stamp.
func NotPooled(name string) error {
	return stamp.Errorf(stamp.EINVALID, "tenant %q is not a pooled stamp: only the warm pool's stamps can be claimed", name)
}

// BundleNotFound is the error for a missing name@version.
func BundleNotFound(name, version string) error {
	return stamp.Errorf(stamp.ENOTFOUND, "blueprint %s@%s does not exist", name, version)
}

// DigestNotFound is the error for an archive no bundle has.
func DigestNotFound(digest string) error {
	return stamp.Errorf(stamp.ENOTFOUND, "no blueprint has digest %s", digest)
}

// BundleDiffers is the error for a push of b whose name@version is stored
// with another digest.
func BundleDiffers(b *stamp.Bundle, stored string) error {
	return stamp.Errorf(stamp.ECONFLICT, "blueprint %s already exists with different content (stored %s, pushed %s)", b.Ref(), stored, b.Digest)
}

// SecretTaken is the error for a token whose hash another token has.
// Which token holds the secret is not the caller's business.
func SecretTaken(id string) error {
	return stamp.Errorf(stamp.ECONFLICT, "token %q has the same secret as an existing token", id)
}

// TokenNameTaken is the error for a new token named as a token not
// revoked is.
func TokenNameTaken(name string) error {
	return stamp.Errorf(stamp.ECONFLICT, "a token named %q exists; revoke it first (stamp token revoke %s) or choose another name", name, name)
}

// TokenRefAmbiguous is the error for a revoke by a name that tokens not
// revoked share (admin tokens of servers sharing a store, made before
// names were unique): it names their IDs to revoke by.
func TokenRefAmbiguous(name string, ids []string) error {
	return stamp.Errorf(stamp.ECONFLICT, "tokens %s are all named %q: revoke one by its ID", strings.Join(ids, ", "), name)
}

// TokenRefNotFound is the error for a revoke of a token that does not
// exist or was revoked already.
func TokenRefNotFound(ref string) error {
	return stamp.Errorf(stamp.ENOTFOUND, "no token named %q (or with that ID) is in use", ref)
}

// OneToken picks the token a revoke of ref means among found, the tokens
// not revoked whose ID or name is ref, the one with the ID first: that
// one, else the one so named; none is TokenRefNotFound and a name shared
// TokenRefAmbiguous.
func OneToken(ref string, found []*stamp.Token) (*stamp.Token, error) {
	switch {
	case len(found) == 0:
		return nil, TokenRefNotFound(ref)
	case found[0].ID == ref, len(found) == 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, t := range found {
		ids[i] = t.ID
	}
	return nil, TokenRefAmbiguous(ref, ids)
}

// TokenNotFound is the error for a hash no token has.
func TokenNotFound() error {
	return stamp.Errorf(stamp.ENOTFOUND, "no token has that secret")
}

// Wrap returns err as is when it is a *stamp.Error, which already says what
// went wrong to the user, and otherwise wraps it with what was being done.
func Wrap(err error, format string, args ...any) error {
	var e *stamp.Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
