package keyring

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ErrNotWritable is returned by Rotate and Retire on a ring whose keys
// came from the environment: only the operator can change them.
var ErrNotWritable = errors.New("the keys come from the environment, not a key file")

// fileHeader starts every key file the ring writes.
const fileHeader = `# Stamp master keys, base64, one per line: the first seals, the others only open.
# Keep this file secret (mode 0600) and backed up: without it the secrets in the store are lost.
`

// keyFile is where a ring's keys live on disk.
type keyFile struct {
	path string

	mu   sync.Mutex  // serialises this process's reads and writes of the file
	info fs.FileInfo // of the file when last read
}

// OpenFile returns the ring kept in the key file at path. A missing file
// is created, mode 0600, holding one new key read from rand, and created
// is true. A file that others than its owner may read is refused.
func OpenFile(path string, rand io.Reader) (r *Ring, created bool, err error) {
	r = &Ring{file: &keyFile{path: path}}
	err = r.reload(true)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := generate(rand, nil)
		if err != nil {
			return nil, false, err
		}
		// Servers sharing a data dir may start at once: one file wins,
		// and the others read it.
		err = r.file.write([]key{k}, false)
		created = err == nil
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, false, err
		}
		if err := r.reload(true); err != nil {
			return nil, false, err
		}
		return r, created, nil
	}
	if err != nil {
		return nil, false, err
	}
	return r, false, nil
}

// Writable reports whether the ring's keys live in a key file it may
// change (Rotate, Retire).
func (r *Ring) Writable() bool { return r.file != nil }

// Path returns the key file's path, "" for keys from the environment.
func (r *Ring) Path() string {
	if r.file == nil {
		return ""
	}
	return r.file.path
}

// reload reads the key file if it changed since last read (always with
// force) and makes its keys the ring's: its first key seals. Keys the
// ring had that the file lacks still open, for values sealed meanwhile.
func (r *Ring) reload(force bool) error {
	f := r.file
	f.mu.Lock()
	defer f.mu.Unlock()
	return r.reloadLocked(force)
}

func (r *Ring) reloadLocked(force bool) error {
	f := r.file
	info, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("read key file: %w", err)
	}
	if !force && f.unchanged(info) {
		return nil
	}
	keys, err := f.read(info)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, old := range r.keys {
		if !hasID(keys, old.id) {
			keys = append(keys, old)
		}
	}
	r.keys = keys
	return nil
}

// read parses the key file, whose stat is info.
func (f *keyFile) read(info fs.FileInfo) ([]key, error) {
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s is mode %04o: others than its owner may read it; chmod 600 it", f.path, perm)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	var texts []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			texts = append(texts, line)
		}
	}
	keys, err := parseKeys(texts)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", f.path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("key file %s holds no key", f.path)
	}
	f.info = info
	return keys, nil
}

// unchanged reports whether info is the stat of the file last read: the
// same file (every write renames a new one in) of the same time and size.
func (f *keyFile) unchanged(info fs.FileInfo) bool {
	return f.info != nil && os.SameFile(f.info, info) &&
		info.ModTime().Equal(f.info.ModTime()) && info.Size() == f.info.Size()
}

// write replaces the key file with keys, atomically: a reader sees the
// old file or the new one, never a part. Unless replace, an existing file
// is left alone and the error is fs.ErrExist.
func (f *keyFile) write(keys []key, replace bool) error {
	var b bytes.Buffer
	b.WriteString(fileHeader)
	for _, k := range keys {
		b.WriteString(base64.StdEncoding.EncodeToString(k.raw) + "\n")
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a rename, a no-op
	// CreateTemp makes the file 0600 already; say so for the reader.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	put := os.Link
	if replace {
		put = os.Rename
	}
	if err := put(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}

// Rotate makes a new key from rand and makes it the active one, in the
// key file first (before the first value is sealed under it, so every
// server sharing the file can open it) and then in the ring. The old
// keys stay and still open. It returns the new key's id.
func (r *Ring) Rotate(rand io.Reader) (string, error) {
	f := r.file
	if f == nil {
		return "", ErrNotWritable
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := r.reloadLocked(true); err != nil {
		return "", err
	}
	r.mu.RLock()
	keys := r.keys
	r.mu.RUnlock()
	k, err := generate(rand, keys)
	if err != nil {
		return "", err
	}
	if err := f.write(append([]key{k}, keys...), true); err != nil {
		return "", err
	}
	return k.id, r.reloadLocked(true)
}

// Retire removes from the key file, and from the ring, every key but the
// active one for which keep is false, and returns their ids.
func (r *Ring) Retire(keep func(id string) bool) ([]string, error) {
	f := r.file
	if f == nil {
		return nil, ErrNotWritable
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := r.reloadLocked(true); err != nil {
		return nil, err
	}
	r.mu.Lock()
	kept := []key{r.keys[0]}
	var dropped []string
	for _, k := range r.keys[1:] {
		if keep(k.id) {
			kept = append(kept, k)
		} else {
			dropped = append(dropped, k.id)
		}
	}
	r.mu.Unlock()
	if len(dropped) == 0 {
		return nil, nil
	}
	if err := f.write(kept, true); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.keys = kept
	r.mu.Unlock()
	return dropped, r.reloadLocked(true)
}

// generate makes a new key from rand whose id none of keys has.
func generate(rand io.Reader, keys []key) (key, error) {
	for range 8 {
		raw := make([]byte, KeySize)
		if _, err := io.ReadFull(rand, raw); err != nil {
			return key{}, fmt.Errorf("generate key: %w", err)
		}
		k, err := newKey(raw)
		if err != nil {
			return key{}, err
		}
		if !hasID(keys, k.id) {
			return k, nil
		}
	}
	return key{}, errors.New("generate key: every new key had the id of a key in use")
}

func hasID(keys []key, id string) bool {
	for _, k := range keys {
		if k.id == id {
			return true
		}
	}
	return false
}
