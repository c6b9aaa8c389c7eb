package reconcile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bundle"
)

// TestBundleThatCannotBeUnpackedIsTerminal: a stored bundle that
// extraction refuses (pushed before push checked the whole archive) fails
// the tenant for good instead of retrying for ever; the failure names the
// entry and the rule.
func TestBundleThatCannotBeUnpackedIsTerminal(t *testing.T) {
	tests := []struct {
		name string
		hdr  tar.Header
		want string
	}{
		{"over the size limit", tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 30},
			`bundle entry "zeros" (1073741824 bytes) takes the unpacked bundle over 512 MiB`},
		{"escaping path", tar.Header{Name: "../x", Typeflag: tar.TypeReg, Mode: 0o644}, `bundle entry "../x" contains ".."`},
		{"link", tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, `bundle entry "l" is a link`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			tw := tar.NewWriter(zw)
			if err := tw.WriteHeader(&tar.Header{Name: "stamp.yaml", Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
				t.Fatal(err)
			}
			if err := tw.WriteHeader(&tt.hdr); err != nil {
				t.Fatal(err)
			}
			tw.Flush() // the body of a huge entry is never reached
			zw.Close()
			err := bundle.Extract(buf.Bytes(), filepath.Join(t.TempDir(), "b"))
			// As the local driver hands it on.
			msg, terminal := failure(fmt.Errorf("prepare acme: %w", err))
			if !terminal || !strings.Contains(msg, tt.want) {
				t.Errorf("failure(%v) = %q, %v; want terminal, naming %q", err, msg, terminal, tt.want)
			}
		})
	}
}

// TestOutOfSpaceIsTransient: an error wrapping ENOSPC is retried, even
// where it also carries a code that would fail the tenant for good, and
// its retry event says "no space left on device" in those words.
func TestOutOfSpaceIsTransient(t *testing.T) {
	full := &fs.PathError{Op: "write", Path: "bundles/.x.tmp-1/bin/app", Err: syscall.ENOSPC}
	for _, err := range []error{
		fmt.Errorf("prepare acme: bundle ledger@1.0.0: extract bundle to bundles/x: %w", full),
		fmt.Errorf("run migrate hook: %w", fmt.Errorf("record that it exited with code 0: %w", full)),
		fmt.Errorf("%w: %w", stamp.Errorf(stamp.EUNPROCESSABLE, "bundle is not a valid gzipped tar"), full),
	} {
		if msg, terminal := failure(err); terminal {
			t.Errorf("failure(%v) = %q, terminal; want it retried", err, msg)
		}
		p := &pass{id: "0badcafe"}
		if got := p.retryReason(err); !strings.HasPrefix(got, "no space left on device") || strings.Contains(got, "bundles/") {
			t.Errorf("retryReason(%v) = %q; want it to say no space left on device, without paths", err, got)
		}
	}
}
