package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stamphq/stamp"
)

// versionTimeout bounds one `COMMAND --version` run.
const versionTimeout = 5 * time.Second

// nobody is the user version probes run as when the server is root and
// tenants have users of their own: a requirement names a program, and
// running it is not a reason to run it as root.
const nobody = 65534

// versionRE picks the first x.y[.z] out of a program's --version output.
var versionRE = regexp.MustCompile(`\b([0-9]+)\.([0-9]+)(?:\.([0-9]+))?`)

// RequirementResult is what the host provides for one requirement.
type RequirementResult struct {
	Requirement stamp.Requirement
	// Path is where the command was found; empty if it was not.
	Path string
	// Version is the version read from `Path --version`, when the
	// requirement has a minimum.
	Version string
	// Problem says why the requirement is not met; empty when it is.
	Problem string
}

// String is one line for an operator: "python3 >= 3.11: ok,
// /usr/bin/python3 3.11.2", or the problem.
func (r RequirementResult) String() string {
	if r.Problem != "" {
		return r.Requirement.String() + ": " + r.Problem
	}
	s := r.Requirement.String() + ": ok, " + r.Path
	if r.Version != "" {
		s += " " + r.Version
	}
	return s
}

// CheckRequirements looks for each requirement in the PATH tenants get
// (TenantPATH of the server's; isolated: tenants with users of their
// own) and, for one with a minimum version, reads the version as the
// first x.y[.z] that `COMMAND --version` prints (stdout and stderr).
// The probe runs with that PATH, in /, and as nobody when the server is
// root and tenants are isolated.
func CheckRequirements(ctx context.Context, reqs []stamp.Requirement, isolated bool) []RequirementResult {
	path := TenantPATH(os.Getenv("PATH"), isolated)
	out := make([]RequirementResult, len(reqs))
	for i, req := range reqs {
		out[i] = checkRequirement(ctx, req, path, isolated)
	}
	return out
}

func checkRequirement(ctx context.Context, req stamp.Requirement, path string, isolated bool) RequirementResult {
	res := RequirementResult{Requirement: req}
	if filepath.IsAbs(req.Command) {
		if !executable(req.Command, isolated) {
			res.Problem = fmt.Sprintf("%s is missing or not a program tenants can run", req.Command)
			return res
		}
		res.Path = req.Command
	} else {
		found, err := lookPath(req.Command, path, isolated)
		if err != nil {
			res.Problem = fmt.Sprintf("not found in the PATH tenants get (%s)", path)
			return res
		}
		res.Path = found
	}
	if req.Min == "" {
		return res
	}
	version, output, err := readVersion(ctx, res.Path, path, isolated)
	how := fmt.Sprintf("the first x.y[.z] in the output of `%s --version`", res.Path)
	switch {
	case err != nil && version == "":
		res.Problem = fmt.Sprintf("cannot read the version of %s: `%s --version`: %v%s", res.Path, res.Path, err, quoteLine(output))
		return res
	case version == "":
		res.Problem = fmt.Sprintf("cannot read the version of %s: no x.y[.z] in the output of `%s --version`%s", res.Path, res.Path, quoteLine(output))
		return res
	}
	res.Version = version
	if compareVersions(version, req.Min) < 0 {
		res.Problem = fmt.Sprintf("%s is version %s (%s%s), older than %s", res.Path, version, how, quoteLine(output), req.Min)
	}
	return res
}

// readVersion runs `prog --version` and returns the first x.y[.z] of its
// output, and the output's first line.
func readVersion(ctx context.Context, prog, path string, isolated bool) (version, first string, err error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, "--version")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=" + path, "LC_ALL=C", "HOME=/"}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if isolated && os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
	}
	err = cmd.Run()
	output := buf.String()
	if len(output) > 64<<10 {
		output = output[:64<<10]
	}
	first, _, _ = strings.Cut(strings.TrimSpace(output), "\n")
	if m := versionRE.FindString(output); m != "" {
		return m, first, err
	}
	return "", first, err
}

// quoteLine formats a line of output to follow a message: `: "line"`.
func quoteLine(line string) string {
	line = strings.TrimSpace(line)
	if line == "" {
		return ""
	}
	if len(line) > 120 {
		line = line[:120] + "..."
	}
	return fmt.Sprintf(": %q", line)
}

// compareVersions compares dotted numbers; a missing part counts as 0.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		x, y := part(as, i), part(bs, i)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func part(parts []string, i int) int {
	if i >= len(parts) {
		return 0
	}
	n, _ := strconv.Atoi(parts[i])
	return n
}

// RequirementChecker checks blueprints' requirements against this host,
// remembering each requirement met for a while: a tenant create must not
// run `python3 --version` every time. One not met is looked at again each
// time, so that installing it is seen at once.
type RequirementChecker struct {
	isolated bool
	ttl      time.Duration

	mu    sync.Mutex
	cache map[stamp.Requirement]cachedResult
}

type cachedResult struct {
	res RequirementResult
	at  time.Time
}

// NewRequirementChecker returns a checker for tenants with users of their
// own (isolated) or not, that remembers requirements met for ttl.
func NewRequirementChecker(isolated bool, ttl time.Duration) *RequirementChecker {
	return &RequirementChecker{isolated: isolated, ttl: ttl, cache: map[stamp.Requirement]cachedResult{}}
}

// Check returns nil when the host provides every requirement of reqs,
// else an EUNPROCESSABLE error naming what (the blueprint ref) needs and
// each unmet requirement with why.
func (c *RequirementChecker) Check(ctx context.Context, ref string, reqs []stamp.Requirement) error {
	var problems []string
	for _, req := range reqs {
		if res := c.check(ctx, req); res.Problem != "" {
			problems = append(problems, res.String())
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return stamp.Errorf(stamp.EUNPROCESSABLE, "this host does not provide what %s requires: %s", ref, strings.Join(problems, "; "))
}

func (c *RequirementChecker) check(ctx context.Context, req stamp.Requirement) RequirementResult {
	c.mu.Lock()
	cached, ok := c.cache[req]
	c.mu.Unlock()
	if ok && time.Since(cached.at) < c.ttl {
		return cached.res
	}
	res := CheckRequirements(ctx, []stamp.Requirement{req}, c.isolated)[0]
	if res.Problem != "" {
		return res
	}
	c.mu.Lock()
	c.cache[req] = cachedResult{res, time.Now()}
	c.mu.Unlock()
	return res
}
