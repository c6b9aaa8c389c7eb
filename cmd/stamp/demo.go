package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/internal/human"
)

// demoTenants are the customers `stamp demo` stamps out.
var demoTenants = []string{"acme", "globex", "initech"}

func newDemoCmd(g *globals) *cobra.Command {
	var cfg serverConfig
	var dir string
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a server on a fresh data dir, stamp out three tenants of the example app and serve them until Ctrl-C",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat(filepath.Join(dir, "stamp.yaml")); err != nil {
				return fmt.Errorf("demo: no blueprint at %s: run the demo from the root of Stamp's source tree, where examples/ledger is, or name a blueprint directory with --blueprint-dir", dir)
			}
			data, err := os.MkdirTemp("", "stamp-demo-")
			if err != nil {
				return fmt.Errorf("create demo data dir: %w", err)
			}
			if !keep {
				defer os.RemoveAll(data)
			}
			cfg.Data = data
			cfg.RouterStandby = false // the demo stops its tenants too
			if err := cfg.validate(); err != nil {
				return err
			}
			return runDemo(cmd.Context(), g, cfg, dir, keep)
		},
	}
	cfg.flags(cmd)
	cmd.Flags().StringVar(&dir, "blueprint-dir", "examples/ledger", "blueprint directory to push")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo's data dir when it ends")
	return cmd
}

func runDemo(ctx context.Context, g *globals, cfg serverConfig, dir string, keep bool) error {
	serverCtx, stopServer := context.WithCancel(context.Background())
	defer stopServer()
	srv, err := startServer(serverCtx, cfg, newLogger(g.stderr, "warn"))
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(g.stdout, "\nstopping the demo's tenants and server...")
		// The reconciler stops first, so no pass starts an instance anew
		// while the instances are stopped.
		stopServer()
		srv.wait()
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if keep {
			if err := srv.local.StopAll(stopCtx); err != nil {
				fmt.Fprintln(g.stderr, "stop tenants:", err)
			}
		} else if err := srv.releaseHost(stopCtx); err != nil {
			fmt.Fprintln(g.stderr, "remove tenants:", err)
		}
		srv.close()
	}()
	fmt.Fprintf(g.stdout, "stamp server: API on http://%s, data in %s\n", srv.apiAddr, cfg.Data)

	dg := *g
	dg.url = "http://" + srv.apiAddr.String()
	dg.token = srv.token
	if err := pushBlueprint(ctx, &dg, dir, defaultBuildTimeout); err != nil {
		return err
	}
	c := httpapi.NewClient(dg.url, dg.token)
	start := time.Now()
	eg, ectx := errgroup.WithContext(ctx)
	for _, name := range demoTenants {
		eg.Go(func() error {
			t, err := c.CreateTenant(ectx, httpapi.CreateTenantRequest{Name: name, Blueprint: "ledger"})
			if err != nil {
				return fmt.Errorf("create tenant %s: %w", name, err)
			}
			if err := waitReady(ectx, c, t, t.CreatedAt, io.Discard, g.stderr); err != nil {
				return fmt.Errorf("tenant %s did not become ready", name)
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\n%d tenants of ledger ready in %s:\n\n", len(demoTenants), human.Duration(time.Since(start)))
	port := strconv.Itoa(srv.routerAddr.Port)
	for _, name := range demoTenants {
		fmt.Fprintf(g.stdout, "  %-8s http://%s.%s:%s/\n", name, name, cfg.BaseDomain, port)
	}
	first := demoTenants[0]
	base := "http://127.0.0.1:" + port
	host := first + "." + cfg.BaseDomain + ":" + port
	fmt.Fprintf(g.stdout, `
Try it (each tenant has its own processes and database):

  curl -H 'Host: %[1]s' %[2]s/api/customers -d '{"name":"Wile E.","email":"wile@acme.test"}'
  curl -H 'Host: %[1]s' %[2]s/api/invoices -d '{"customer_id":1,"amount_cents":4200}'
  curl -H 'Host: %[1]s' %[2]s/api/invoices
  curl -H 'Host: %[3]s.%[4]s:%[5]s' %[2]s/api/invoices     # globex sees none of acme's

  STAMP_URL=http://%[6]s STAMP_DATA=%[7]s go run ./cmd/stamp tenant list

The console: http://%[6]s/console/ (sign in with the admin token in
%[8]s).

Serving until Ctrl-C.
`, host, base, demoTenants[1], cfg.BaseDomain, port, srv.apiAddr, cfg.Data, filepath.Join(cfg.Data, adminTokenFile))
	<-ctx.Done()
	return nil
}
