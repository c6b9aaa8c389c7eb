package bundle

import (
	"archive/tar"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stamphq/stamp"
)

// MaxEntries limits how many files and directories a bundle holds.
const MaxEntries = 200_000

// Validate reads the whole archive and checks every entry by the rules
// Extract unpacks with: relative paths without "..", only regular files
// and directories, each name once, at most MaxEntries entries and MaxSize
// bytes of files. Its error names the entry and the rule it breaks.
func Validate(content []byte) error {
	return validate(content, MaxSize)
}

// validate is Validate with a size limit that tests can make small.
func validate(content []byte, limit int64) error {
	return walk(content, limit, func(member) error { return nil })
}

// member is one entry of an archive that passed walk's checks.
type member struct {
	name string      // cleaned, slash-separated, relative to the bundle root
	dir  bool        // a directory; otherwise a regular file
	mode fs.FileMode // 0o755 or 0o644
	size int64       // bytes of a file
	body io.Reader   // the file's content; read by visit or skipped
}

// walk reads the archive entry by entry, checks each against the rules of
// a bundle and hands it to visit. It is the one place those rules live, so
// that what push accepts (Validate) is exactly what Extract unpacks. It
// returns nil only when the whole archive was read and every entry
// passed.
func walk(content []byte, limit int64, visit func(member) error) error {
	tr, err := open(content, limit)
	if err != nil {
		return err
	}
	var total int64
	var entries int
	seen := map[string]bool{} // name -> is a directory (given or implied)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return corrupt(err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." && hdr.Typeflag == tar.TypeDir {
			continue // "./", written by tar -C dir .
		}
		m := member{name: name, dir: hdr.Typeflag == tar.TypeDir, mode: 0o755}
		switch {
		case m.dir:
		case name == ".":
			return stamp.Errorf(stamp.EUNPROCESSABLE, "bundle entry %q names the bundle root", hdr.Name)
		case hdr.Typeflag == tar.TypeReg:
			if hdr.Size < 0 || hdr.Size > limit-total {
				return stamp.Errorf(stamp.EUNPROCESSABLE, "bundle entry %q (%d bytes) takes the unpacked bundle over %s", hdr.Name, hdr.Size, size(limit))
			}
			total += hdr.Size
			m.size, m.body = hdr.Size, tr
			if hdr.Mode&0o111 == 0 {
				m.mode = 0o644
			}
		case hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink:
			return stamp.Errorf(stamp.EUNPROCESSABLE, "bundle entry %q is a link; bundles hold only regular files and directories", hdr.Name)
		case hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock || hdr.Typeflag == tar.TypeFifo:
			return stamp.Errorf(stamp.EUNPROCESSABLE, "bundle entry %q is a device or pipe; bundles hold only regular files and directories", hdr.Name)
		default:
			return stamp.Errorf(stamp.EUNPROCESSABLE, "bundle entry %q has unsupported type %q", hdr.Name, hdr.Typeflag)
		}
		if entries++; entries > MaxEntries {
			return stamp.Errorf(stamp.EUNPROCESSABLE, "bundle entry %q is one more than the %d entries a bundle may hold", hdr.Name, MaxEntries)
		}
		if err := claim(seen, hdr.Name, name, m.dir); err != nil {
			return err
		}
		if err := visit(m); err != nil {
			return err
		}
	}
}

// claim records name in seen, refusing a file named twice, a file and a
// directory of one name, and an entry under a file.
func claim(seen map[string]bool, raw, name string, dir bool) error {
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		if isDir, ok := seen[p]; ok && !isDir {
			return stamp.Errorf(stamp.EUNPROCESSABLE, "bundle entry %q lies under %q, which is a file", raw, p)
		}
		seen[p] = true
	}
	if isDir, ok := seen[name]; ok && !(isDir && dir) {
		return stamp.Errorf(stamp.EUNPROCESSABLE, "bundle entry %q appears twice", raw)
	}
	seen[name] = dir
	return nil
}

// entryName checks an archive path and returns it cleaned.
func entryName(name string) (string, error) {
	switch {
	case name == "" || strings.HasPrefix(name, "/") || filepath.IsAbs(name):
		return "", stamp.Errorf(stamp.EUNPROCESSABLE, "bundle entry %q is not a relative path", name)
	case slices.Contains(strings.Split(strings.ReplaceAll(name, `\`, "/"), "/"), ".."):
		return "", stamp.Errorf(stamp.EUNPROCESSABLE, "bundle entry %q contains \"..\"", name)
	}
	return path.Clean(name), nil
}
