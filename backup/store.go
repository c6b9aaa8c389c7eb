// Package backup keeps tenants' backups: archives of their databases and
// data directories (docs/archive.md), encrypted with the server's master
// key, in a blob store: a local directory or any S3-compatible store.
//
// An archive is written whole before its name appears in the store (a
// file is renamed into place, an S3 upload completes), so a backup cut
// short by a crash is never listed. The store is the only record of the
// backups: it outlives the control plane's database.
package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/keyring"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// stores
	_ "gocloud.dev/blob/s3blob"   // s3:// stores
	"gocloud.dev/gcerrors"
)

// ext ends the name of every archive in the store.
const ext = ".stamp"

// Store keeps backups in a blob bucket. It is safe for concurrent use.
type Store struct {
	bucket *blob.Bucket
	keys   *keyring.Ring
	work   string
	clock  stamp.Clock
	url    string
}

// Open opens the backup store at storeURL: file:///dir (created if
// missing) or s3://bucket?endpoint=...&region=... (credentials from the
// environment, as the AWS SDK reads them). Archives are encrypted with
// keys' active key; work is a directory for the copies a backup or a
// restore makes on the way, on a disk with room for a tenant's data.
func Open(ctx context.Context, storeURL string, keys *keyring.Ring, work string, clock stamp.Clock) (*Store, error) {
	u, err := url.Parse(storeURL)
	if err != nil {
		return nil, stamp.Errorf(stamp.EINVALID, "backup store %q is not a URL: %v", storeURL, err)
	}
	if u.Scheme == "file" {
		// Written beside their final name and renamed into place, never
		// in a shared temporary directory; only the server reads them.
		q := u.Query()
		q.Set("create_dir", "1")
		q.Set("no_tmp_dir", "1")
		q.Set("dir_file_mode", "0700")
		u.RawQuery = q.Encode()
	}
	bucket, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open backup store %s: %w", redactURL(u), err)
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		bucket.Close()
		return nil, fmt.Errorf("backup work directory: %w", err)
	}
	return &Store{bucket: bucket, keys: keys, work: work, clock: clock, url: redactURL(u)}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.bucket.Close() }

// String names the store, without credentials.
func (s *Store) String() string { return s.url }

// redactURL drops credentials a URL may carry.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}

// NewID returns a new backup id for time now.
func NewID(now time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// key returns the name of a backup's archive in the bucket.
func key(tenant, id string) string { return "tenants/" + tenant + "/" + id + ext }

// Take writes the archive of m (its ID, tenant and what it ran set) and
// parts to the store and returns its record. recipients, if any, can
// open the archive too (an export for a customer's own age key).
func (s *Store) Take(ctx context.Context, m *Manifest, parts []Part, recipients ...age.Recipient) (*stamp.Backup, error) {
	m.Format = Format
	if err := m.check(false); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(s.work, m.ID+"-")
	if err != nil {
		return nil, fmt.Errorf("back up %s: %w", m.Tenant, err)
	}
	defer os.RemoveAll(dir)
	if err := spool(ctx, dir, m, parts); err != nil {
		return nil, fmt.Errorf("back up %s: %w", m.Tenant, err)
	}
	b := &stamp.Backup{ID: m.ID, Tenant: m.Tenant, Blueprint: m.Blueprint, Version: m.Version, CreatedAt: m.CreatedAt, Reason: m.Reason, Key: s.keys.ActiveID()}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // an upload not closed is abandoned, never stored
	w, err := s.bucket.NewWriter(ctx, key(m.Tenant, m.ID), &blob.WriterOptions{
		ContentType: "application/octet-stream",
		Metadata:    metadata(b),
	})
	if err != nil {
		return nil, fmt.Errorf("back up %s: %w", m.Tenant, err)
	}
	counter := &countWriter{w: w}
	if err := pack(counter, dir, m, append([]age.Recipient{masterKey{s.keys}}, recipients...)...); err != nil {
		cancel()
		w.Close()
		return nil, fmt.Errorf("back up %s: %w", m.Tenant, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("back up %s: store the archive: %w", m.Tenant, err)
	}
	b.Size = counter.n
	return b, nil
}

// metadata is what the store keeps beside an archive, so that listing
// backups opens none.
func metadata(b *stamp.Backup) map[string]string {
	return map[string]string{
		"tenant":    b.Tenant,
		"blueprint": b.Blueprint,
		"version":   b.Version,
		"created":   b.CreatedAt.UTC().Format(time.RFC3339Nano),
		"reason":    b.Reason,
		"key":       b.Key,
	}
}

// List returns the tenant's backups, newest first.
func (s *Store) List(ctx context.Context, tenant string) ([]stamp.Backup, error) {
	if err := stamp.ValidateName("tenant", tenant); err != nil {
		return nil, err
	}
	var out []stamp.Backup
	prefix := "tenants/" + tenant + "/"
	err := s.each(ctx, prefix, func(obj *blob.ListObject) error {
		id, ok := strings.CutSuffix(strings.TrimPrefix(obj.Key, prefix), ext)
		if !ok || !idForm.MatchString(id) {
			return nil // an upload in progress, or not ours
		}
		b, err := s.Get(ctx, tenant, id)
		if stamp.ErrorCode(err) == stamp.ENOTFOUND {
			return nil // deleted since listed
		}
		if err != nil {
			return err
		}
		out = append(out, *b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the backups of %s: %w", tenant, err)
	}
	slices.SortFunc(out, func(a, b stamp.Backup) int { return strings.Compare(b.ID, a.ID) })
	return out, nil
}

// Get returns one backup of the tenant; a missing one is ENOTFOUND.
func (s *Store) Get(ctx context.Context, tenant, id string) (*stamp.Backup, error) {
	if err := checkRef(tenant, id); err != nil {
		return nil, err
	}
	attrs, err := s.bucket.Attributes(ctx, key(tenant, id))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "tenant %q has no backup %q", tenant, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read backup %s of %s: %w", id, tenant, err)
	}
	md := attrs.Metadata
	created, _ := time.Parse(time.RFC3339Nano, md["created"])
	return &stamp.Backup{
		ID: id, Tenant: tenant, Blueprint: md["blueprint"], Version: md["version"],
		CreatedAt: created, Size: attrs.Size, Key: md["key"], Reason: md["reason"],
	}, nil
}

// checkRef refuses a tenant or backup id that cannot name a backup.
func checkRef(tenant, id string) error {
	if err := stamp.ValidateName("tenant", tenant); err != nil {
		return err
	}
	if !idForm.MatchString(id) {
		return stamp.Errorf(stamp.EINVALID, "%q is not a backup id (like 20261205T011500Z-3f2a9c01)", id)
	}
	return nil
}

// Delete removes a backup; a missing one is ENOTFOUND.
func (s *Store) Delete(ctx context.Context, tenant, id string) error {
	if err := checkRef(tenant, id); err != nil {
		return err
	}
	err := s.bucket.Delete(ctx, key(tenant, id))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return stamp.Errorf(stamp.ENOTFOUND, "tenant %q has no backup %q", tenant, id)
	}
	if err != nil {
		return fmt.Errorf("delete backup %s of %s: %w", id, tenant, err)
	}
	return nil
}

// open opens a backup's archive for reading; a missing one is ENOTFOUND.
func (s *Store) open(ctx context.Context, tenant, id string) (*blob.Reader, error) {
	if err := checkRef(tenant, id); err != nil {
		return nil, err
	}
	r, err := s.bucket.NewReader(ctx, key(tenant, id), nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "tenant %q has no backup %q", tenant, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read backup %s of %s: %w", id, tenant, err)
	}
	return r, nil
}

// each calls fn with every object whose key begins with prefix, until fn
// fails.
func (s *Store) each(ctx context.Context, prefix string, fn func(*blob.ListObject) error) error {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(obj); err != nil {
			return err
		}
	}
}

// Download writes a backup's archive, as stored, to w.
func (s *Store) Download(ctx context.Context, tenant, id string, w io.Writer) error {
	r, err := s.open(ctx, tenant, id)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("read backup %s of %s: %w", id, tenant, err)
	}
	return nil
}

// Unpacked is an archive unpacked on disk for a restore: its manifest,
// and its members to read. Close removes it.
type Unpacked struct {
	Manifest *Manifest
	dir      string
}

// Open opens a member of the archive by its manifest path.
func (u *Unpacked) Open(path string) (*os.File, error) {
	return os.Open(u.Path(path))
}

// Path returns where the member of manifest path path is on disk.
func (u *Unpacked) Path(path string) string {
	return filepath.Join(u.dir, filepath.FromSlash(path))
}

// Close removes the unpacked members.
func (u *Unpacked) Close() error { return os.RemoveAll(u.dir) }

// Unpack reads, decrypts and checks a backup's archive into the work
// directory. A missing backup is ENOTFOUND; one that does not open with
// this server's keys or fails its checks is EINVALID.
func (s *Store) Unpack(ctx context.Context, tenant, id string) (*Unpacked, error) {
	r, err := s.open(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	dir, err := os.MkdirTemp(s.work, id+"-unpacked-")
	if err != nil {
		return nil, err
	}
	m, err := unpack(ctx, r, dir, masterKey{s.keys})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("backup %s of %s: %w", id, tenant, err)
	}
	return &Unpacked{Manifest: m, dir: dir}, nil
}

// Import stores an archive read from r (an export brought back) as a
// backup of tenant, under a new id, once it has opened and passed its
// checks: a file that is not an archive of ours is EINVALID and stores
// nothing. It returns the record and the archive's manifest.
func (s *Store) Import(ctx context.Context, tenant string, r io.Reader) (*stamp.Backup, *Manifest, error) {
	if err := stamp.ValidateName("tenant", tenant); err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp(s.work, "import-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	m, err := unpack(ctx, r, dir, masterKey{s.keys})
	if err != nil {
		return nil, nil, fmt.Errorf("import an archive for %s: %w", tenant, err)
	}
	source := *m
	m.ID, m.Tenant = NewID(s.clock.Now()), tenant
	m.CreatedAt = s.clock.Now().UTC()
	var parts []Part
	for _, f := range m.files() {
		parts = append(parts, Part{Path: f.Path, Write: func(_ context.Context, w io.Writer) error {
			in, err := os.Open(filepath.Join(dir, filepath.FromSlash(f.Path)))
			if err != nil {
				return err
			}
			defer in.Close()
			_, err = io.Copy(w, in)
			return err
		}})
	}
	b, err := s.Take(ctx, m, parts)
	if err != nil {
		return nil, nil, err
	}
	return b, &source, nil
}

// RemoveStale removes what a backup or a restore left in the work
// directory when its server died: anything older than age.
func (s *Store) RemoveStale(age time.Duration) error {
	entries, err := os.ReadDir(s.work)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || s.clock.Now().Sub(info.ModTime()) < age {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(s.work, e.Name())))
	}
	return errors.Join(errs...)
}

// KeysInUse returns the ids of the master keys that some backup is
// encrypted with: a key rotation must keep them.
func (s *Store) KeysInUse(ctx context.Context) (map[string]bool, error) {
	keys := map[string]bool{}
	err := s.each(ctx, "tenants/", func(obj *blob.ListObject) error {
		if !strings.HasSuffix(obj.Key, ext) {
			return nil
		}
		attrs, err := s.bucket.Attributes(ctx, obj.Key)
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read backup %s: %w", obj.Key, err)
		}
		keys[attrs.Metadata["key"]] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find the keys backups use: %w", err)
	}
	return keys, nil
}

// StaleUploads returns the objects under the tenants' prefix that are no
// archive (an upload a killed server left: fileblob's "*.tmp") and are
// older than age, and removes them unless dryRun. S3 keeps unfinished
// uploads apart from objects: a bucket lifecycle rule aborts those.
func (s *Store) StaleUploads(ctx context.Context, age time.Duration, dryRun bool) ([]string, error) {
	var stale []string
	err := s.each(ctx, "tenants/", func(obj *blob.ListObject) error {
		if obj.IsDir || strings.HasSuffix(obj.Key, ext) || s.clock.Now().Sub(obj.ModTime) < age {
			return nil
		}
		if !dryRun {
			if err := s.bucket.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
				return fmt.Errorf("remove stale upload %s: %w", obj.Key, err)
			}
		}
		stale = append(stale, obj.Key)
		return nil
	})
	if err != nil {
		return stale, fmt.Errorf("find stale uploads: %w", err)
	}
	return stale, nil
}
