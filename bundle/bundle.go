// Package bundle owns the archive format of a blueprint version: a
// deterministic gzipped tar of the blueprint directory, addressed by its
// sha256. It packs a directory, reads single files out of an archive, and
// validates and extracts an archive by one set of rules (no path escapes,
// no links or devices, each name once, bounded size; extraction atomic).
package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// MaxSize limits both an archive and the total size of the files it holds.
const MaxSize = 512 << 20

// manifest is the file every bundle must hold at its root.
const manifest = "stamp.yaml"

// skipped are directories never packed: version control and Stamp's own
// data directory.
var skipped = []string{".git", ".stamp"}

// Pack archives dir, which must hold a stamp.yaml. The result depends only
// on the tree: stamp.yaml first, then paths sorted; times, owners and names zeroed; modes
// reduced to 0755 (directories and executables) or 0644. Directories named
// .git or .stamp are skipped; a symlink or any other non-regular file is an
// error naming it.
func Pack(dir string) ([]byte, error) {
	if fi, err := os.Stat(filepath.Join(dir, manifest)); err != nil || !fi.Mode().IsRegular() {
		return nil, stamp.Errorf(stamp.EUNPROCESSABLE, "pack %s: no %s in the directory", dir, manifest)
	}
	// Walk the real directory even when dir is a symlink to it.
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	type item struct {
		name string // slash-separated, relative to dir
		info fs.FileInfo
	}
	var items []item
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if slices.Contains(skipped, d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			return stamp.Errorf(stamp.EUNPROCESSABLE, "%s is a symlink; a bundle holds only regular files and directories", name)
		case !info.Mode().IsRegular() && !info.IsDir():
			return stamp.Errorf(stamp.EUNPROCESSABLE, "%s is not a regular file or directory (%s)", name, info.Mode().Type())
		}
		items = append(items, item{name, info})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	if len(items) > MaxEntries {
		return nil, stamp.Errorf(stamp.EUNPROCESSABLE, "pack %s: %d files and directories; a bundle holds at most %d", dir, len(items), MaxEntries)
	}
	// stamp.yaml leads, so that reading it (ReadFile) need not inflate the
	// whole archive; the rest follows sorted by path.
	slices.SortFunc(items, func(a, b item) int {
		if (a.name == manifest) != (b.name == manifest) {
			if a.name == manifest {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	var total int64
	for _, it := range items {
		hdr := &tar.Header{Name: it.name, Mode: 0o644, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if it.info.IsDir() {
			hdr.Name += "/"
			hdr.Mode = 0o755
			hdr.Typeflag = tar.TypeDir
		} else {
			if it.info.Mode()&0o111 != 0 {
				hdr.Mode = 0o755
			}
			hdr.Size = it.info.Size()
			if total += hdr.Size; total > MaxSize {
				return nil, stamp.Errorf(stamp.ETOOLARGE, "pack %s: files add up to more than %s", dir, size(MaxSize))
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("pack %s: %s: %w", dir, it.name, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if err := copyFile(tw, filepath.Join(root, filepath.FromSlash(it.name)), hdr.Size); err != nil {
				return nil, fmt.Errorf("pack %s: %s: %w", dir, it.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	if buf.Len() > MaxSize {
		return nil, stamp.Errorf(stamp.ETOOLARGE, "pack %s: archive is larger than %s", dir, size(MaxSize))
	}
	return buf.Bytes(), nil
}

// copyFile writes exactly size bytes of the file at p to w; a file that
// changed size since it was listed is an error, not a corrupt archive.
func copyFile(w io.Writer, p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(w, f, size); err != nil {
		return fmt.Errorf("file changed while packing: %w", err)
	}
	if n, _ := f.Read(make([]byte, 1)); n > 0 {
		return errors.New("file grew while packing")
	}
	return nil
}

// Digest returns the address of an archive: "sha256:" and the hex digest.
func Digest(content []byte) string {
	sum := sha256.Sum256(content)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ReadFile returns the regular file called name (a slash-separated path
// relative to the bundle root) from the archive, or an ENOTFOUND error.
func ReadFile(content []byte, name string) ([]byte, error) {
	want := path.Clean(name)
	tr, err := open(content, MaxSize)
	if err != nil {
		return nil, err
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, stamp.Errorf(stamp.ENOTFOUND, "bundle has no file %q", name)
		}
		if err != nil {
			return nil, corrupt(err)
		}
		if path.Clean(hdr.Name) != want || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if hdr.Size > MaxSize {
			return nil, stamp.Errorf(stamp.ETOOLARGE, "bundle file %q declares %d bytes; at most %s are allowed", name, hdr.Size, size(MaxSize))
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, corrupt(err)
		}
		return data, nil
	}
}

// Extract unpacks the archive into dir. It works in a temporary sibling of
// dir and renames it into place, so dir either does not exist or holds the
// whole bundle. If dir already exists it is left alone and Extract returns
// nil: bundles are immutable, so an earlier or concurrent extraction of
// the same digest is as good as this one. An archive Validate refuses is
// refused here too, by the same checks, leaving nothing behind. A write
// that fails leaves nothing behind either and is no verdict on the
// archive: its error wraps the system's (syscall.ENOSPC for a full disk),
// to be retried once the host is fixed.
func Extract(content []byte, dir string) error {
	return extract(content, dir, MaxSize)
}

// extract is Extract with a size limit that tests can make small.
func extract(content []byte, dir string, limit int64) (err error) {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := unpack(content, tmp, limit); err != nil {
		return fmt.Errorf("extract bundle to %s: %w", dir, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Lstat(dir); statErr == nil {
			// Another extraction won the race.
			os.RemoveAll(tmp)
			return nil
		}
		return fmt.Errorf("extract bundle: %w", err)
	}
	return nil
}

// unpack writes the archive's entries under root; walk checks each one.
func unpack(content []byte, root string, limit int64) error {
	return walk(content, limit, func(m member) error {
		target := filepath.Join(root, filepath.FromSlash(m.name))
		if m.dir {
			return os.MkdirAll(target, 0o755)
		}
		return writeFile(target, m)
	})
}

func writeFile(target string, m member) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	// O_EXCL: walk refuses a name given twice; never write through one.
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, m.mode)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, m.body, m.size); err != nil {
		f.Close()
		if errors.As(err, new(*fs.PathError)) {
			// Writing failed, not reading: a full disk (ENOSPC) or
			// another fault of the host, which a retry may get past;
			// the archive is not to blame.
			return err
		}
		return corrupt(err)
	}
	// Chmod too: the bundle's modes, not the process umask, decide.
	if err := f.Chmod(m.mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// open checks the archive's size and returns a tar reader over it.
func open(content []byte, limit int64) (*tar.Reader, error) {
	if int64(len(content)) > limit {
		return nil, stamp.Errorf(stamp.ETOOLARGE, "bundle is larger than %s", size(limit))
	}
	zr, err := gzip.NewReader(bytes.NewReader(content))
	if err != nil {
		return nil, corrupt(err)
	}
	return tar.NewReader(zr), nil
}

// size formats a limit: "512 MiB", or bytes for the small limits of tests.
func size(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func corrupt(err error) error {
	return stamp.Errorf(stamp.EUNPROCESSABLE, "bundle is not a valid gzipped tar: %v", err)
}
