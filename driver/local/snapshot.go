package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/stamphq/stamp"
)

var _ stamp.DataSnapshotter = (*Driver)(nil)

// SnapshotData copies the tenant's data directory into snapshots/<name>,
// replacing an earlier snapshot of that name, with every file's mode and
// owner. Only directories, regular files and symbolic links are copied
// (a socket or a pipe is the running app's, not data).
func (d *Driver) SnapshotData(ctx context.Context, tenant, name string) error {
	if err := stamp.ValidateName("snapshot", name); err != nil {
		return err
	}
	t, err := d.lockTenant(ctx, tenant, false)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	snap := filepath.Join(t.dir, "snapshots", name)
	tmp := snap + ".tmp"
	if err := removeAll(tmp); err != nil {
		return fmt.Errorf("snapshot data of %s: %w", tenant, err)
	}
	if err := mkdirMode(filepath.Dir(snap), 0o700, 0); err != nil {
		return fmt.Errorf("snapshot data of %s: %w", tenant, err)
	}
	if err := copyTree(ctx, t.dataDir(), tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		removeAll(tmp)
		return fmt.Errorf("snapshot data of %s: %w", tenant, err)
	}
	if err := removeAll(snap); err != nil {
		return fmt.Errorf("snapshot data of %s: %w", tenant, err)
	}
	if err := os.Rename(tmp, snap); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot data of %s: %w", tenant, err)
	}
	return nil
}

// RestoreData makes the tenant's data directory hold what snapshot name
// holds again. It works in place (the directory stays the same one, which
// running processes have as their working directory): what is in it goes,
// then the snapshot's files are copied in. A missing snapshot is
// ENOTFOUND.
func (d *Driver) RestoreData(ctx context.Context, tenant, name string) error {
	if err := stamp.ValidateName("snapshot", name); err != nil {
		return err
	}
	t, err := d.lockTenant(ctx, tenant, false)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	snap := filepath.Join(t.dir, "snapshots", name)
	if _, err := os.Stat(snap); errors.Is(err, fs.ErrNotExist) {
		return stamp.Errorf(stamp.ENOTFOUND, "tenant %s has no snapshot %s of its data", tenant, name)
	}
	return restoreData(ctx, t, snap)
}

// restoreData empties the data directory of t and copies what snap holds
// into it.
func restoreData(ctx context.Context, t *tenant, snap string) error {
	tenant := t.name
	entries, err := os.ReadDir(t.dataDir())
	if err != nil {
		return fmt.Errorf("restore data of %s: %w", tenant, err)
	}
	for _, e := range entries {
		if err := removeAll(filepath.Join(t.dataDir(), e.Name())); err != nil {
			return fmt.Errorf("restore data of %s: %w", tenant, err)
		}
	}
	snapEntries, err := os.ReadDir(snap)
	if err != nil {
		return fmt.Errorf("restore data of %s: %w", tenant, err)
	}
	for _, e := range snapEntries {
		if err := copyTree(ctx, filepath.Join(snap, e.Name()), filepath.Join(t.dataDir(), e.Name())); err != nil {
			return fmt.Errorf("restore data of %s: %w", tenant, err)
		}
	}
	return nil
}

// copyTree copies src to dst, which must not exist, keeping modes and
// owners. It runs as root over files a tenant controls, which may change
// under it: nothing is followed through a symbolic link, files and
// directories are created exclusively (O_EXCL, never through something
// already there) and their mode and owner are set on the open file, not
// by path.
func copyTree(ctx context.Context, src, dst string) error {
	return filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := e.Info()
		if err != nil {
			return err
		}
		owner := info.Sys().(*syscall.Stat_t)
		switch {
		case e.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
			if err != nil {
				return err
			}
			return setOwner(f, info.Mode().Perm(), owner)
		case e.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
			return os.Lchown(target, int(owner.Uid), int(owner.Gid))
		case e.Type().IsRegular():
			return copyFile(path, target, info.Mode().Perm(), owner)
		}
		return nil
	})
}

// copyFile copies the regular file src (not through a link) to a new file
// dst with mode and owner.
func copyFile(src, dst string, mode fs.FileMode, owner *syscall.Stat_t) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeNew(dst, in, mode, owner)
}

// writeNew writes r to a new file dst (never through something already
// there) and gives it mode and owner's user and group.
func writeNew(dst string, r io.Reader, mode fs.FileMode, owner *syscall.Stat_t) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return setOwner(out, mode, owner)
}

// setOwner gives the open file f mode and owner's user and group, then
// closes it.
func setOwner(f *os.File, mode fs.FileMode, owner *syscall.Stat_t) error {
	err := f.Chown(int(owner.Uid), int(owner.Gid))
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
