package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"github.com/stamphq/stamp"
)

// Format is the format of the archives this package writes, as their
// manifest names it.
const Format = "stamp-archive/1"

// manifestName is the archive's first member.
const manifestName = "manifest.json"

// maxManifest bounds the manifest an archive may hold.
const maxManifest = 1 << 20

// Manifest describes an archive: the tenant it is of, what it ran, and
// every other member with its size and SHA-256 (docs/archive.md).
type Manifest struct {
	Format    string            `json:"format"`
	ID        string            `json:"id"`
	Tenant    string            `json:"tenant"`
	Blueprint string            `json:"blueprint"`
	Version   string            `json:"version"`
	Plan      string            `json:"plan,omitempty"`
	Params    map[string]string `json:"params,omitempty"`
	Reason    string            `json:"reason"`
	CreatedAt time.Time         `json:"createdAt"`
	// Databases are the tenant's databases, one dump each.
	Databases []Database `json:"databases"`
	// Data is the tenant's data directory as a tar stream, if its driver
	// keeps one.
	Data *File `json:"data,omitempty"`
}

// Database is one database's dump in an archive.
type Database struct {
	Name string `json:"name"`
	// Format is the dump's (stamp.Dumper.DumpFormat): "sqlite" or
	// "pgdump".
	Format string `json:"format"`
	File
}

// File is a member of an archive.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// files returns every member m lists.
func (m *Manifest) files() []*File {
	var fs []*File
	for i := range m.Databases {
		fs = append(fs, &m.Databases[i].File)
	}
	if m.Data != nil {
		fs = append(fs, m.Data)
	}
	return fs
}

var (
	dumpPath = regexp.MustCompile(`^databases/[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.(sqlite|pgdump)$`)
	idForm   = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$`)
)

// dataPath is the member holding the data directory.
const dataPath = "data.tar"

// check refuses a manifest this package would not have written: another
// format, names that are not names, members out of place or twice, and,
// once written (sums), members without a size and checksum.
func (m *Manifest) check(sums bool) error {
	if m.Format != Format {
		return stamp.Errorf(stamp.EINVALID, "the archive's format is %q; this server reads %q", m.Format, Format)
	}
	if !idForm.MatchString(m.ID) {
		return stamp.Errorf(stamp.EINVALID, "the archive's id %q is not one of a backup", m.ID)
	}
	if err := stamp.ValidateName("tenant", m.Tenant); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, db := range m.Databases {
		if want := "databases/" + db.Name + "." + db.Format; db.Path != want || !dumpPath.MatchString(db.Path) {
			return stamp.Errorf(stamp.EINVALID, "the archive's dump of database %q is at %q", db.Name, db.Path)
		}
	}
	if m.Data != nil && m.Data.Path != dataPath {
		return stamp.Errorf(stamp.EINVALID, "the archive's data is at %q, not %s", m.Data.Path, dataPath)
	}
	for _, f := range m.files() {
		if seen[f.Path] {
			return stamp.Errorf(stamp.EINVALID, "the archive lists %s twice", f.Path)
		}
		seen[f.Path] = true
		if sums && (f.Size < 0 || len(f.SHA256) != 64) {
			return stamp.Errorf(stamp.EINVALID, "the archive lists %s with a bad size or checksum", f.Path)
		}
	}
	return nil
}

// Part is a member of an archive to be: Write writes its content.
type Part struct {
	// Path is the member's path: "databases/<name>.<format>" or
	// "data.tar".
	Path  string
	Write func(ctx context.Context, w io.Writer) error
}

// spool writes each part to a file of its own in dir, recording its
// size and checksum in the manifest's File of the same path.
func spool(ctx context.Context, dir string, m *Manifest, parts []Part) error {
	byPath := map[string]*File{}
	for _, f := range m.files() {
		byPath[f.Path] = f
	}
	if err := os.Mkdir(filepath.Join(dir, "databases"), 0o700); err != nil {
		return err
	}
	for _, p := range parts {
		f := byPath[p.Path]
		if f == nil {
			return fmt.Errorf("part %s is not in the manifest", p.Path)
		}
		out, err := os.OpenFile(filepath.Join(dir, filepath.FromSlash(p.Path)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		sum := sha256.New()
		counter := &countWriter{w: io.MultiWriter(out, sum)}
		err = p.Write(ctx, counter)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		f.Size, f.SHA256 = counter.n, hex.EncodeToString(sum.Sum(nil))
	}
	return nil
}

// pack writes the archive of m and the spooled members in dir to w,
// encrypted to recipients.
func pack(w io.Writer, dir string, m *Manifest, recipients ...age.Recipient) error {
	enc, err := age.Encrypt(w, recipients...)
	if err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	zw, err := zstd.NewWriter(enc, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	tw := tar.NewWriter(zw)
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeMember(tw, manifestName, m.CreatedAt, int64(len(manifest)), bytes.NewReader(manifest)); err != nil {
		return err
	}
	for _, f := range m.files() {
		in, err := os.Open(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			return err
		}
		err = writeMember(tw, f.Path, m.CreatedAt, f.Size, in)
		in.Close()
		if err != nil {
			return err
		}
	}
	for _, c := range []io.Closer{tw, zw, enc} {
		if err := c.Close(); err != nil {
			return err
		}
	}
	return nil
}

// writeMember writes a regular file of size bytes read from r to tw.
func writeMember(tw *tar.Writer, name string, mtime time.Time, size int64, r io.Reader) error {
	h := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Size: size, ModTime: mtime, Format: tar.FormatPAX}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, r, size); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// unpack reads the archive r, decrypting it with ids, into the empty
// directory dir: the manifest first, then every member it lists, each
// checked against its size and checksum. Anything else, or a member
// missing, is EINVALID; so is an archive that does not decrypt, is cut
// short or was altered (age authenticates every chunk).
func unpack(ctx context.Context, r io.Reader, dir string, ids ...age.Identity) (*Manifest, error) {
	dec, err := age.Decrypt(r, ids...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, stamp.Errorf(stamp.EINVALID, "the archive is not encrypted with a key this server has: %v", err)
		}
		return nil, stamp.Errorf(stamp.EINVALID, "not a Stamp archive (an age-encrypted file): %v", err)
	}
	zr, err := zstd.NewReader(dec)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil || h.Name != manifestName || h.Size > maxManifest {
		return nil, stamp.Errorf(stamp.EINVALID, "the archive does not begin with its manifest (%s)", manifestName)
	}
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(tr, maxManifest)).Decode(&m); err != nil {
		return nil, stamp.Errorf(stamp.EINVALID, "the archive's manifest: %v", err)
	}
	if err := m.check(true); err != nil {
		return nil, err
	}
	want := map[string]*File{}
	for _, f := range m.files() {
		want[f.Path] = f
	}
	if err := os.Mkdir(filepath.Join(dir, "databases"), 0o700); err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, stamp.Errorf(stamp.EINVALID, "the archive is damaged: %v", err)
		}
		f := want[h.Name]
		if f == nil || h.Typeflag != tar.TypeReg {
			return nil, stamp.Errorf(stamp.EINVALID, "the archive holds %q, which its manifest does not list (or twice)", h.Name)
		}
		delete(want, h.Name)
		if err := readMember(tr, filepath.Join(dir, filepath.FromSlash(f.Path)), f); err != nil {
			return nil, err
		}
	}
	for p := range want {
		return nil, stamp.Errorf(stamp.EINVALID, "the archive lacks %s, which its manifest lists", p)
	}
	return &m, nil
}

// readMember writes the member r to the new file p, checking it is f.
func readMember(r io.Reader, p string, f *File) error {
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, sum), io.LimitReader(r, f.Size+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return stamp.Errorf(stamp.EINVALID, "the archive is damaged at %s: %v", f.Path, err)
	case n != f.Size:
		return stamp.Errorf(stamp.EINVALID, "%s holds %d bytes; the manifest says %d", f.Path, n, f.Size)
	case hex.EncodeToString(sum.Sum(nil)) != f.SHA256:
		return stamp.Errorf(stamp.EINVALID, "%s does not match its checksum in the manifest", f.Path)
	}
	return nil
}

// countWriter counts what goes through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
