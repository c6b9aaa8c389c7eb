package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
)

// server is the `stamp server` of the run, with the blueprint its tenants
// use.
type server struct {
	*benchkit.Server
	// blueprint is the name of the blueprint pushed, which tenants use,
	// on plan.
	blueprint, plan string
}

// create asks for tenant name and polls GET / through the router until it
// answers 200, timing the whole from just before the API call.
func (s *server) create(ctx context.Context, name string, timeout time.Duration) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, port, _ := net.SplitHostPort(s.Router)
	smp := sample{name: name, start: time.Now()}
	if _, err := s.Client.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: s.blueprint, Plan: s.plan}); err != nil {
		return smp, fmt.Errorf("create tenant %s: %w", name, err)
	}
	if err := benchkit.WaitOK(ctx, "http://"+s.Router+"/", name+".localhost:"+port, s.Exited()); err != nil {
		return smp, fmt.Errorf("tenant %s: %w%s", name, err, s.explain(name))
	}
	smp.end = time.Now()
	return smp, nil
}

// explain says where a tenant that did not come up got to, for errors.
func (s *server) explain(name string) string {
	if err := s.Alive(); err != nil {
		return "\n" + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t, err := s.Client.GetTenant(ctx, name)
	if err != nil {
		return fmt.Sprintf("\n(get tenant: %v)", err)
	}
	return fmt.Sprintf("\ntenant phase %s, failed step %q: %s", t.Status.Phase, t.Status.FailedStep, t.Status.Message)
}

// memoryUse is the resident memory of the server and its tenants, and the
// connections on the cluster.
type memoryUse struct {
	benchkit.Memory
	pgBackends int // client connections on the cluster; 0 for sqlite
}
