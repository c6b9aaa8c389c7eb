package local

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Log rotation defaults (see Config.LogMaxSize, Config.LogFiles).
const (
	defaultLogMaxSize = 10 << 20
	defaultLogFiles   = 3
)

// logCheckInterval is how often a supervisor looks at the size of its
// instance's log. A log may outgrow Config.LogMaxSize by what the
// instance prints in that time.
const logCheckInterval = time.Second

// Instance logs are rotated by copy and truncate, by the supervisor of
// the instance: the process writes straight to its log file (opened with
// O_APPEND, so after a truncation it writes at the new end), not through
// a pipe the driver owns, because instances outlive the control plane and
// a pipe would break with it. Once the log reaches the size limit, the
// rotated files shift by one (<id>.log.1 becomes <id>.log.2, ..., the
// oldest is removed), the log is copied to <id>.log.1 and truncated. What
// the instance prints between the end of the copy and the truncation (a
// moment) is lost. While no control plane supervises the instance, its
// log is not rotated; the next one to take the tenant up rotates it.

// rotatedPath returns the path of the n-th rotated file of the log at
// path (n >= 1; 1 is the newest).
func rotatedPath(path string, n int) string { return path + "." + strconv.Itoa(n) }

// rotateLog rotates the log at path if it holds maxSize bytes or more,
// keeping files files in all (the log and files-1 rotated ones). It
// reports whether it rotated.
func rotateLog(path string, maxSize int64, files int) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fi.Size() < maxSize {
		return false, nil
	}
	if files <= 1 {
		// No rotated file to keep: start the log afresh.
		return true, os.Truncate(path, 0)
	}
	for _, p := range rotatedFrom(path, files-1) {
		if err := removeAll(p); err != nil {
			return false, err
		}
	}
	for n := files - 2; n >= 1; n-- {
		err := os.Rename(rotatedPath(path, n), rotatedPath(path, n+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("rotate log: %w", err)
		}
	}
	if err := copyLog(path, rotatedPath(path, 1)); err != nil {
		return false, err
	}
	if err := os.Truncate(path, 0); err != nil {
		return false, fmt.Errorf("rotate log: %w", err)
	}
	return true, nil
}

// copyLog copies the log at src, to its end at the time of the copy, into
// a new file dst.
func copyLog(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rotate log %s: %w", src, err)
	}
	return nil
}

// logFiles returns the files of the log at path that exist, oldest first:
// the rotated ones, then the log itself.
func logFiles(path string, files int) []string {
	var paths []string
	for n := files - 1; n >= 1; n-- {
		if _, err := os.Stat(rotatedPath(path, n)); err == nil {
			paths = append(paths, rotatedPath(path, n))
		}
	}
	return append(paths, path)
}

// rotatedFrom returns the rotated files of the log at path numbered from
// n up, also those beyond what is kept now (a server run with a larger
// Config.LogFiles left them).
func rotatedFrom(path string, n int) []string {
	matches, _ := filepath.Glob(globEscape(path) + ".*") // the pattern is well-formed
	var paths []string
	for _, m := range matches {
		if k, err := strconv.Atoi(strings.TrimPrefix(m, path+".")); err == nil && k >= n {
			paths = append(paths, m)
		}
	}
	return paths
}

// globEscape escapes the characters filepath.Match gives a meaning.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// removeLog removes the log at path and all its rotated files.
func removeLog(path string) error {
	errs := []error{removeAll(path), removeAll(rotatedPath(path, 1) + ".tmp")}
	for _, p := range rotatedFrom(path, 1) {
		errs = append(errs, removeAll(p))
	}
	return errors.Join(errs...)
}
