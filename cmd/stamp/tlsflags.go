package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/stamphq/stamp/internal/certfile"
)

// tlsFlags are how a server or router serves TLS.
type tlsFlags struct {
	cert, key string
	insecure  bool
}

func (t *tlsFlags) add(f *pflag.FlagSet) {
	f.StringVar(&t.cert, "tls-cert", "", "serve TLS with this certificate (PEM, the chain after it); loaded anew when the file changes or on SIGHUP")
	f.StringVar(&t.key, "tls-key", "", "the private key of --tls-cert (PEM)")
	f.BoolVar(&t.insecure, "insecure", false, "serve plain HTTP on addresses beyond loopback (refused without it)")
}

// problems reports a half-given pair, and each of addrs (by flag) beyond
// loopback that would be served without TLS and without --insecure.
func (t *tlsFlags) problems(addrs map[string]string) []string {
	var out []string
	if (t.cert == "") != (t.key == "") {
		out = append(out, "--tls-cert and --tls-key go together: give both or neither")
	}
	if t.cert != "" || t.insecure {
		return out
	}
	for flag, addr := range addrs {
		if !loopbackAddr(addr) {
			out = append(out, fmt.Sprintf("%s %s is beyond loopback: give --tls-cert and --tls-key to serve TLS there, or --insecure to serve plain HTTP anyway", flag, addr))
		}
	}
	return out
}

// loopbackAddr reports whether host:port addr listens on loopback only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true // reported as malformed elsewhere
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// open loads the certificate, if one is given, and reloads it on SIGHUP
// until ctx ends; nil means plain HTTP. With --insecure it warns of each
// of addrs beyond loopback served so.
func (t *tlsFlags) open(ctx context.Context, addrs map[string]string, logger *slog.Logger) (*tls.Config, error) {
	if t.cert == "" {
		if t.insecure {
			for flag, addr := range addrs {
				if !loopbackAddr(addr) {
					logger.Warn("serving plain HTTP beyond loopback (--insecure): tokens and secrets cross the network in clear", "flag", flag, "addr", addr)
				}
			}
		}
		return nil, nil
	}
	r, err := certfile.Load(t.cert, t.key, logger)
	if err != nil {
		return nil, err
	}
	r.ReloadOnHangup(ctx)
	return r.Config(), nil
}

// args are the flags to give a process serving as this one does (the
// router's standby).
func (t *tlsFlags) args() []string {
	var out []string
	if t.cert != "" {
		abs := func(p string) string {
			if a, err := filepath.Abs(p); err == nil {
				return a
			}
			return p
		}
		out = append(out, "--tls-cert", abs(t.cert), "--tls-key", abs(t.key))
	}
	if t.insecure {
		out = append(out, "--insecure")
	}
	return out
}

// listener returns ln serving TLS with cfg, or ln itself when cfg is nil.
func listener(ln net.Listener, cfg *tls.Config) net.Listener {
	if cfg == nil {
		return ln
	}
	return tls.NewListener(ln, cfg)
}

// urlScheme is the URL scheme of a listener served with cfg.
func urlScheme(cfg *tls.Config) string {
	if cfg == nil {
		return "http"
	}
	return "https"
}
