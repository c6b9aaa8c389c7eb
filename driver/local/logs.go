package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/stamphq/stamp"
)

// followInterval is how often a followed log is checked for new output.
const followInterval = 200 * time.Millisecond

// Logs returns the output of service of tenant's last applied revision:
// of each instance, one after the other, what its log and rotated files
// keep, or with opts.Tail its last lines, read from the end. With
// opts.Follow it is the output of instance 0 only, read on as it grows
// until ctx ends or the reader is closed. An unknown tenant or service is
// ENOTFOUND. Logs reads files only: it works for any tenant under the
// directory, whichever Driver holds it, and takes none up.
func (d *Driver) Logs(ctx context.Context, tenant, service string, opts stamp.LogOptions) (io.ReadCloser, error) {
	if d.isClosed() {
		return nil, errClosed
	}
	notFound := stamp.Errorf(stamp.ENOTFOUND, "tenant %q has no instances on this host", tenant)
	if stamp.ValidateName("tenant", tenant) != nil {
		return nil, notFound
	}
	t := d.newTenant(tenant) // a view of its files, not a hold on it
	var st tenantState
	found, err := readJSON(t.statePath(), &st)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", tenant, err)
	}
	if !found {
		return nil, notFound
	}
	rt := st.Runtime
	if rt == nil || findService(rt, service) == nil {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "tenant %s has no service %q", tenant, service)
	}
	replicas := max(findService(rt, service).Replicas, 1)
	if opts.Follow {
		replicas = 1
	}
	var readers []io.Reader
	var closers []io.Closer
	for i := range replicas {
		path := t.logPath(instanceID(service, i, rt.Revision))
		rotated := fileIDOf(rotatedPath(path, 1)) // before the read: a rotation meanwhile repeats output rather than losing it
		r, size, err := readLog(path, d.cfg.LogFiles, opts.Tail)
		if err != nil {
			for _, c := range closers {
				c.Close()
			}
			return nil, fmt.Errorf("logs of %s of %s: %w", service, tenant, err)
		}
		readers = append(readers, r)
		closers = append(closers, r)
		if opts.Follow {
			f := &logReader{ctx: ctx, path: path, files: d.cfg.LogFiles, pos: size, rotated: rotated, closed: make(chan struct{})}
			readers = append(readers, f)
			closers = append(closers, f)
		}
	}
	return &multiFile{Reader: io.MultiReader(readers...), files: closers}, nil
}

// multiFile reads files one after the other.
type multiFile struct {
	io.Reader
	files []io.Closer
}

func (m *multiFile) Close() error {
	var errs []error
	for _, f := range m.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// logReader follows a log file, which may not exist yet: at its end it
// waits for more until ctx ends or it is closed, then reports io.EOF.
// It reads on from pos, the size of the log already read otherwise. When
// the log was rotated (see fileID), it reads what it missed from the
// newest rotated file, then the log from its start; if it was rotated
// twice between two reads (a follower reads at least every
// followInterval), the output in between is lost to it.
type logReader struct {
	ctx    context.Context
	path   string
	files  int // Config.LogFiles
	closed chan struct{}

	mu         sync.Mutex // guards the fields below against Close
	f          *os.File
	pos        int64             // offset in f of the next read
	rotated    fileID            // of the newest rotated file, as last seen
	missed     *io.SectionReader // the rest of the log before its rotation
	missedFile *os.File          // the file missed reads
	done       bool
}

func (r *logReader) Read(p []byte) (int, error) {
	for {
		n, err := r.read(p)
		if n > 0 || err != nil {
			return n, err
		}
		select {
		case <-r.ctx.Done():
			return 0, io.EOF
		case <-r.closed:
			return 0, io.EOF
		case <-time.After(followInterval):
		}
	}
}

// read returns what the log has beyond what was read, possibly nothing.
func (r *logReader) read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return 0, io.EOF
	}
	if r.f == nil {
		f, err := os.Open(r.path)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		r.f = f
	}
	if r.missed == nil && r.files > 1 {
		// A new newest rotated file means the log was rotated since the
		// last read: the rest of what r read from is in that file, and
		// the log starts afresh.
		if id := fileIDOf(rotatedPath(r.path, 1)); id != r.rotated {
			r.rotated = id
			r.rotatedRest()
			r.pos = 0
		}
	}
	if r.missed != nil {
		n, err := r.missed.Read(p)
		if n > 0 || err == nil {
			return n, nil
		}
		if err := r.closeMissed(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.ReadAt(p, r.pos)
	r.pos += int64(n)
	if n > 0 {
		return n, nil // the end of the file is no end of the log
	}
	if !errors.Is(err, io.EOF) {
		return 0, err
	}
	fi, err := r.f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Size() < r.pos {
		r.pos = 0 // truncated, with no rotated file kept
	}
	return 0, nil
}

// fileID identifies the file at path (the zero fileID if there is none):
// rotation makes each rotated file anew, so a new fileID means a new
// rotation. The inode number alone would not do: the one of the file a
// rotation removes may be given to the file it makes.
type fileID struct {
	ino   uint64
	ctime syscall.Timespec
}

func fileIDOf(path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{ino: st.Ino, ctime: st.Ctim}
	}
	return fileID{}
}

// rotatedRest opens what the newest rotated file holds beyond r.pos:
// the output printed before the rotation that r has not read. It holds
// just that if it is the copy of what r read from; if the log was rotated
// twice since, the output in between is lost to r.
func (r *logReader) rotatedRest() {
	if r.files < 2 {
		return
	}
	f, err := os.Open(rotatedPath(r.path, 1))
	if err != nil {
		return
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() < r.pos {
		f.Close()
		return
	}
	r.missedFile, r.missed = f, io.NewSectionReader(f, r.pos, fi.Size()-r.pos)
}

// closeMissed closes the rotated file r read what it missed from.
func (r *logReader) closeMissed() error {
	if r.missedFile == nil {
		return nil
	}
	err := r.missedFile.Close()
	r.missedFile, r.missed = nil, nil
	return err
}

func (r *logReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil
	}
	r.done = true
	close(r.closed)
	err := r.closeMissed()
	if r.f != nil {
		err = errors.Join(err, r.f.Close())
	}
	return err
}
