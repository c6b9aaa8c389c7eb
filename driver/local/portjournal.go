package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The registry's file is a journal of its changes, one a line after a
// header:
//
//	stamp ports journal 1
//	+10000 acme/web-0
//	-10000
//
// A change is one write and one fsync at the end of the file, under the
// lock, so its cost does not grow with the fleet, and a holder of the
// lock reads only what others appended since it last did. A crash during
// an append leaves at most a torn last line, of a change never reported
// done: readers ignore it and the next holder of the lock cuts it off.
// Once the journal has grown to about twice its live entries it is
// compacted: rewritten with those alone, fsynced and renamed over, which
// the other holders see (the path names a file other than the one they
// hold open, and held open its inode cannot be reused) and read afresh.
const (
	journalFile   = "ports.journal"
	journalHeader = "stamp ports journal 1\n"
	// legacyFile is the registry of older drivers: the whole map as JSON,
	// rewritten on each change.
	legacyFile = "ports.json"
	// compactSlack is how many lines beyond twice the live entries the
	// journal may hold before it is compacted, so that a compaction's
	// cost, the live entries, is paid for by the appends since the last:
	// O(1) an append, amortised.
	compactSlack = 1024
)

// ReadPorts returns the ports given out in the local driver's directory
// dir, by port, as a new Driver would find them, without taking the
// registry's lock: for tools that inspect a directory, such as a check
// after a crash. A directory an older driver left holds them in
// ports.json; one that has neither file has none.
func ReadPorts(dir string) (map[int]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, journalFile))
	if errors.Is(err, fs.ErrNotExist) {
		owners, _, err := readLegacy(dir)
		return owners, err
	}
	if err != nil {
		return nil, fmt.Errorf("read port registry: %w", err)
	}
	body, ok := bytes.CutPrefix(data, []byte(journalHeader))
	if !ok {
		return nil, fmt.Errorf("read port registry %s: no journal header", filepath.Join(dir, journalFile))
	}
	t := newPortTable()
	parseJournal(body, t.apply, func(string) {})
	return t.owners, nil
}

// parseJournal applies the changes of the complete lines of data in
// order, calls bad with each line it cannot parse, and returns the bytes
// and lines read: up to the last newline.
func parseJournal(data []byte, apply func(portChange), bad func(line string)) (n, lines int) {
	for {
		i := bytes.IndexByte(data[n:], '\n')
		if i < 0 {
			return n, lines
		}
		line := string(data[n : n+i])
		n += i + 1
		lines++
		if c, ok := parseChange(line); ok {
			apply(c)
		} else {
			bad(line)
		}
	}
}

// parseChange parses "+<port> <owner>" or "-<port>".
func parseChange(line string) (portChange, bool) {
	if line == "" {
		return portChange{}, false
	}
	op, rest := line[0], line[1:]
	port, owner, _ := strings.Cut(rest, " ")
	p, err := strconv.Atoi(port)
	switch {
	case err != nil || !validPort(p):
		return portChange{}, false
	case op == '+' && owner != "":
		return portChange{port: p, owner: owner}, true
	case op == '-' && rest == port:
		return portChange{port: p}, true
	}
	return portChange{}, false
}

// appendChange appends c's journal line to buf.
func appendChange(buf []byte, c portChange) []byte {
	op := byte('+')
	if c.owner == "" {
		op = '-'
	}
	buf = strconv.AppendInt(append(buf, op), int64(c.port), 10)
	if c.owner != "" {
		buf = append(append(buf, ' '), c.owner...)
	}
	return append(buf, '\n')
}

// validPort reports whether p is a TCP port other than 0.
func validPort(p int) bool { return p >= 1 && p <= 65535 }

// readLegacy reads an older driver's ports.json; false if there is none.
// A file it cannot decode is reported as found, with the error.
func readLegacy(dir string) (portOwners, bool, error) {
	path := filepath.Join(dir, legacyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return make(portOwners), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read port registry: %w", err)
	}
	var owners portOwners
	if err := json.Unmarshal(data, &owners); err != nil {
		return nil, true, fmt.Errorf("decode port registry %s: %w", path, err)
	}
	if owners == nil {
		owners = make(portOwners)
	}
	maps.DeleteFunc(owners, func(p int, owner string) bool {
		return !validPort(p) || owner == "" || strings.Contains(owner, "\n")
	})
	return owners, true, nil
}

// writeJournal replaces the journal with one of the entries of t: written
// to a new file, fsynced, renamed over and the rename made durable, so
// that a crash leaves the old journal or the new one. It returns the new
// file, open for the appends that follow, and its size.
func writeJournal(dir string, t *portTable) (*os.File, int64, error) {
	path := filepath.Join(dir, journalFile)
	buf := []byte(journalHeader)
	for _, p := range slices.Sorted(maps.Keys(t.owners)) {
		buf = appendChange(buf, portChange{port: p, owner: t.owners[p]})
	}
	f, err := os.CreateTemp(dir, "."+journalFile+".tmp-")
	if err != nil {
		return nil, 0, fmt.Errorf("write %s: %w", path, err)
	}
	err = writeSync(f, buf)
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name()) // a no-op once renamed
		return nil, 0, fmt.Errorf("write %s: %w", path, err)
	}
	return f, int64(len(buf)), nil
}

// writeSync writes data to the start of f and fsyncs it.
func writeSync(f *os.File, data []byte) error {
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}

// syncDir makes the entries of dir (a rename, a removal) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

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
