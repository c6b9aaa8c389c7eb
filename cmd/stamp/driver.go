package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/driver/local"
)

// serverDriver is what the server needs of its driver: the driver's
// methods, the tenants' logs, and Close once everything that uses it
// has stopped.
type serverDriver interface {
	stamp.Driver
	stamp.LogReader
	Close() error
}

// runtimeLogs hands out a tenant's logs from the driver, which knows the
// tenant by its runtime: the pooled stamp's it claimed, or its own name.
type runtimeLogs struct {
	logs    stamp.LogReader
	tenants interface {
		GetTenant(ctx context.Context, name string) (*stamp.Tenant, error)
	}
}

// Logs returns the logs of service of tenant, read under its runtime.
func (l runtimeLogs) Logs(ctx context.Context, tenant, service string, opts stamp.LogOptions) (io.ReadCloser, error) {
	t, err := l.tenants.GetTenant(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", tenant, err)
	}
	return l.logs.Logs(ctx, t.RuntimeName(), service, opts)
}

// startDriver starts the driver cfg names. The local one runs tenants
// as processes under data, with the bundles of store, within what iso
// allows, and calls onExit when a tenant's process exits; it is also
// returned as such (nil on Kubernetes).
func startDriver(ctx context.Context, cfg serverConfig, data string, store stamp.BundleSource, iso *isolation, logger *slog.Logger, onExit func(tenant string)) (serverDriver, *local.Driver, error) {
	if cfg.Driver == driverKube {
		d, err := newKubeDriver(ctx, cfg.Kube, cfg.BaseDomain, cfg.TenantPG, logger)
		if err != nil {
			return nil, nil, fmt.Errorf("start kubernetes driver: %w", err)
		}
		return d, nil, nil
	}
	portMin, portMax, _ := cfg.portRange() // validated with the configuration
	logMaxSize, _ := parseLogSize(cfg.LogMaxSize)
	d, err := local.New(ctx, local.Config{
		Dir: filepath.Join(data, "local"), Bundles: store, Logger: logger, PortMin: portMin, PortMax: portMax,
		Cgroups: iso.cgroups, Network: iso.network, LogMaxSize: logMaxSize, LogFiles: cfg.LogFiles,
		OnExit: func(tenant, _ string) { onExit(tenant) },
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start local driver: %w", err)
	}
	return d, d, nil
}

// requirements checks that the host provides what a pushed blueprint
// requires (commands, ...): on the local driver, which runs tenants on
// this host. On Kubernetes a tenant's image brings what it needs.
func requirements(cfg serverConfig, iso *isolation) func(context.Context, string, []stamp.Requirement) error {
	if cfg.Driver != driverLocal {
		return nil
	}
	return local.NewRequirementChecker(iso.uids.Size() > 0, time.Minute).Check
}
