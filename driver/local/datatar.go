package local

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/stamphq/stamp"
)

var _ stamp.DataArchiver = (*Driver)(nil)

// WriteData writes the tenant's data directory to w as a tar stream:
// directories, regular files and symbolic links, with paths relative to
// the directory and their modes; owners are left out (ReadData gives
// everything to the tenant that reads it). Sockets and pipes are the
// running app's, not data, and are skipped. Files the app writes
// meanwhile are copied as they are when read. A tenant with no data
// directory writes an empty stream.
func (d *Driver) WriteData(ctx context.Context, tenant string, w io.Writer) error {
	t, err := d.lockTenant(ctx, tenant, false)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	tw := tar.NewWriter(w)
	err = writeTree(ctx, t.dataDir(), tw)
	if errors.Is(err, fs.ErrNotExist) && !exists(t.dataDir()) {
		err = nil
	}
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return fmt.Errorf("write the data of %s: %w", tenant, err)
	}
	return nil
}

// writeTree writes what dir holds to tw, never following a link.
func writeTree(ctx context.Context, dir string, tw *tar.Writer) error {
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: int64(info.Mode().Perm()), ModTime: info.ModTime(), Format: tar.FormatPAX}
		switch {
		case e.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
			return tw.WriteHeader(h)
		case e.Type()&fs.ModeSymlink != 0:
			if h.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
			h.Typeflag = tar.TypeSymlink
			return tw.WriteHeader(h)
		case e.Type().IsRegular():
			return writeMember(tw, h, p)
		}
		return nil
	})
}

// writeMember writes the regular file at p (not through a link) to tw
// under h: as many bytes as it had when opened.
func writeMember(tw *tar.Writer, h *tar.Header, p string) error {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	h.Typeflag, h.Size = tar.TypeReg, info.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, h.Size)
	return err
}

// ReadData makes the tenant's data directory hold what the tar stream r
// holds (as WriteData writes it), every file given to the owner of the
// directory: the tenant's user. The stream is unpacked aside first, so
// a stream refused half-way (a path out of the directory or through a
// link of its own, an absolute path, a device: EINVALID) leaves the
// directory as it was. The tenant must have been prepared.
func (d *Driver) ReadData(ctx context.Context, tenant string, r io.Reader) error {
	t, err := d.lockTenant(ctx, tenant, false)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	info, err := os.Lstat(t.dataDir())
	if errors.Is(err, fs.ErrNotExist) {
		return stamp.Errorf(stamp.ENOTFOUND, "tenant %s has no data directory to read into", tenant)
	}
	if err != nil {
		return fmt.Errorf("read data into %s: %w", tenant, err)
	}
	owner := info.Sys().(*syscall.Stat_t)
	tmp := filepath.Join(t.dir, "snapshots", "read.tmp")
	defer removeAll(tmp)
	if err := removeAll(tmp); err != nil {
		return fmt.Errorf("read data into %s: %w", tenant, err)
	}
	if err := mkdirMode(tmp, 0o700, 0); err != nil {
		return fmt.Errorf("read data into %s: %w", tenant, err)
	}
	if err := readTree(ctx, tar.NewReader(r), tmp, owner); err != nil {
		return fmt.Errorf("read data into %s: %w", tenant, err)
	}
	return restoreData(ctx, t, tmp)
}

// readTree unpacks tr into the empty directory dir, giving every file
// owner's user and group. Nothing is written through a link: files and
// directories are created exclusively, and a path through a link the
// stream made is refused.
func readTree(ctx context.Context, tr *tar.Reader, dir string, owner *syscall.Stat_t) error {
	links := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return stamp.Errorf(stamp.EINVALID, "the data is not a tar stream: %v", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name, err := memberPath(h.Name, links)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		mode := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			err = makeParents(filepath.Dir(target), owner)
			if err == nil {
				err = os.Mkdir(target, 0o700)
			}
			if errors.Is(err, fs.ErrExist) {
				err = nil // a directory named twice, or implied before
			}
			if err == nil {
				err = chownPath(target, mode, owner)
			}
		case tar.TypeSymlink:
			links[name] = true
			if err = makeParents(filepath.Dir(target), owner); err == nil {
				err = os.Symlink(h.Linkname, target)
			}
			if err == nil {
				err = os.Lchown(target, int(owner.Uid), int(owner.Gid))
			}
		case tar.TypeReg:
			err = readMember(tr, target, mode, owner)
		default:
			return stamp.Errorf(stamp.EINVALID, "data member %s is neither a file, a directory nor a link (type %q)", h.Name, h.Typeflag)
		}
		if err != nil {
			return fmt.Errorf("unpack %s: %w", name, err)
		}
	}
}

// memberPath cleans a member's name and refuses one that leaves the
// directory or goes through a link made earlier (links).
func memberPath(name string, links map[string]bool) (string, error) {
	clean := path.Clean(strings.TrimSuffix(name, "/"))
	if path.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", stamp.Errorf(stamp.EINVALID, "data member %q is outside the data directory", name)
	}
	for p := path.Dir(clean); p != "."; p = path.Dir(p) {
		if links[p] {
			return "", stamp.Errorf(stamp.EINVALID, "data member %q goes through the link %s", name, p)
		}
	}
	return clean, nil
}

// readMember writes the member tr is at to a new file at target.
func readMember(tr *tar.Reader, target string, mode fs.FileMode, owner *syscall.Stat_t) error {
	if err := makeParents(filepath.Dir(target), owner); err != nil {
		return err
	}
	return writeNew(target, tr, mode, owner)
}

// makeParents makes dir and whatever of its parents is missing, a
// member's directories the stream did not name, giving them to owner.
func makeParents(dir string, owner *syscall.Stat_t) error {
	if exists(dir) {
		return nil
	}
	if err := makeParents(filepath.Dir(dir), owner); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return chownPath(dir, 0o700, owner)
}

// chownPath gives the directory at p mode and owner's user and group.
func chownPath(p string, mode fs.FileMode, owner *syscall.Stat_t) error {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	return setOwner(f, mode, owner)
}

// exists reports whether something is at p.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
