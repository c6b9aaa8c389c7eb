package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/activity"
	"github.com/stamphq/stamp/console"
	"github.com/stamphq/stamp/driver/local"
	pgengine "github.com/stamphq/stamp/engine/postgres"
	sqliteengine "github.com/stamphq/stamp/engine/sqlite"
	"github.com/stamphq/stamp/flow"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/keyring"
	"github.com/stamphq/stamp/metrics"
	"github.com/stamphq/stamp/monitor"
	"github.com/stamphq/stamp/notify"
	"github.com/stamphq/stamp/reconcile"
	logredact "github.com/stamphq/stamp/redact"
	"github.com/stamphq/stamp/rollout"
	"github.com/stamphq/stamp/router"
	"github.com/stamphq/stamp/router/handoff"
)

// adminTokenFile is where the first start writes the admin token, inside
// the data dir; CLI commands on the same machine read it from there.
const adminTokenFile = "admin.token"

// serverConfig is everything `stamp server` is configured with.
type serverConfig struct {
	TLS          tlsFlags
	Listen       string
	RouterListen string
	Data         string
	Store        string
	Driver       string
	Kube         kubeConfig
	TenantPG     string
	ID           string
	BaseDomain   string
	Ports        string
	Workers      int
	RateLimit    float64
	// RemoveLeftovers lets the reconciler remove what the driver holds of
	// many tenants the store does not know (see reconcile.Config).
	RemoveLeftovers bool
	MaxCreates      int
	CreateQueue     int
	HealthTimeout   time.Duration
	DrainDelay      time.Duration
	WakeTimeout     time.Duration
	IdleCheck       time.Duration
	IncidentGrace   time.Duration
	SnapTimeout     time.Duration
	LogLevel        string
	TenantUIDs      string
	TenantNet       string
	TenantCgroups   string
	// LogMaxSize is the size ("10Mi") at which an instance's log is
	// rotated; LogFiles how many files of it are kept.
	LogMaxSize string
	LogFiles   int
	Timeouts   httpTimeouts
	// RouterStandby hands the router to a standby process when the
	// server stops (see standby.go).
	RouterStandby bool
	// Check only reports what isolation the host allows, then exits.
	Check bool
	// MassChangeLimit and MassChangeShare set the guard against mass
	// deletion (see httpapi.Config).
	MassChangeLimit int
	MassChangeShare float64
	// DeleteGrace is how long a deleted tenant is kept before it is purged.
	DeleteGrace time.Duration
	// BackupStore is the URL of the backup store; "" is <data>/backups.
	BackupStore string
	// MasterKey is STAMP_MASTER_KEY, which is no flag (see masterKeyEnv).
	MasterKey string
}

func (c *serverConfig) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.Listen, "listen", "127.0.0.1:7070", "address of the API")
	f.StringVar(&c.RouterListen, "router-listen", "127.0.0.1:7080", "address of the router that serves tenants")
	storeFlag(f, &c.Store)
	f.StringVar(&c.Driver, "driver", driverLocal, "where tenants run: local (processes on this host) or kubernetes (a namespace each, see --kubeconfig)")
	c.Kube.flags(f)
	f.StringVar(&c.TenantPG, "tenant-postgres", "", "PostgreSQL server for tenant databases with engine postgres (postgres://admin:password@host:port/postgres)")
	f.DurationVar(&c.SnapTimeout, "snapshot-timeout", pgengine.DefaultSnapshotTimeout, "how long copying a tenant's PostgreSQL database into a snapshot (pg_dump | pg_restore) may take before both are killed and the step fails")
	f.StringVar(&c.ID, "id", "", "name of this server among those sharing a store (default: hostname and --listen)")
	f.StringVar(&c.BaseDomain, "base-domain", "localhost", "tenants are served at <tenant>.<base-domain>")
	f.StringVar(&c.Ports, "ports", "10000-19999", "loopback ports the local driver gives tenant instances, MIN-MAX")
	f.IntVar(&c.Workers, "workers", 8, "tenant passes doing work at once (a pass waiting on its tenant's health gives its slot back)")
	f.BoolVar(&c.RemoveLeftovers, "remove-leftovers", false, "remove what the driver holds of tenants the store does not know even when they are many (more than a tenth of those held, and 3): refused otherwise, as a sign of the wrong or an emptied store")
	f.Float64Var(&c.RateLimit, "rate-limit", 50, "API calls that change something a token may make a second on this server, in bursts of twice that (0: no limit)")
	f.IntVar(&c.MaxCreates, "max-creates", 32, "tenant creates the API handles at once (0: no bound)")
	f.IntVar(&c.CreateQueue, "create-queue", 256, "tenant creates waiting for a turn beyond --max-creates; past them a create answers 503")
	f.DurationVar(&c.HealthTimeout, "health-timeout", 60*time.Second, "how long a new instance may take to pass its health check")
	f.DurationVar(&c.DrainDelay, "drain", time.Second, "how long an upgraded tenant's old version runs on after the route switched")
	f.DurationVar(&c.WakeTimeout, "wake-timeout", 60*time.Second, "how long a request to a sleeping tenant waits for it to wake before it is answered 503")
	f.DurationVar(&c.IdleCheck, "idle-check", 10*time.Second, "how often awake tenants whose plan sets idle are checked for idleness, and routers share their traffic through the store")
	f.DurationVar(&c.IncidentGrace, "incident-grace", 3*time.Second, "how long a service may fail its health probes before an incident opens")
	f.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&c.TenantUIDs, "tenant-uids", "200000-299999", "Unix users tenants run as, one each, MIN-MAX (as root), or none")
	f.StringVar(&c.TenantCgroups, "tenant-cgroups", "auto", "enforce plans' limits with cgroups where the host allows (auto), or none")
	f.StringVar(&c.TenantNet, "tenant-net", "100.64.0.0/10", "addresses of tenants' network namespaces, a /30 each (as root, with --tenant-uids), or none")
	f.StringVar(&c.LogMaxSize, "log-max-size", "10Mi", "size at which a tenant instance's log is rotated (bytes, or with Ki, Mi or Gi)")
	f.IntVar(&c.LogFiles, "log-files", 3, "files kept of each tenant instance's log, the one written to included")
	c.Timeouts.flags(f, true)
	c.TLS.add(f)
	f.BoolVar(&c.RouterStandby, "router-standby", true, "when the server stops, a standby process keeps serving tenants on --router-listen until the next start takes it back")
	f.IntVar(&c.MassChangeLimit, "mass-change-limit", 5, "deletes and suspensions allowed in 10 minutes (through every server) before the next needs --confirm-many, unless within --mass-change-share of the fleet; 0 turns the guard off")
	f.Float64Var(&c.MassChangeShare, "mass-change-share", 0.1, "share of the fleet that may be deleted or suspended in 10 minutes without --confirm-many")
	f.DurationVar(&c.DeleteGrace, "delete-grace", 72*time.Hour, "how long a deleted tenant is kept, stopped, before it is purged (stamp tenant undelete brings it back meanwhile; delete --purge skips it); 0 purges at once")
	f.StringVar(&c.BackupStore, "backup-store", "", "where tenants' backups are kept: file:///dir, or s3://bucket?endpoint=...&region=... for an S3-compatible store (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) (default: the backups directory of --data)")
	f.BoolVar(&c.Check, "check", false, "print what this host lets the server isolate (users, ...) and exit")
}

// validate reports every problem with the configuration, one per line.
func (c *serverConfig) validate() error {
	var problems []string
	for flag, addr := range map[string]string{"--listen": c.Listen, "--router-listen": c.RouterListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			problems = append(problems, fmt.Sprintf("%s %q: want host:port", flag, addr))
		}
	}
	if c.Data == "" {
		problems = append(problems, "--data is empty")
	}
	if c.RateLimit < 0 || c.MaxCreates < 0 || c.CreateQueue < 0 {
		problems = append(problems, fmt.Sprintf("--rate-limit %g, --max-creates %d and --create-queue %d: want none negative", c.RateLimit, c.MaxCreates, c.CreateQueue))
	}
	problems = append(problems, c.TLS.problems(map[string]string{"--listen": c.Listen, "--router-listen": c.RouterListen})...)
	if err := validateStore(c.Store); err != nil {
		problems = append(problems, err.Error())
	}
	switch c.Driver {
	case driverLocal:
	case driverKube:
		problems = append(problems, c.Kube.problems()...)
	default:
		problems = append(problems, fmt.Sprintf("--driver %q: want local or kubernetes", c.Driver))
	}
	if c.TenantPG != "" && !isPostgresURL(c.TenantPG) {
		problems = append(problems, fmt.Sprintf("--tenant-postgres %s: want a postgres:// URL", redact(c.TenantPG)))
	}
	if err := stamp.ValidateName("base domain label", strings.ReplaceAll(c.BaseDomain, ".", "-")); err != nil {
		problems = append(problems, fmt.Sprintf("--base-domain %q is not a domain name", c.BaseDomain))
	}
	if _, _, err := c.portRange(); err != nil {
		problems = append(problems, err.Error())
	}
	if _, err := c.uidRange(); err != nil {
		problems = append(problems, err.Error())
	}
	if _, err := c.tenantNet(); err != nil {
		problems = append(problems, err.Error())
	}
	if c.TenantCgroups != "auto" && c.TenantCgroups != "none" {
		problems = append(problems, fmt.Sprintf("--tenant-cgroups %q: want auto or none", c.TenantCgroups))
	}
	if _, err := parseLogSize(c.LogMaxSize); err != nil {
		problems = append(problems, "--log-max-size: "+err.Error())
	}
	if c.LogFiles < 1 {
		problems = append(problems, fmt.Sprintf("--log-files %d: want at least 1", c.LogFiles))
	}
	if c.Workers < 1 {
		problems = append(problems, fmt.Sprintf("--workers %d: want at least 1", c.Workers))
	}
	if c.IncidentGrace <= 0 {
		problems = append(problems, fmt.Sprintf("--incident-grace %s: want a positive duration", c.IncidentGrace))
	}
	if c.DrainDelay <= 0 {
		problems = append(problems, fmt.Sprintf("--drain %s: want a positive duration", c.DrainDelay))
	}
	if c.SnapTimeout <= 0 {
		problems = append(problems, fmt.Sprintf("--snapshot-timeout %s: want a positive duration", c.SnapTimeout))
	}
	if c.WakeTimeout <= 0 {
		problems = append(problems, fmt.Sprintf("--wake-timeout %s: want a positive duration", c.WakeTimeout))
	}
	if c.IdleCheck <= 0 {
		problems = append(problems, fmt.Sprintf("--idle-check %s: want a positive duration", c.IdleCheck))
	}
	if c.HealthTimeout <= 0 {
		problems = append(problems, fmt.Sprintf("--health-timeout %s: want a positive duration", c.HealthTimeout))
	}
	problems = append(problems, c.Timeouts.problems(true)...)
	if c.MasterKey != "" {
		if _, err := keyring.Parse(c.MasterKey); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", masterKeyEnv, err))
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		problems = append(problems, fmt.Sprintf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// portRange parses --ports.
func (c *serverConfig) portRange() (lo, hi int, err error) {
	a, b, ok := strings.Cut(c.Ports, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("--ports %q: want MIN-MAX within 1-65535, e.g. 10000-19999", c.Ports)
	}
	return lo, hi, nil
}

func newServerCmd(g *globals) *cobra.Command {
	var cfg serverConfig
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: API, reconciler and router",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Data = g.data
			cfg.MasterKey = os.Getenv(masterKeyEnv)
			if err := cfg.validate(); err != nil {
				return err
			}
			if cfg.Check {
				return checkHost(cmd.Context(), g.stdout, cfg)
			}
			srv, err := startServer(cmd.Context(), cfg, newLogger(g.stderr, cfg.LogLevel))
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "stamp server: API on %s://%s, tenants on %s://<tenant>.%s:%d, data in %s\n",
				srv.scheme, srv.apiAddr, srv.scheme, cfg.BaseDomain, srv.routerAddr.Port, cfg.Data)
			err = srv.wait()
			srv.close()
			return err
		},
	}
	cfg.flags(cmd)
	return cmd
}

// newLogger logs text to a terminal and JSON otherwise.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated with the configuration
	opts := &slog.HandlerOptions{Level: l}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// server is a running control plane.
type server struct {
	scheme     string // http, or https when serving TLS
	apiAddr    *net.TCPAddr
	routerAddr *net.TCPAddr
	token      string
	store      stamp.Store
	driver     serverDriver
	local      *local.Driver // the driver, if local; nil on Kubernetes
	iso        *isolation
	group      *errgroup.Group
	closers    []func() // engines and the like, closed after the group ends
	unlock     func()   // releases the data dir (see lockDataDir)
}

// startServer opens the store, the driver and the engines, starts the API,
// the router and the reconciler, and returns once both listeners are bound.
// Everything stops when ctx ends; wait returns then.
func startServer(ctx context.Context, cfg serverConfig, logger *slog.Logger) (srv *server, err error) {
	_, statErr := os.Stat(cfg.Data)
	fresh := errors.Is(statErr, fs.ErrNotExist)
	data, err := makeDataDir(cfg.Data)
	if err != nil {
		return nil, err
	}
	unlock := func() {}
	defer func() {
		if err != nil {
			unlock()
			if fresh {
				// Made at this start: a server that failed to start leaves
				// no half-made data dir behind.
				os.RemoveAll(data)
			}
		}
	}()
	if !isPostgresURL(cfg.Store) {
		u, err := lockDataDir(data)
		if err != nil {
			return nil, err
		}
		unlock = u
	}
	store, err := openStore(ctx, cfg.Store, data)
	if err != nil {
		return nil, err
	}
	keys, err := sealStore(ctx, store, data, cfg.MasterKey, logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	backups, err := openBackups(ctx, cfg.BackupStore, data, keys)
	if err != nil {
		store.Close()
		return nil, err
	}
	// The API keeps tokens in memory while the store tells it of every
	// revocation (PostgreSQL: by NOTIFY, from any server).
	var tokenCache *httpapi.TokenCache
	revocations, _ := store.(stamp.TokenWatcher)
	if revocations != nil {
		tokenCache = httpapi.NewTokenCache(logger)
	}
	// Every part gets the timed store, so store latency is the server's.
	mtr := metrics.New(logger)
	store = mtr.WrapStore(keys)
	closers := []func(){func() { backups.Close() }}
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
			store.Close()
		}
	}()
	iso, err := detectIsolation(cfg, data)
	if err != nil {
		return nil, err
	}
	iso.log(logger)
	// The monitor is made after the driver, which tells it of exits.
	var watcher atomic.Pointer[monitor.Monitor]
	driver, localDriver, err := startDriver(ctx, cfg, data, store, iso, logger, func(tenant string) {
		if m := watcher.Load(); m != nil {
			m.Exited(tenant)
		}
	})
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { driver.Close() })
	token, err := ensureAdminToken(ctx, store, filepath.Join(data, adminTokenFile))
	if err != nil {
		return nil, err
	}

	apiLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("API listen on %s: %w", cfg.Listen, err)
	}
	closers = append(closers, func() { apiLn.Close() })
	routerLn, standby, err := listenRouter(ctx, data, cfg.RouterListen)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			routerLn.Close()
			if standby != nil {
				standby.Abandon() // it serves on
			}
		}
	}()
	routerAddr := routerLn.Addr().(*net.TCPAddr)
	tlsCfg, err := cfg.TLS.open(ctx, map[string]string{"--listen": cfg.Listen, "--router-listen": cfg.RouterListen}, logger)
	if err != nil {
		return nil, err
	}

	var rec *reconcile.Reconciler // set below, before anything runs
	rt := router.New(router.Config{
		Source: store, BaseDomain: cfg.BaseDomain, Logger: logger, ResponseTimeout: cfg.Timeouts.Response,
		Waker:       router.WakeFunc(func(ctx context.Context, name string) error { return rec.Wake(ctx, name) }),
		WakeTimeout: cfg.WakeTimeout, Woke: mtr.ObserveWake,
	})
	engines := map[string]stamp.Engine{}
	refusals := map[string]string{}
	if cfg.Driver == driverLocal {
		engines["sqlite"] = sqliteengine.New(filepath.Join(data, "databases"))
	} else {
		refusals["sqlite"] = "a sqlite database is a file on the control plane's host, which pods cannot open; " +
			"on Kubernetes use engine postgres (with --tenant-postgres), whose server the pods reach by URL"
	}
	if cfg.TenantPG != "" {
		pg, err := pgengine.New(ctx, cfg.TenantPG, pgengine.WithSnapshotTimeout(cfg.SnapTimeout))
		if err != nil {
			return nil, fmt.Errorf("tenant PostgreSQL: %w", err)
		}
		closers = append(closers, func() { pg.Close() })
		engines["postgres"] = pg
	}
	id := cfg.ID
	if id == "" {
		host, _ := os.Hostname()
		id = host + "/" + apiLn.Addr().String()
	}
	// Idleness is judged from every router sharing the store.
	traffic := activity.New(store, rt, cfg.IdleCheck, logger)
	var releases *rollout.Controller // set below, before anything runs
	rec = reconcile.New(reconcile.Config{
		Holder: id,
		Store:  store, Driver: driver, Engines: engines, Routes: rt,
		URL: func(tenant string) string {
			return urlScheme(tlsCfg) + "://" + tenant + "." + cfg.BaseDomain + ":" + strconv.Itoa(routerAddr.Port)
		},
		Workers: cfg.Workers, HealthTimeout: cfg.HealthTimeout, DrainDelay: cfg.DrainDelay, Logger: logger,
		UIDs:            iso.uids,
		Moved:           func(string) { releases.Wake() },
		Observe:         mtr.ObservePass,
		Activity:        traffic.Last,
		IdleCheck:       cfg.IdleCheck,
		RemoveLeftovers: cfg.RemoveLeftovers,
		Backups:         backups,
	})
	releases = rollout.NewController(rollout.Config{
		Store: store, Holder: id, Enqueue: rec.Enqueue, Logger: logger,
		Counters: func(tenant string) (uint64, uint64) {
			st := rt.Stats(tenant)
			return st.Requests, st.Errors5xx
		},
	})
	// Tenant output reaches incidents and the API with its secrets hidden.
	logs := logredact.New(runtimeLogs{logs: driver, tenants: store}, store)
	mon := monitor.New(monitor.Config{
		Store: store, Driver: driver, Logs: logs, Held: rec.Held, Blueprint: rec.Blueprint,
		Grace: cfg.IncidentGrace, Logger: logger,
	})
	watcher.Store(mon)
	mtr.Watch(metrics.Sources{Fleet: store, Router: rt, Reconciler: rec, Monitor: mon, Driver: driver})
	hooks := notify.New(notify.Config{Store: store, Holder: id, Source: "stamp://" + id, Logger: logger})
	engineNames := map[string]bool{}
	for name := range engines {
		engineNames[name] = true
	}
	index := flow.NewIndex(store)
	apiHandler := httpapi.NewServer(httpapi.Config{
		Store: store, Flow: index, Logs: logs, Enqueue: rec.Enqueue, Claim: rec.Claim, Engines: engineNames, EngineRefusals: refusals, Logger: logger, Metrics: mtr,
		Health: mon.TenantHealth, Keys: keys, SharedNetwork: iso.network == nil && cfg.Driver == driverLocal,
		Requirements: requirements(cfg, iso), TokenCache: tokenCache,
		RateLimit: cfg.RateLimit, MaxCreates: cfg.MaxCreates, CreateQueue: cfg.CreateQueue,
		Backups: &httpapi.Backups{Store: backups, Take: rec.Backup}, DeleteGrace: cfg.DeleteGrace,
		MassChangeLimit: cfg.MassChangeLimit, MassChangeShare: cfg.MassChangeShare, GC: rec.CollectGarbage,
		Ready: func(ctx context.Context) error {
			_, err := store.ListEvents(ctx, stamp.EventFilter{Limit: 1})
			return err
		},
	})
	api := cfg.Timeouts.apiServer(withConsole(apiHandler, logger))
	front := cfg.Timeouts.routerServer(rt)

	if err := rt.Sync(ctx); err != nil {
		return nil, fmt.Errorf("load routes: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve(gctx, api, listener(apiLn, tlsCfg), "API") })
	g.Go(func() error { return serveRouter(gctx, cfg, data, front, routerLn, tlsCfg, logger) })
	g.Go(func() error { return rt.Run(gctx) })
	g.Go(func() error { return rec.Run(gctx) })
	g.Go(func() error { return traffic.Run(gctx) })
	g.Go(func() error { return releases.Run(gctx) })
	g.Go(func() error { return mon.Run(gctx) })
	g.Go(func() error { return hooks.Run(gctx) })
	g.Go(func() error { return index.Run(gctx, flowIndexPeriod, logger) })
	if tokenCache != nil {
		g.Go(func() error { return tokenCache.Watch(gctx, revocations) })
	}
	if standby != nil {
		// This server's router accepts on the socket now: the standby
		// stops accepting and finishes what it took.
		if err := standby.Release(ctx); err != nil {
			logger.Warn("release the router standby", "err", err)
		} else {
			logger.Info("took the router back from its standby")
		}
	}
	logger.Info("stamp server started", "api", apiLn.Addr().String(), "router", routerAddr.String(), "data", data)
	return &server{
		scheme:  urlScheme(tlsCfg),
		apiAddr: apiLn.Addr().(*net.TCPAddr), routerAddr: routerAddr, token: token,
		store: store, driver: driver, local: localDriver, iso: iso, group: g, closers: closers, unlock: unlock,
	}, nil
}

// withConsole serves the web console under console.Prefix beside the
// API, and sends a browser at the root to it.
func withConsole(api http.Handler, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, console.New(console.Config{API: api, Logger: logger}).Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix, http.StatusSeeOther))
	mux.Handle("/", api)
	return mux
}

// flowIndexPeriod is how often the server reads new events into the flow
// index, so a report has at most that much of the log left to read.
const flowIndexPeriod = time.Minute

// makeDataDir creates the data dir if missing and returns its absolute
// path.
func makeDataDir(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	data, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	return data, nil
}

// checkHost prints what isolation the host allows the server with cfg,
// and whether it provides what pushed blueprints require.
func checkHost(ctx context.Context, w io.Writer, cfg serverConfig) error {
	data, err := makeDataDir(cfg.Data)
	if err != nil {
		return err
	}
	iso, err := detectIsolation(cfg, data)
	if err != nil {
		return err
	}
	iso.print(w)
	fmt.Fprintln(w, masterKeyCheck(cfg.MasterKey, data))
	if cfg.Driver == driverKube {
		// Images bring what tenants need; the cluster must answer.
		return printCluster(ctx, w, cfg.Kube)
	}
	return printRequirements(ctx, w, cfg, data, iso.uids.Size() > 0)
}

// wait blocks until the server's parts (API, router, reconciler) have
// stopped, which they do when the context given to startServer ends.
func (s *server) wait() error { return s.group.Wait() }

// close releases the driver, the engines and the store once wait has
// returned. Tenant processes keep running: they belong to the customers.
func (s *server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.store.Close()
	s.unlock() // last: the next server may open the state now
}

// serveRouter runs the router's server on ln until ctx ends, then hands
// the socket to a standby router (with --router-standby) and drains, or
// shuts down.
func serveRouter(ctx context.Context, cfg serverConfig, data string, srv *http.Server, ln *net.TCPListener, tlsCfg *tls.Config, logger *slog.Logger) error {
	s := handoff.Serve(srv, listener(ln, tlsCfg)) // the standby takes ln itself
	select {
	case <-s.Done():
		return fmt.Errorf("router server: %w", s.Err())
	case <-ctx.Done():
	}
	stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cfg.RouterStandby {
		if err := handToStandby(cfg, data, ln, logger); err != nil {
			logger.Error("tenants go unserved until the next start: no router standby", "err", err)
		} else {
			s.Drain(stop)
			return nil
		}
	}
	s.Shutdown(stop)
	return nil
}

// serve runs srv on ln until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, what string) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s server: %w", what, err)
	case <-ctx.Done():
	}
	// Requests get a few seconds to finish; streams that never do (logs
	// -f, a tenant's server-sent events) are then cut.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s server: %w", what, err)
	}
	return nil
}

// ensureAdminToken returns the admin token kept at path, creating it (and
// registering its hash in the store) on first start, and anew if it was
// revoked: whoever can read the data dir is the host's admin anyway.
func ensureAdminToken(ctx context.Context, store stamp.TokenStore, path string) (string, error) {
	var token string
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		token = strings.TrimSpace(string(b))
	case errors.Is(err, os.ErrNotExist):
	default:
		return "", fmt.Errorf("read admin token: %w", err)
	}
	if token != "" {
		tok, err := store.TokenByHash(ctx, httpapi.HashToken(token))
		switch {
		case err == nil && tok.Valid(time.Now()) == nil:
			return token, nil
		case err != nil && stamp.ErrorCode(err) != stamp.ENOTFOUND:
			return "", err
		case err == nil:
			token = "" // revoked: a new one replaces it
		}
	}
	if token == "" {
		token = httpapi.NewToken()
		if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("write admin token: %w", err)
		}
	}
	hash := httpapi.HashToken(token)
	// Servers with data dirs of their own share a store (one per host):
	// each registers its own admin token, "admin" for the first, the
	// others named after their hash, as their IDs are.
	id := "admin-" + hash[:12]
	err = store.CreateToken(ctx, &stamp.Token{ID: id, Name: "admin", Role: stamp.RoleAdmin, Hash: hash, CreatedAt: time.Now()})
	if stamp.ErrorCode(err) == stamp.ECONFLICT {
		err = store.CreateToken(ctx, &stamp.Token{ID: id, Name: id, Role: stamp.RoleAdmin, Hash: hash, CreatedAt: time.Now()})
	}
	if err != nil {
		return "", fmt.Errorf("register admin token: %w", err)
	}
	return token, nil
}
