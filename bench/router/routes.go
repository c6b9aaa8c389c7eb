package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	sqlitestore "github.com/stamphq/stamp/store/sqlite"
)

// fillerPorts is where the endpoints of the filler tenants start: one
// loopback port each, as the local driver gives, never sent a request.
const fillerPorts = 20000

// fillStore makes a SQLite store at path holding real, the measured
// tenant as the server has it, and routes-1 filler tenants: ready, each
// with an endpoint of its own, as in a fleet.
func fillStore(ctx context.Context, path string, real *stamp.Tenant, routes int) error {
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("open the store of %d routes: %w", routes, err)
	}
	defer st.Close()
	t := &stamp.Tenant{Name: real.Name, Spec: real.Spec, Status: real.Status, Generation: real.Generation}
	if err := st.CreateTenant(ctx, t); err != nil {
		return fmt.Errorf("store the measured tenant: %w", err)
	}
	for i := range routes - 1 {
		f := &stamp.Tenant{
			Name: fmt.Sprintf("filler-%05d", i),
			Spec: stamp.TenantSpec{Blueprint: real.Spec.Blueprint, Version: real.Spec.Version, Plan: real.Spec.Plan, Desired: stamp.DesiredRunning},
			Status: stamp.TenantStatus{
				Phase:     stamp.PhaseReady,
				Endpoints: []string{fmt.Sprintf("127.0.0.1:%d", fillerPorts+i)},
			},
			Generation: 1,
		}
		if err := st.CreateTenant(ctx, f); err != nil {
			return fmt.Errorf("store filler tenant %d of %d: %w", i+1, routes-1, err)
		}
	}
	return nil
}

// proxyProc is a proxy the bench started: a `stamp router` or a
// bareproxy.
type proxyProc struct {
	proc *benchkit.Proc
}

// startProxyProc starts cmd, a proxy that listens on addr, logging to
// logPath, and waits until it proxies GET path with Host host. On
// failure it returns the process too if it started, to be stopped.
func startProxyProc(ctx context.Context, cmd *exec.Cmd, addr, logPath, host, path string) (*proxyProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("open the proxy's log: %w", err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	p := &proxyProc{}
	if p.proc, err = benchkit.StartProc(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := benchkit.WaitOK(wctx, "http://"+addr+path, host, p.proc.Exited()); err != nil {
		b, _ := os.ReadFile(logPath)
		return p, fmt.Errorf("not proxying: %w\n%s", err, b)
	}
	return p, nil
}

// stop stops the proxy, if it still runs: SIGTERM, then SIGKILL after
// five seconds.
func (p *proxyProc) stop() {
	select {
	case <-p.proc.Exited():
	default:
		p.proc.Stop(5 * time.Second)
	}
}

// routesDir returns the data dir of the `stamp router` over routes routes.
func routesDir(tmp string, routes int) string {
	return filepath.Join(tmp, fmt.Sprintf("routes-%d", routes))
}
