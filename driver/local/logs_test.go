package local

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/redact"
)

// readLogs reads what Logs returns for acme's web service.
func readLogs(t *testing.T, lr stamp.LogReader, opts stamp.LogOptions) string {
	t.Helper()
	r, err := lr.Logs(context.Background(), "acme", "web", opts)
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read logs: %v", err)
	}
	return string(data)
}

// lineNumbers returns the numbers of the "line N ..." lines the spew mode
// of the test app prints, in the order of s.
func lineNumbers(t *testing.T, s string) []int {
	t.Helper()
	var nums []int
	for l := range strings.Lines(s) {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "line" {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		nums = append(nums, n)
	}
	return nums
}

// increasing reports whether nums only go up.
func increasing(nums []int) bool {
	for i := 1; i < len(nums); i++ {
		if nums[i] <= nums[i-1] {
			return false
		}
	}
	return true
}

// missing returns how many numbers increasing nums skips.
func missing(nums []int) int {
	if len(nums) == 0 {
		return 0
	}
	return nums[len(nums)-1] - nums[0] + 1 - len(nums)
}

// maxMissing is how many lines of the spew mode a reader of its log may
// miss: what is printed in the moment between the copy and the truncation
// of a rotation is lost, a few lines at worst.
const maxMissing = 5

// TestLogIsRotatedAndBounded runs an instance that prints 512 KiB a
// second with logs rotated at 64 KiB, 3 files kept: the files stay
// within that bound (plus what one check interval lets through) while
// megabytes go by, and what Logs returns is the newest output, in order.
func TestLogIsRotatedAndBounded(t *testing.T) {
	const maxSize, files, rate = 64 << 10, 3, 512 << 10
	dir := newDir(t)
	cfg := config(dir)
	cfg.LogMaxSize, cfg.LogFiles = maxSize, files
	d := openConfig(t, cfg)
	d.logCheck = 50 * time.Millisecond
	apply(t, d, runtime("acme", web(1, "spew", strconv.Itoa(rate>>10))))
	log := d.newTenant("acme").logPath(instanceID("web", 0, ""))
	eventually(t, "the log to be rotated twice", func() bool {
		_, err := os.Stat(rotatedPath(log, 2))
		return err == nil
	})
	// What one check interval (and a slow machine's delay) lets through.
	bound := int64(files * (maxSize + rate/2))
	for range 20 {
		var total int64
		for n := range files + 1 {
			p := log
			if n > 0 {
				p = rotatedPath(log, n)
			}
			fi, err := os.Stat(p)
			if n == files {
				if err == nil {
					t.Fatalf("%s exists: more than %d files kept", p, files)
				}
				continue
			}
			if err == nil {
				total += fi.Size()
			}
		}
		if total > bound {
			t.Fatalf("the log's files hold %d bytes, want at most %d", total, bound)
		}
		time.Sleep(100 * time.Millisecond) // the bound holds all along the writing: sample it
	}
	whole := lineNumbers(t, readLogs(t, d, stamp.LogOptions{}))
	if len(whole) == 0 || whole[0] == 1 || !increasing(whole) {
		t.Fatalf("the kept log: %d lines from %v; want the newest lines, in order", len(whole), whole[:min(len(whole), 3)])
	}
	if n := missing(whole); n > maxMissing {
		t.Errorf("the kept log misses %d lines", n)
	}
	last := lineNumbers(t, readLogs(t, d, stamp.LogOptions{Tail: 3}))
	if len(last) != 3 || !increasing(last) || last[2] < whole[len(whole)-1] {
		t.Errorf("tail 3: lines %v, want 3 lines newer than the %d the whole log ended with", last, whole[len(whole)-1])
	}
	t.Logf("after %d lines of 1 KiB, %d kept", last[2], len(whole))
}

// TestFollowGoesOnAcrossRotations follows an instance's log while it is
// rotated: the follower goes on reading, in order, from the new file.
func TestFollowGoesOnAcrossRotations(t *testing.T) {
	dir := newDir(t)
	cfg := config(dir)
	cfg.LogMaxSize, cfg.LogFiles = 64<<10, 2
	d := openConfig(t, cfg)
	d.logCheck = 50 * time.Millisecond
	apply(t, d, runtime("acme", web(1, "spew", "256")))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r, err := d.Logs(ctx, "acme", "web", stamp.LogOptions{Tail: 1, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Fprintln(&b, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("follow: %v", err)
	}
	nums := lineNumbers(t, b.String())
	// 3s at 250 lines a second is some 700 lines once started, rotated
	// every 64.
	if len(nums) < 192 || !increasing(nums) {
		t.Fatalf("followed %d lines (%v...); want more than 3 rotations' worth (192), in order", len(nums), nums[:min(len(nums), 3)])
	}
	if n := missing(nums); n > maxMissing {
		t.Errorf("followed lines %d..%d with %d missing", nums[0], nums[len(nums)-1], n)
	}
}

// TestTailOfABigLogIsItsEnd writes a 5 MiB log: its tail is its last
// lines, read from the end.
func TestTailOfABigLogIsItsEnd(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	apply(t, d, runtime("acme", web(1, "serve")))
	log := d.newTenant("acme").logPath(instanceID("web", 0, ""))
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("filler ", 145) + "\n" // about 1 KiB
	for range 5 << 10 {
		f.WriteString(filler)
	}
	fmt.Fprintf(f, "the end is near\nthe end\n")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := readLogs(t, d, stamp.LogOptions{Tail: 2}), "the end is near\nthe end\n"; got != want {
		t.Errorf("tail 2 of a 5 MiB log: got %.80q, want %q", got, want)
	}
	if got := readLogs(t, d, stamp.LogOptions{Tail: 1}); got != "the end\n" {
		t.Errorf("tail 1: got %.80q, want %q", got, "the end\n")
	}
}

// secrets is a redact.SecretSource holding acme's secrets.
type secrets map[string]string

func (s secrets) Secrets(context.Context, string) (map[string]string, error) { return s, nil }

// TestRedactionSpansRotatedFiles splits a secret between a rotated file
// and the log: read whole or as a tail, through redact, it is hidden.
func TestRedactionSpansRotatedFiles(t *testing.T) {
	const secret = "s3cr3t-v4lue-0f-acme"
	dir := newDir(t)
	d := open(t, dir)
	apply(t, d, runtime("acme", web(1, "serve")))
	log := d.newTenant("acme").logPath(instanceID("web", 0, ""))
	eventually(t, "the instance to print", func() bool {
		fi, err := os.Stat(log)
		return err == nil && fi.Size() > 0
	})
	if _, err := rotateLog(log, 1, 3); err != nil {
		t.Fatal(err)
	}
	appendTo := func(path, s string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(rotatedPath(log, 1), "config: key="+secret[:7])
	appendTo(log, secret[7:]+" loaded\nready\n")
	lr := redact.New(d, secrets{"key": secret})
	for _, opts := range []stamp.LogOptions{{}, {Tail: 2}} {
		got := readLogs(t, lr, opts)
		if strings.Contains(got, secret[:7]) || strings.Contains(got, secret[7:]) {
			t.Errorf("logs %+v hold a part of the secret: %q", opts, got)
		}
		if !strings.HasSuffix(got, "config: key="+redact.Mask+" loaded\nready\n") {
			t.Errorf("logs %+v: got %q, want it to end with the line of the key, redacted, and ready", opts, got)
		}
	}
}

// TestRotationDropsFilesBeyondTheCount rotates a log that a server
// keeping more files left with five rotated ones: three files remain, the
// newest output shifted down by one; removeLog leaves none.
func TestRotationDropsFilesBeyondTheCount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web-0@r[1].log")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write(path, "now\n")
	for n := 1; n <= 5; n++ {
		write(rotatedPath(path, n), strconv.Itoa(n)+"\n")
	}
	if rotated, err := rotateLog(path, 4, 3); err != nil || !rotated {
		t.Fatalf("rotate: %v, %v; want rotated", rotated, err)
	}
	want := map[string]string{path: "", rotatedPath(path, 1): "now\n", rotatedPath(path, 2): "1\n"}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*"))
	if len(matches) != len(want) {
		t.Errorf("files after rotation: %q, want %d", matches, len(want))
	}
	for p, content := range want {
		if got, err := os.ReadFile(p); err != nil || string(got) != content {
			t.Errorf("%s: %q, %v; want %q", filepath.Base(p), got, err, content)
		}
	}
	write(rotatedPath(path, 7), "left\n")
	if err := removeLog(path); err != nil {
		t.Fatal(err)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*")); len(matches) != 0 {
		t.Errorf("files after removeLog: %q, want none", matches)
	}
}
