package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/stamphq/stamp/router/handoff"
)

// The router outlives a server restart. When `stamp server` stops, it
// offers its router's listening socket to a standby process (`stamp
// router --standby`) that it starts for the purpose; the standby serves
// tenants from the store until the next server takes the socket back.
// The socket never closes, so no client is refused in between (see
// router/handoff). The standby's files sit in the data dir, named by the
// router's port: router-PORT.sock (the offer), .pid and .log.

// standbyFiles are a router standby's files for the router on listen.
type standbyFiles struct{ sock, pid, log string }

// standbyFilesFor returns the files of the standby for the router on
// listen; ok is false for port 0, where the next server's port is not
// known and nothing can be handed over.
func standbyFilesFor(data, listen string) (standbyFiles, bool) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" {
		return standbyFiles{}, false
	}
	base := filepath.Join(data, "router-"+port)
	return standbyFiles{sock: base + ".sock", pid: base + ".pid", log: base + ".log"}, true
}

// standbyWait bounds how long a starting server waits for a standby that
// is between offers, and a stopping one for its standby to take over.
const standbyWait = 15 * time.Second

// listenRouter returns the router's listener: the socket a standby
// offers (taken is then its offerer, to release once the router
// serves), or a new one.
func listenRouter(ctx context.Context, data, listen string) (ln *net.TCPListener, taken *handoff.Taken, err error) {
	files, ok := standbyFilesFor(data, listen)
	deadline := time.Now().Add(standbyWait)
	for {
		if ok {
			ln, taken, err := handoff.Take(ctx, files.sock)
			if err == nil {
				return ln, taken, nil
			}
			if !errors.Is(err, handoff.ErrNoOffer) {
				return nil, nil, err
			}
		}
		l, err := net.Listen("tcp", listen)
		if err == nil {
			return l.(*net.TCPListener), nil, nil
		}
		// A standby that just took the socket from a server that
		// stopped a moment ago offers it again within milliseconds.
		if !ok || !errors.Is(err, syscall.EADDRINUSE) || !exists(files.sock) || time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("router listen on %s: %w", listen, err)
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// handToStandby offers the router's socket, starts a standby router to
// take it, and returns once the standby serves on it: the caller then
// drains its own router. cfg is the stopping server's configuration.
func handToStandby(cfg serverConfig, data string, ln *net.TCPListener, logger *slog.Logger) error {
	files, ok := standbyFilesFor(data, cfg.RouterListen)
	if !ok {
		return fmt.Errorf("no standby for a router on port 0 (--router-listen %s)", cfg.RouterListen)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start router standby: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), standbyWait)
	defer cancel()
	offered := make(chan struct{})
	offer := make(chan error, 1)
	go func() { offer <- handoff.Offer(ctx, files.sock, ln, func() { close(offered) }) }()
	select {
	case <-offered:
	case err := <-offer:
		return err
	}
	logf, err := os.OpenFile(files.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		cancel()
		<-offer
		return fmt.Errorf("start router standby: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, "router", "--standby", "--data", data,
		"--router-listen", cfg.RouterListen, "--base-domain", cfg.BaseDomain, "--log-level", cfg.LogLevel,
		"--read-header-timeout", cfg.Timeouts.ReadHeader.String(), "--idle-timeout", cfg.Timeouts.Idle.String(),
		"--response-timeout", cfg.Timeouts.Response.String())
	cmd.Args = append(cmd.Args, cfg.TLS.args()...)
	// The store URL may hold a password: not on a command line others
	// can read.
	cmd.Env = append(os.Environ(), "STAMP_STORE="+cfg.Store)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session: a Ctrl-C to the server's terminal is not for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		cancel()
		<-offer
		return fmt.Errorf("start router standby: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-offer:
		if err != nil {
			cmd.Process.Kill()
			return fmt.Errorf("router standby (pid %d) did not take the router's socket within %s: %w; its log is %s",
				cmd.Process.Pid, standbyWait, err, files.log)
		}
		logger.Info("router handed to a standby process that serves tenants until the next start",
			"pid", cmd.Process.Pid, "pid_file", files.pid, "log", files.log)
		return nil
	case err := <-exited:
		cancel()
		<-offer
		return fmt.Errorf("router standby exited before it took the router's socket (%v); its log is %s", err, files.log)
	}
}

// runStandby is `stamp router --standby`: it takes the router's socket
// offered by a stopping server, serves tenants on it (serve starts the
// router on a listener), and offers it in turn until the next server
// takes it, then drains and returns.
func runStandby(ctx context.Context, files standbyFiles, serve func(net.Listener) *handoff.Server, logger *slog.Logger) error {
	ln, from, err := handoff.Take(ctx, files.sock)
	if err != nil {
		return err
	}
	srv := serve(ln)
	if err := from.Release(ctx); err != nil {
		srv.Shutdown(ctx)
		return err
	}
	if err := os.WriteFile(files.pid, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		logger.Warn("write pid file", "err", err)
	}
	defer os.Remove(files.pid)
	logger.Info("router standby serving tenants until the next stamp server takes over", "addr", ln.Addr().String(), "pid", os.Getpid())
	offerErr := make(chan error, 1)
	go func() { offerErr <- handoff.Offer(ctx, files.sock, ln, nil) }()
	select {
	case err = <-offerErr:
	case <-srv.Done():
		err = srv.Err()
	}
	stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err == nil {
		srv.Drain(stop)
		logger.Info("router standby handed the router back to a server")
		return nil
	}
	srv.Shutdown(stop)
	if errors.Is(err, context.Canceled) {
		logger.Info("router standby stopped by a signal: tenants go unserved until the next stamp server starts")
		return nil
	}
	return err
}
