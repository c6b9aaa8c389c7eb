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
