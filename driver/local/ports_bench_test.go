package local

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPortAlloc measures one allocation and its release in a
// registry that already holds n ports, one per tenant, as a fleet of n
// sleeping tenants does. The registry is given as an older driver left
// it (ports.json), and every tenant has its directory.
func BenchmarkPortAlloc(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("ports=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			const min, max = 30000, 45000
			owners := make(portOwners, n)
			for i := range n {
				name := fmt.Sprintf("t%05d", i)
				if err := os.MkdirAll(filepath.Join(dir, "tenants", name), 0o755); err != nil {
					b.Fatal(err)
				}
				owners[min+i] = name + "/web-0"
			}
			if err := os.MkdirAll(filepath.Join(dir, "tenants", "new"), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := writeJSON(filepath.Join(dir, legacyFile), owners); err != nil {
				b.Fatal(err)
			}
			r := newPortRegistry(dir, min, max, slog.New(slog.DiscardHandler))
			defer r.close()
			b.ReportAllocs()
			for b.Loop() {
				got, err := r.alloc("new", []string{"web-0"})
				if err != nil {
					b.Fatal(err)
				}
				if p := got["web-0"]; p != min+n {
					b.Fatalf("allocated port %d, want %d", p, min+n)
				}
				if err := r.release("new", []int{got["web-0"]}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
