package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/stamphq/stamp/activity"
	"github.com/stamphq/stamp/reconcile"
	"github.com/stamphq/stamp/router"
	"github.com/stamphq/stamp/router/handoff"
)

// newRouterCmd is `stamp router`: the data plane alone. It reads routes
// from the store, so tenant traffic keeps flowing while every API and
// reconciler process is down or restarting.
func newRouterCmd(g *globals) *cobra.Command {
	var (
		store, listen, baseDomain, logLevel string
		poll, idleCheck                     time.Duration
		timeouts                            httpTimeouts
		standby                             bool
		tlsf                                tlsFlags
	)
	cmd := &cobra.Command{
		Use:   "router",
		Short: "Run only the router, reading routes from the store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateStore(store); err != nil {
				return err
			}
			if _, _, err := net.SplitHostPort(listen); err != nil {
				return fmt.Errorf("--router-listen %q: want host:port", listen)
			}
			if idleCheck <= 0 {
				return fmt.Errorf("--idle-check %s: want a positive duration", idleCheck)
			}
			if problems := append(timeouts.problems(false), tlsf.problems(map[string]string{"--router-listen": listen})...); len(problems) > 0 {
				return fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
			}
			data, err := filepath.Abs(g.data)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openStore(ctx, store, data)
			if err != nil {
				return err
			}
			defer st.Close()
			logger := newLogger(g.stderr, logLevel)
			tlsCfg, err := tlsf.open(ctx, map[string]string{"--router-listen": listen}, logger)
			if err != nil {
				return err
			}
			rt := router.New(router.Config{Source: st, BaseDomain: baseDomain, PollInterval: poll, Logger: logger, ResponseTimeout: timeouts.Response,
				// A wake is recorded for the server whose reconciler
				// holds the tenant (the next one, for a standby).
				Waker: router.WakeFunc(func(ctx context.Context, name string) error {
					return reconcile.RequestWake(ctx, st, name, time.Now())
				}),
			})
			if err := rt.Sync(ctx); err != nil {
				return fmt.Errorf("load routes: %w", err)
			}
			// The servers judge idleness from this router's traffic too.
			traffic := activity.New(st, rt, idleCheck, logger)
			tctx, stopTraffic := context.WithCancel(ctx)
			var tracking sync.WaitGroup
			tracking.Go(func() { traffic.Run(tctx) })
			defer func() { stopTraffic(); tracking.Wait() }() // its last record before the store closes
			if standby {
				files, ok := standbyFilesFor(data, listen)
				if !ok {
					return fmt.Errorf("--standby: --router-listen %s has no fixed port", listen)
				}
				go func() {
					if err := rt.Run(ctx); err != nil && ctx.Err() == nil {
						logger.Error("routes no longer follow the store", "err", err)
					}
				}()
				serve := func(ln net.Listener) *handoff.Server {
					return handoff.Serve(timeouts.routerServer(rt), listener(ln, tlsCfg))
				}
				return runStandby(ctx, files, serve, logger)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("router listen on %s: %w", listen, err)
			}
			fmt.Fprintf(g.stdout, "stamp router: tenants on %s://<tenant>.%s:%d\n", urlScheme(tlsCfg), baseDomain, ln.Addr().(*net.TCPAddr).Port)
			srv := timeouts.routerServer(rt)
			eg, ectx := errgroup.WithContext(ctx)
			eg.Go(func() error { return serve(ectx, srv, listener(ln, tlsCfg), "router") })
			eg.Go(func() error { return rt.Run(ectx) })
			return eg.Wait()
		},
	}
	f := cmd.Flags()
	storeFlag(f, &store)
	f.StringVar(&listen, "router-listen", "127.0.0.1:7080", "address tenants are served on")
	f.StringVar(&baseDomain, "base-domain", "localhost", "tenants are served at <tenant>.<base-domain>")
	f.DurationVar(&poll, "poll", 200*time.Millisecond, "how often the store's event log is read for route changes")
	f.DurationVar(&idleCheck, "idle-check", 10*time.Second, "how often the tenants this router served are recorded in the store, so that servers do not put them to sleep (scale to zero)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	timeouts.flags(f, false)
	// Started by a stopping `stamp server` (see standby.go), not by hand.
	tlsf.add(f)
	f.BoolVar(&standby, "standby", false, "take the router's socket from a stopping server and serve until the next one takes it back")
	f.MarkHidden("standby")
	return cmd
}
