package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// nginxConf is the configuration of the nginx the bench runs: a reverse
// proxy on listen for upstream, with as many workers as CPUs, upstream
// connections kept alive and everything it writes under dir. It sets the
// same X-Forwarded headers as Stamp's router and, like the router, logs
// no request. keepalive_requests is raised on both sides from nginx's
// default of 1,000, after which it closes a connection: Stamp's router
// closes none. A non-empty user (such as "nobody nogroup") adds a user
// directive: a master started as root runs its workers as that user.
func nginxConf(dir, listen, upstream string, workers int, user string) string {
	var b strings.Builder
	if user != "" {
		fmt.Fprintf(&b, "user %s;\n", user)
	}
	fmt.Fprintf(&b, `daemon off;
master_process on;
worker_processes %d;
pid %s;
error_log %s warn;
events {
	worker_connections 4096;
}
http {
	access_log off;
	client_body_temp_path %s;
	proxy_temp_path %s;
	fastcgi_temp_path %s;
	uwsgi_temp_path %s;
	scgi_temp_path %s;
	keepalive_requests 1000000;
	upstream app {
		server %s;
		keepalive 64;
		keepalive_requests 1000000;
	}
	server {
		listen %s;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $http_host;
			proxy_set_header X-Forwarded-For $remote_addr;
			proxy_set_header X-Forwarded-Host $http_host;
			proxy_set_header X-Forwarded-Proto $scheme;
		}
	}
}
`, workers, filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"),
		filepath.Join(dir, "client_body"), filepath.Join(dir, "proxy"), filepath.Join(dir, "fastcgi"),
		filepath.Join(dir, "uwsgi"), filepath.Join(dir, "scgi"), upstream, listen)
	return b.String()
}

// nginx is an nginx the bench started.
type nginx struct {
	addr    string // where it listens
	version string // such as "nginx/1.22.1"
	workers int
	dir     string
	proc    *benchkit.Proc
}

// findNginx runs scripts/nginx, which installs nginx if it is missing,
// and returns the binary's path, or an error saying why there is none.
func findNginx(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "nginx"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if lines := strings.Split(msg, "\n"); len(lines) > 0 {
			msg = lines[len(lines)-1]
		}
		return "", fmt.Errorf("scripts/nginx: %w: %s", err, msg)
	}
	return strings.TrimSpace(string(out)), nil
}

// startNginx writes the configuration into dir and starts nginx (the
// binary bin) on a free loopback port in front of upstream, with workers
// workers, and waits until it proxies GET path with Host host.
func startNginx(ctx context.Context, bin, dir, upstream string, workers int, host, path string) (*nginx, error) {
	out, err := exec.CommandContext(ctx, bin, "-v").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s -v: %w: %s", bin, err, out)
	}
	n := &nginx{version: strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: "), workers: workers, dir: dir}
	if n.addr, err = benchkit.FreePort(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("make nginx's directory: %w", err)
	}
	conf := filepath.Join(dir, "nginx.conf")
	workerUser := ""
	if os.Geteuid() == 0 {
		if workerUser, err = nobody(); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(conf, []byte(nginxConf(dir, n.addr, upstream, workers, workerUser)), 0o644); err != nil {
		return nil, fmt.Errorf("write nginx.conf: %w", err)
	}
	logf, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		return nil, fmt.Errorf("open nginx's log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if n.proc, err = benchkit.StartProc(cmd); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := benchkit.WaitOK(wctx, "http://"+n.addr+path, host, n.proc.Exited()); err != nil {
		return n, fmt.Errorf("nginx not proxying: %w\n%s", err, n.logTail())
	}
	return n, nil
}

// nobody returns the user nobody and its group, as nginx's user directive
// takes them: the group is nogroup on Debian, nobody elsewhere, and
// nginx's default (the group named as the user) fails on Debian.
func nobody() (string, error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return "", fmt.Errorf("nginx's workers: %w", err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return "", fmt.Errorf("nginx's workers: group of nobody: %w", err)
	}
	return "nobody " + g.Name, nil
}

// logTail returns the end of nginx's logs, for errors.
func (n *nginx) logTail() string {
	var all []string
	for _, f := range []string{"stderr.log", "error.log"} {
		b, _ := os.ReadFile(filepath.Join(n.dir, f))
		all = append(all, strings.Split(strings.TrimRight(string(b), "\n"), "\n")...)
	}
	return strings.Join(all[max(0, len(all)-20):], "\n")
}

// pids returns the master's pid and its workers'.
func (n *nginx) pids() ([]int, error) {
	pid := n.proc.PID()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil, fmt.Errorf("list nginx's workers: %w", err)
	}
	pids := []int{pid}
	for f := range strings.FieldsSeq(string(b)) {
		w, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("list nginx's workers: %q", b)
		}
		pids = append(pids, w)
	}
	return pids, nil
}

// cpu returns the CPU time nginx's master and workers have used.
func (n *nginx) cpu() (time.Duration, error) {
	pids, err := n.pids()
	if err != nil {
		return 0, err
	}
	var sum time.Duration
	for _, pid := range pids {
		d, err := benchkit.CPUTime(pid)
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
}

// stop asks nginx to stop at once (SIGTERM: its master stops its workers
// and waits for them), and kills the master and then any worker left if
// it has not within five seconds. Workers are found by pid before the
// stop and killed only while they still are nginx workers.
func (n *nginx) stop() error {
	if n == nil || n.proc == nil {
		return nil
	}
	pids, _ := n.pids() // none if it already exited
	n.proc.Stop(5 * time.Second)
	var errs []error
	for _, pid := range pids[min(1, len(pids)):] {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.HasPrefix(string(cmdline), "nginx: worker process") {
			continue // gone
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill nginx worker %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}
