package local

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// errNoHeader is a journal that does not start with journalHeader.
var errNoHeader = errors.New("the port registry has no journal header")

// catchUp brings r.table up to the journal: what was appended since r
// last read it, or the whole journal if r has not read it yet or it was
// replaced (compacted by another Driver, or lost). It then takes over a
// ports.json an older driver wrote.
func (r *portRegistry) catchUp() error {
	if size, ok := r.current(); ok {
		if err := r.readTail(size); err != nil {
			return err
		}
	} else if err := r.load(); err != nil {
		return err
	}
	return r.importLegacy()
}

// current returns the size of the journal r has read, if r has read one,
// the journal's path still names it and it has not shrunk.
func (r *portRegistry) current() (int64, bool) {
	if r.file == nil {
		return 0, false
	}
	onDisk, err := os.Stat(r.path())
	if err != nil {
		return 0, false
	}
	held, err := r.file.Stat()
	if err != nil || !os.SameFile(onDisk, held) || held.Size() < r.off {
		return 0, false
	}
	return held.Size(), true
}

// load reads the journal from its start into a new table, and makes one
// if there is none or it is not a journal.
func (r *portRegistry) load() error {
	r.closeFile()
	r.table, r.off, r.lines = newPortTable(), 0, 0
	f, err := os.OpenFile(r.path(), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return r.create()
	}
	if err != nil {
		return fmt.Errorf("open port registry: %w", err)
	}
	r.file = f
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open port registry: %w", err)
	}
	err = r.readTail(info.Size())
	if errors.Is(err, errNoHeader) {
		r.log.Warn("port registry is corrupt; rebuilding it from the tenants' state", "path", r.path())
		t, err := r.rebuildTable()
		if err != nil {
			return err
		}
		return r.compact(t)
	}
	return err
}

// create makes the journal of a directory that has none: from the
// ports.json of an older driver, which it then removes, or else from the
// tenants' state (a new directory, or a journal lost).
func (r *portRegistry) create() error {
	owners, found, err := readLegacy(r.dir)
	if err != nil && !found {
		return err
	}
	if err != nil {
		r.log.Warn("port registry is corrupt; rebuilding it from the tenants' state", "err", err)
	}
	t := newPortTable()
	if found && err == nil {
		for p, owner := range owners {
			t.apply(portChange{port: p, owner: owner})
		}
	} else if t, err = r.rebuildTable(); err != nil {
		return err
	}
	if err := r.compact(t); err != nil {
		return err
	}
	if found {
		return r.removeLegacy()
	}
	return nil
}

// rebuildTable is the table of rebuild.
func (r *portRegistry) rebuildTable() (*portTable, error) {
	owners, err := r.rebuild()
	if err != nil {
		return nil, fmt.Errorf("rebuild port registry: %w", err)
	}
	t := newPortTable()
	for p, owner := range owners {
		t.apply(portChange{port: p, owner: owner})
	}
	return t, nil
}

// readTail applies the journal from r.off to size. A torn last line is
// cut off: it is the change of an append that failed or that a crash
// interrupted, never reported done, and what is appended next would
// otherwise be read as part of it.
func (r *portRegistry) readTail(size int64) error {
	data := make([]byte, size-r.off)
	if _, err := r.file.ReadAt(data, r.off); err != nil {
		return fmt.Errorf("read port registry %s: %w", r.path(), err)
	}
	start := 0
	if r.off == 0 {
		if !bytes.HasPrefix(data, []byte(journalHeader)) {
			return errNoHeader
		}
		start = len(journalHeader)
	}
	n, lines := parseJournal(data[start:], r.table.apply, func(line string) {
		r.log.Error("port registry: skipping a line it cannot read", "path", r.path(), "line", line)
	})
	r.off += int64(start + n)
	r.lines += lines
	if r.off < size {
		r.log.Warn("port registry ends in a torn line; cutting it off", "path", r.path(), "line", string(data[start+n:]))
		if err := r.file.Truncate(r.off); err != nil {
			return fmt.Errorf("cut off a torn line of %s: %w", r.path(), err)
		}
	}
	return nil
}

// commit appends changes to the journal and applies them to r.table: one
// write and one fsync, whatever their number. If either fails, what was
// written is cut off again, nothing is applied and the journal is read
// afresh by the next user.
func (r *portRegistry) commit(changes []portChange) error {
	if len(changes) == 0 {
		return nil
	}
	var buf []byte
	for _, c := range changes {
		if strings.Contains(c.owner, "\n") {
			return fmt.Errorf("record port %d: owner %q has a newline", c.port, c.owner)
		}
		buf = appendChange(buf, c)
	}
	_, err := r.file.WriteAt(buf, r.off)
	if err == nil {
		err = r.file.Sync()
	}
	if err != nil {
		r.file.Truncate(r.off) // if this fails too, readers cut a torn line off
		r.closeFile()
		return fmt.Errorf("append to port registry %s: %w", r.path(), err)
	}
	for _, c := range changes {
		r.table.apply(c)
	}
	r.off += int64(len(buf))
	r.lines += len(changes)
	if r.lines > 2*len(r.table.owners)+compactSlack {
		// Logged, not returned: the changes are durable, and reported
		// as failed their ports would leak. The next commit tries again.
		if err := r.compact(r.table); err != nil {
			r.log.Warn("compact the port registry", "err", err)
		}
	}
	return nil
}

// compact replaces the journal with one of t's entries and makes it r's.
func (r *portRegistry) compact(t *portTable) error {
	f, size, err := writeJournal(r.dir, t)
	if err != nil {
		return err
	}
	r.closeFile()
	r.file, r.off, r.lines, r.table = f, size, len(t.owners), t
	return nil
}

// importLegacy takes over a ports.json that an older driver wrote beside
// the journal: a fleet upgraded one control plane at a time runs both for
// a while. The entries that the journal lacks are added and the file is
// removed; the older driver, finding none, rebuilds it from the tenants'
// state, which holds the ports given out here, so each goes on seeing the
// other's allocations. A port the older driver releases stays in the
// journal until its tenant is taken up again (sync) or removed.
func (r *portRegistry) importLegacy() error {
	owners, found, err := readLegacy(r.dir)
	if !found {
		return err
	}
	if err != nil {
		r.log.Warn("removing a corrupt port registry of an older driver", "err", err)
	}
	var changes []portChange
	for _, p := range slices.Sorted(maps.Keys(owners)) {
		switch other, ok := r.table.owners[p]; {
		case !ok:
			changes = append(changes, portChange{port: p, owner: owners[p]})
		case other != owners[p]:
			r.log.Error("port is recorded for two instances", "port", p, "instance", owners[p], "registered", other)
		}
	}
	if err := r.commit(changes); err != nil {
		return err
	}
	return r.removeLegacy()
}

// removeLegacy removes the ports.json of an older driver, durably.
func (r *portRegistry) removeLegacy() error {
	path := filepath.Join(r.dir, legacyFile)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove port registry %s: %w", path, err)
	}
	return syncDir(r.dir)
}
