package local

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/stamphq/stamp"
)

// StandardPATH is the PATH of tenant processes when nothing of the
// server's PATH is left to them.
const StandardPATH = "/usr/local/bin:/usr/bin:/bin"

// TenantPATH returns the PATH a tenant's processes get, given the
// server's: for a tenant that runs as the server's user (isolated false),
// the server's PATH as it is; for a tenant with a user of its own, only
// the absolute entries such a user can pass through (every directory on
// the way open to others, o+x: a tenant's user has no supplementary
// groups and owns none of them), in order and without repeats. A private
// directory, such as a tool's bin under root's home, is left out rather
// than handed to processes that cannot use it. An empty result is
// StandardPATH.
func TenantPATH(serverPATH string, isolated bool) string {
	if !isolated {
		if serverPATH == "" {
			return StandardPATH
		}
		return serverPATH
	}
	var keep []string
	seen := map[string]bool{}
	for _, dir := range filepath.SplitList(serverPATH) {
		if !filepath.IsAbs(dir) || seen[dir] || !passable(dir) {
			continue
		}
		seen[dir] = true
		keep = append(keep, dir)
	}
	if len(keep) == 0 {
		return StandardPATH
	}
	return strings.Join(keep, string(filepath.ListSeparator))
}

// passable reports whether other users can pass through dir and every
// directory above it (symlinks followed, as exec does).
func passable(dir string) bool {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	for d := real; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// lookPath finds the program name in path, as a tenant's process would:
// a regular file executable by anyone (isolated: by others, in a
// directory others can pass through). Relative entries are skipped.
func lookPath(name, path string, isolated bool) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if executable(p, isolated) {
			return p, nil
		}
	}
	return "", stamp.Errorf(stamp.ENOTFOUND, "%q is not found in the PATH tenants get (%s)", name, path)
}

// executable reports whether the file at p is one a tenant's process can
// run: executable by anyone, or with isolated by others, through
// directories they can pass (the target of a symlink included).
func executable(p string, isolated bool) bool {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	if !isolated {
		return fi.Mode().Perm()&0o111 != 0
	}
	if fi.Mode().Perm()&0o001 == 0 {
		return false
	}
	real, err := filepath.EvalSymlinks(p)
	return err == nil && passable(filepath.Dir(real))
}
