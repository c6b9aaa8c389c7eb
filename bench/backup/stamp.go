package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/backup"
	"github.com/stamphq/stamp/keyring"
)

// stampBackup is one backup by Stamp's path: what reconcile's
// Reconciler.Backup does for a tenant with one database and no data
// directory, without the reconciler: a manifest, a part that runs the
// engine's Dump, and Store.Take.
type stampBackup struct {
	took  time.Duration // Store.Take, the manifest made
	spool time.Duration // the Dump into Take's spool (sha256 and file write on the way)
	id    string
	size  int64 // the archive in the store
	dump  int64 // the dump in it, uncompressed
}

// pack is what Take does after the spool: tar, zstd, age, the store's
// write, and removing the spool.
func (b stampBackup) pack() time.Duration { return b.took - b.spool }

// stampRestore is one restore by Stamp's path: what reconcile's
// loadBackup and loadArchive do for the database: Store.Unpack, then the
// engine's Load of the dump into the live database.
type stampRestore struct {
	took   time.Duration
	unpack time.Duration // Store.Unpack: read, decrypt, decompress, check, write the member
	load   time.Duration // the engine's Load, and removing the unpacked member
}

// openStore opens a backup store at dir (file://), with a key ring of
// one 32-byte key and its work directory work.
func openStore(ctx context.Context, dir, work string) (*backup.Store, error) {
	ring, err := keyring.New(benchKey())
	if err != nil {
		return nil, fmt.Errorf("key ring: %w", err)
	}
	s, err := backup.Open(ctx, "file://"+dir, ring, work, stamp.SystemClock{})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// benchKey is the run's master key: fixed, since what it seals is thrown
// away.
func benchKey() []byte {
	k := make([]byte, keyring.KeySize)
	for i := range k {
		k[i] = byte(i + 1)
	}
	return k
}

// takeBackup backs the tenant's database up into s, as Reconciler.Backup
// does.
func takeBackup(ctx context.Context, s *backup.Store, d stamp.Dumper, db stamp.DatabaseSpec) (stampBackup, error) {
	var res stampBackup
	start := time.Now()
	now := time.Now()
	m := &backup.Manifest{
		ID: backup.NewID(now), Tenant: db.Tenant, Blueprint: "ledger", Version: "1.0.0",
		Plan: "starter", Reason: stamp.BackupManual, CreatedAt: now.UTC(),
	}
	path := "databases/" + db.Name + "." + d.DumpFormat()
	m.Databases = append(m.Databases, backup.Database{Name: db.Name, Format: d.DumpFormat(), File: backup.File{Path: path}})
	parts := []backup.Part{{Path: path, Write: func(ctx context.Context, w io.Writer) error {
		t := time.Now()
		err := d.Dump(ctx, stamp.DatabaseSpec{Tenant: db.Tenant, Name: db.Name}, w)
		res.spool = time.Since(t)
		return err
	}}}
	b, err := s.Take(ctx, m, parts)
	if err != nil {
		return res, fmt.Errorf("stamp's backup: %w", err)
	}
	res.took = time.Since(start)
	res.id, res.size, res.dump = b.ID, b.Size, m.Databases[0].Size
	return res, nil
}

// restoreBackup loads backup id of the tenant into its live database, as
// loadBackup and loadArchive do.
func restoreBackup(ctx context.Context, s *backup.Store, d stamp.Dumper, db stamp.DatabaseSpec, id string) (stampRestore, error) {
	var res stampRestore
	start := time.Now()
	u, err := s.Unpack(ctx, db.Tenant, id)
	if err != nil {
		return res, fmt.Errorf("stamp's restore: %w", err)
	}
	defer u.Close()
	res.unpack = time.Since(start)
	var dump *backup.Database
	for i := range u.Manifest.Databases {
		if u.Manifest.Databases[i].Name == db.Name {
			dump = &u.Manifest.Databases[i]
		}
	}
	if dump == nil || dump.Format != d.DumpFormat() {
		return res, fmt.Errorf("stamp's restore: backup %s has no %s dump of database %s", id, d.DumpFormat(), db.Name)
	}
	if err := d.Load(ctx, db, u.Path(dump.Path)); err != nil {
		return res, fmt.Errorf("stamp's restore: %w", err)
	}
	if err := u.Close(); err != nil {
		return res, fmt.Errorf("stamp's restore: remove the unpacked archive: %w", err)
	}
	res.took = time.Since(start)
	res.load = res.took - res.unpack
	return res, nil
}

// Components: parts of Stamp's path timed apart, once a round each.
const (
	compDumpDiscard  = "the engine's Dump into io.Discard"
	compVacuum       = "VACUUM INTO a file (the first half of the SQLite Dump)"
	compSHA256       = "SHA-256 of the dump (read from the page cache)"
	compZstd         = "zstd SpeedFastest of the dump, into io.Discard"
	compZstdAge      = "zstd SpeedFastest then age, into io.Discard"
	compPackMirror   = "tar, zstd, age into a file (Take's pack, mirrored)"
	compCopy         = "copy the dump to a new file"
	compZstdCLI      = "`zstd -1` (the CLI) of the floor's file, into a file"
	compFloorCreate  = "CREATE DATABASE ... TEMPLATE template0 (the floor's empty target, not counted)"
	compTemplateWAL  = "CREATE DATABASE ... TEMPLATE (WAL_LOG, the default)"
	compTemplateFile = "CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY"
)

// genericComponents times, on ref (a dump the engine made, in the page
// cache), what Take and Unpack do to a dump on the way: each a
// separate pass over the whole file. scratch is a directory to write in.
func genericComponents(ctx context.Context, d stamp.Dumper, db stamp.DatabaseSpec, ref, scratch string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	timed := func(name string, f func() error) error {
		start := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out[name] = time.Since(start)
		return ctx.Err()
	}
	recipient, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		f    func() error
	}{
		{compDumpDiscard, func() error { return d.Dump(ctx, db, io.Discard) }},
		{compSHA256, func() error { return readInto(ref, sha256.New()) }},
		{compZstd, func() error { return compress(ref, io.Discard, nil) }},
		{compZstdAge, func() error { return compress(ref, io.Discard, recipient.Recipient()) }},
		{compPackMirror, func() error { return packMirror(ref, filepath.Join(scratch, "mirror.stamp"), recipient.Recipient()) }},
		{compCopy, func() error { return copyFile(ref, filepath.Join(scratch, "copy")) }},
	}
	for _, s := range steps {
		if err := timed(s.name, s.f); err != nil {
			return nil, err
		}
	}
	for _, f := range []string{"mirror.stamp", "copy"} {
		os.Remove(filepath.Join(scratch, f))
	}
	return out, nil
}

// readInto copies the file at path into w.
func readInto(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// compress writes the file at path through zstd at SpeedFastest, as
// backup's pack does, into w: encrypted with age to r first, if r is set.
func compress(path string, w io.Writer, r age.Recipient) error {
	var enc io.WriteCloser = nopCloser{w}
	if r != nil {
		var err error
		if enc, err = age.Encrypt(w, r); err != nil {
			return err
		}
	}
	zw, err := zstd.NewWriter(enc, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return err
	}
	if err := readInto(path, zw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return enc.Close()
}

// packMirror writes the file at path as backup's pack writes a member, to
// the new file dst: tar, zstd at SpeedFastest, age.
func packMirror(path, dst string, r age.Recipient) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	enc, err := age.Encrypt(out, r)
	if err != nil {
		return err
	}
	zw, err := zstd.NewWriter(enc, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "databases/main", Typeflag: tar.TypeReg, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime(), Format: tar.FormatPAX}); err != nil {
		return err
	}
	if err := readInto(path, tw); err != nil {
		return err
	}
	for _, c := range []io.Closer{tw, zw, enc} {
		if err := c.Close(); err != nil {
			return err
		}
	}
	return out.Close()
}

// copyFile copies the file at src to the new file dst.
func copyFile(src, dst string) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := readInto(src, out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// nopCloser is a WriteCloser whose Close does nothing.
type nopCloser struct{ io.Writer }

// Close does nothing.
func (nopCloser) Close() error { return nil }
