package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/stamphq/stamp"
)

// followInterval is how often a followed log is checked for new output.
const followInterval = 200 * time.Millisecond

// Logs returns the output of service of tenant's last applied revision.
// Without follow it is the logs of every instance, one after the other; with follow it is the log of
// instance 0 only, read on as it grows until ctx ends or the reader is
// closed. An unknown tenant or service is ENOTFOUND. Logs reads files
// only: it works for any tenant under the directory, whichever Driver
// holds it, and takes none up.
func (d *Driver) Logs(ctx context.Context, tenant, service string, follow bool) (io.ReadCloser, error) {
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
	if follow {
		return &logReader{ctx: ctx, path: t.logPath(instanceID(service, 0, rt.Revision)), closed: make(chan struct{})}, nil
	}
	var files []io.Reader
	var closers []io.Closer
	for i := range max(findService(rt, service).Replicas, 1) {
		f, err := os.Open(t.logPath(instanceID(service, i, rt.Revision)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			for _, c := range closers {
				c.Close()
			}
			return nil, err
		}
		files = append(files, f)
		closers = append(closers, f)
	}
	return &multiFile{Reader: io.MultiReader(files...), files: closers}, nil
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
type logReader struct {
	ctx    context.Context
	path   string
	closed chan struct{}

	mu   sync.Mutex // guards f and done against Close
	f    *os.File
	done bool
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

// read returns what the file has beyond what was read, possibly nothing.
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
	n, err := r.f.Read(p)
	if err == io.EOF {
		err = nil
	}
	return n, err
}

func (r *logReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil
	}
	r.done = true
	close(r.closed)
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}
