package local

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stamphq/stamp"
)

// bindableRange returns the first n consecutive ports from 25000 on that
// bind on 127.0.0.1 now, for tests that exhaust a range.
func bindableRange(t *testing.T, n int) (min, max int) {
	t.Helper()
	run := 0
	for p := 25000; p < 26000; p++ {
		if !bindable(p) {
			run = 0
			continue
		}
		if run++; run == n {
			return p - n + 1, p
		}
	}
	t.Skipf("no %d consecutive free ports in 25000..25999", n)
	return 0, 0
}

// newRegistry opens a registry on dir with memory of its own, as another
// process's Driver has, and closes it when the test ends.
func newRegistry(t *testing.T, dir string, min, max int) *portRegistry {
	t.Helper()
	r := newPortRegistry(dir, min, max, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { r.close() })
	return r
}

// registryDir returns a driver directory with a directory for each of
// tenants.
func registryDir(t *testing.T, tenants ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range append([]string{""}, tenants...) {
		if err := os.MkdirAll(filepath.Join(dir, "tenants", name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// appendJournal appends lines to the journal of dir, as another process
// would.
func appendJournal(t *testing.T, dir, lines string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, journalFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(lines); err != nil {
		t.Fatal(err)
	}
}

// journalInfo stats the journal of dir.
func journalInfo(t *testing.T, dir string) os.FileInfo {
	t.Helper()
	info, err := os.Stat(filepath.Join(dir, journalFile))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// readFile returns the contents of the file at path.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// allocOne allocates the port of tenant/web-0 in r.
func allocOne(t *testing.T, r *portRegistry, tenant string) int {
	t.Helper()
	got, err := r.alloc(tenant, []string{"web-0"})
	if err != nil {
		t.Fatalf("allocate a port for %s: %v", tenant, err)
	}
	return got["web-0"]
}

// wantPorts checks that the journal of dir holds want, and that a
// registry reading it afresh does too.
func wantPorts(t *testing.T, dir string, want portOwners) {
	t.Helper()
	if got := readRegistry(t, dir); !maps.Equal(got, want) {
		t.Errorf("journal: got %v, want %v", got, want)
	}
	r := newRegistry(t, dir, 1, 1)
	if err := r.update(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := r.table.owners; !maps.Equal(got, want) {
		t.Errorf("registry read afresh: got %v, want %v", got, want)
	}
}

// TestPortRegistriesNeverCollide runs two registries on one directory, as
// the Drivers of two processes, each allocating and releasing from three
// goroutines at once, long enough for the journal to be compacted under
// the other's feet: no port is ever held twice.
func TestPortRegistriesNeverCollide(t *testing.T) {
	dir := registryDir(t)
	min, max := 26000, 26999
	regs := []*portRegistry{newRegistry(t, dir, min, max), newRegistry(t, dir, min, max)}
	var mu sync.Mutex
	live := make(portOwners)
	changes := 0
	var wg sync.WaitGroup
	for i, r := range regs {
		for g := range 3 {
			wg.Go(func() {
				var last map[string]int
				for n := range 200 {
					tenant := fmt.Sprintf("r%d-g%d-%d", i, g, n)
					got, err := r.alloc(tenant, []string{"web-0", "web-1"})
					if err != nil {
						t.Errorf("allocate for %s: %v", tenant, err)
						return
					}
					mu.Lock()
					for id, p := range got {
						if other, ok := live[p]; ok {
							t.Errorf("port %d given to %s/%s, which %s holds", p, tenant, id, other)
						}
						live[p] = tenant + "/" + id
					}
					changes += 2
					mu.Unlock()
					if last == nil {
						last = got
						continue
					}
					// The previous round's ports leave live first: the
					// registry may hand them out again once released.
					prev := fmt.Sprintf("r%d-g%d-%d", i, g, n-1)
					mu.Lock()
					for _, p := range last {
						delete(live, p)
					}
					changes += 2
					mu.Unlock()
					if n%2 == 0 {
						err = r.releaseTenant(prev)
					} else {
						err = r.release(prev, slices.Collect(maps.Values(last)))
					}
					if err != nil {
						t.Errorf("release the ports of %s: %v", prev, err)
						return
					}
					last = got
				}
			})
		}
	}
	wg.Wait()
	wantPorts(t, dir, live)
	data := readFile(t, filepath.Join(dir, journalFile))
	if lines := bytes.Count(data, []byte("\n")) - 1; lines >= changes-2*compactSlack {
		t.Errorf("journal lines after %d changes: got %d, want it compacted", changes, lines)
	}
}

// TestPortRegistrySeesOthers checks that a registry sees what another on
// the directory allocated and released, and reads the journal afresh
// when the other compacted it.
func TestPortRegistrySeesOthers(t *testing.T) {
	dir := registryDir(t, "acme", "globex", "initech")
	min, max := bindableRange(t, 8)
	r1, r2 := newRegistry(t, dir, min, max), newRegistry(t, dir, min, max)

	acme := allocOne(t, r1, "acme")
	globex := allocOne(t, r2, "globex")
	if acme != min || globex != min+1 {
		t.Errorf("ports of acme, then globex from another registry: got %d, %d, want %d, %d", acme, globex, min, min+1)
	}
	if err := r1.releaseTenant("acme"); err != nil {
		t.Fatal(err)
	}
	if got := allocOne(t, r2, "initech"); got != acme {
		t.Errorf("port of initech after acme released its own in another registry: got %d, want %d", got, acme)
	}

	// r1 compacts the journal: churn beyond its slack.
	before := journalInfo(t, dir)
	for range compactSlack {
		p := allocOne(t, r1, "acme")
		if err := r1.release("acme", []int{p}); err != nil {
			t.Fatal(err)
		}
	}
	if os.SameFile(before, journalInfo(t, dir)) {
		t.Fatalf("journal after %d changes: not compacted", 2*compactSlack)
	}
	if got := allocOne(t, r2, "acme"); got != min+2 {
		t.Errorf("port of acme after the other registry compacted: got %d, want %d", got, min+2)
	}
	wantPorts(t, dir, portOwners{acme: "initech/web-0", globex: "globex/web-0", min + 2: "acme/web-0"})
}

// TestPortJournalTornLine models a crash between the write of a change
// and its fsync by cutting the journal's last line short of its newline:
// a registry reading it afterwards ignores that line, loses nothing
// before it, and cuts it off before appending.
func TestPortJournalTornLine(t *testing.T) {
	dir := registryDir(t, "acme", "globex", "initech")
	min, max := bindableRange(t, 4)
	r := newRegistry(t, dir, min, max)
	acme, globex := allocOne(t, r, "acme"), allocOne(t, r, "globex")
	allocOne(t, r, "initech")
	if err := os.Truncate(filepath.Join(dir, journalFile), journalInfo(t, dir).Size()-1); err != nil {
		t.Fatal(err)
	}
	r.close() // the process that crashed

	want := portOwners{acme: "acme/web-0", globex: "globex/web-0"}
	if got := readRegistry(t, dir); !maps.Equal(got, want) {
		t.Errorf("journal with a torn last line: got %v, want %v", got, want)
	}
	after := newRegistry(t, dir, min, max)
	// A line shorter than the torn one: written over it without cutting
	// it off, the torn line's end would follow.
	if err := after.release("acme", []int{acme}); err != nil {
		t.Fatal(err)
	}
	data := readFile(t, filepath.Join(dir, journalFile))
	for _, line := range strings.Split(strings.TrimSuffix(string(data[len(journalHeader):]), "\n"), "\n") {
		if _, ok := parseChange(line); !ok {
			t.Errorf("journal line %q after the torn one was cut off: not a change", line)
		}
	}
	if got := allocOne(t, after, "initech"); got != acme {
		t.Errorf("port of initech after the crash: got %d, want %d", got, acme)
	}
	wantPorts(t, dir, portOwners{acme: "initech/web-0", globex: "globex/web-0"})
}

// TestPortJournalTakesOverLegacy checks that the ports.json of an older
// driver becomes the journal, and that one an older driver on the
// directory writes again later (a fleet upgraded one control plane at a
// time) is taken over too: what the journal lacks is added.
func TestPortJournalTakesOverLegacy(t *testing.T) {
	dir := registryDir(t, "acme", "globex", "initech")
	min, max := bindableRange(t, 8)
	legacy := portOwners{min: "acme/web-0", min + 1: "acme/web-1", min + 3: "globex/web-0"}
	if err := writeJSON(filepath.Join(dir, legacyFile), legacy); err != nil {
		t.Fatal(err)
	}
	if got := readRegistry(t, dir); !maps.Equal(got, legacy) {
		t.Errorf("ports.json read as the registry: got %v, want %v", got, legacy)
	}
	r := newRegistry(t, dir, min, max)
	if got := allocOne(t, r, "initech"); got != min+2 {
		t.Errorf("port of initech beside the older driver's: got %d, want %d", got, min+2)
	}
	if _, err := os.Stat(filepath.Join(dir, legacyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ports.json after it was taken over: %v, want it removed", err)
	}
	want := maps.Clone(legacy)
	want[min+2] = "initech/web-0"
	wantPorts(t, dir, want)

	// The older driver rebuilt its file and gave out min+4; its min+2
	// disagrees with the journal, which keeps its own.
	again := maps.Clone(want)
	again[min+2], again[min+4] = "acme/web-2", "globex/web-1"
	if err := writeJSON(filepath.Join(dir, legacyFile), again); err != nil {
		t.Fatal(err)
	}
	if got := allocOne(t, r, "initech-2"); got != min+5 {
		t.Errorf("port allocated beside the older driver's new one: got %d, want %d", got, min+5)
	}
	want[min+4], want[min+5] = "globex/web-1", "initech-2/web-0"
	wantPorts(t, dir, want)
}

// TestPortJournalCompaction checks that compaction keeps every live
// entry and nothing else.
func TestPortJournalCompaction(t *testing.T) {
	dir := registryDir(t)
	min, max := 26000, 26999
	r := newRegistry(t, dir, min, max)
	want := make(portOwners)
	for i := range 50 {
		tenant := fmt.Sprintf("t%02d", i)
		got, err := r.alloc(tenant, []string{"web-0", "web-1"})
		if err != nil {
			t.Fatal(err)
		}
		want[got["web-0"]], want[got["web-1"]] = tenant+"/web-0", tenant+"/web-1"
		if i%2 == 0 {
			if err := r.release(tenant, []int{got["web-1"]}); err != nil {
				t.Fatal(err)
			}
			delete(want, got["web-1"])
		}
	}
	before := journalInfo(t, dir)
	for i := 0; os.SameFile(before, journalInfo(t, dir)); i++ {
		if i > compactSlack {
			t.Fatalf("journal after %d changes: not compacted", 2*i)
		}
		p := allocOne(t, r, "churn")
		if err := r.release("churn", []int{p}); err != nil {
			t.Fatal(err)
		}
	}
	// The live entries, and the churn's last release if the allocation
	// before it compacted.
	if lines := bytes.Count(readFile(t, filepath.Join(dir, journalFile)), []byte("\n")) - 1; lines > len(want)+2 {
		t.Errorf("journal lines after compaction: got %d, want at most %d", lines, len(want)+2)
	}
	wantPorts(t, dir, want)
}

// TestPortsOfRemovedTenantsFreed checks that the ports of tenants without
// a directory (a Remove that died before releasing them) stay allocated
// while the range has free ports, and are freed once it has none.
func TestPortsOfRemovedTenantsFreed(t *testing.T) {
	dir := registryDir(t, "acme", "globex", "initech")
	min, max := bindableRange(t, 5)
	r := newRegistry(t, dir, min, max)
	if _, err := r.alloc("acme", []string{"web-0", "web-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.alloc("globex", []string{"web-0", "web-1"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "tenants", "globex")); err != nil {
		t.Fatal(err)
	}
	want := portOwners{min: "acme/web-0", min + 1: "acme/web-1", min + 2: "globex/web-0", min + 3: "globex/web-1", min + 4: "initech/web-0"}
	if got := allocOne(t, r, "initech"); got != min+4 {
		t.Errorf("port of initech while one is free: got %d, want %d", got, min+4)
	}
	wantPorts(t, dir, want)

	got, err := r.alloc("initech", []string{"web-1"})
	if err != nil {
		t.Fatalf("allocate once the range is exhausted: %v", err)
	}
	if got["web-1"] != min+2 {
		t.Errorf("port of initech once the range is exhausted: got %d, want the removed globex's %d", got["web-1"], min+2)
	}
	delete(want, min+3)
	want[min+2] = "initech/web-1"
	wantPorts(t, dir, want)

	if _, err := r.alloc("acme", []string{"web-2", "web-3"}); stamp.ErrorCode(err) != stamp.EUNAVAILABLE {
		t.Errorf("allocate two ports with one free: got %v, want %s", err, stamp.EUNAVAILABLE)
	}
}
