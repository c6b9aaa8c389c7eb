// Package certfile serves a TLS certificate and key from files, taking
// a new pair without a restart: when the files change (checked at most
// once a second, at a handshake) or on Reload (a SIGHUP). A pair that
// does not load leaves the one in use serving, and says why.
package certfile

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"context"
)

// checkEvery bounds how often a handshake looks at the files.
const checkEvery = time.Second

// Reloader holds the certificate of a pair of files.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	seen    [2]fileStamp // of the files cert was loaded from
	checked time.Time
}

// fileStamp tells a file's versions apart.
type fileStamp struct {
	mod  time.Time
	size int64
}

// Load loads the pair; an error says which file and why.
func Load(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload loads the pair again and serves it from the next handshake.
// On error the pair in use stays.
func (r *Reloader) Reload() error {
	stamps, err := r.stamps()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cert, r.seen, r.checked = &cert, stamps, time.Now()
	return nil
}

// stamps returns the files' current stamps.
func (r *Reloader) stamps() ([2]fileStamp, error) {
	var out [2]fileStamp
	for i, path := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(path)
		if err != nil {
			return out, fmt.Errorf("TLS file: %w", err)
		}
		out[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	return out, nil
}

// GetCertificate is tls.Config.GetCertificate: the pair in use, loaded
// anew first if its files changed since.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	due := time.Since(r.checked) >= checkEvery
	if due {
		r.checked = time.Now()
	}
	seen, cert := r.seen, r.cert
	r.mu.Unlock()
	if due {
		if now, err := r.stamps(); err == nil && now != seen {
			if err := r.Reload(); err != nil {
				r.log.Error("TLS certificate changed but does not load; serving the one loaded before", "err", err)
			} else {
				r.log.Info("TLS certificate loaded anew", "cert", r.certFile)
			}
			r.mu.Lock()
			cert = r.cert
			r.mu.Unlock()
		}
	}
	return cert, nil
}

// Config returns a server TLS configuration serving r's pair, TLS 1.2
// and later.
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// ReloadOnHangup reloads the pair at each SIGHUP until ctx ends. It
// listens for the signal before it returns.
func (r *Reloader) ReloadOnHangup(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := r.Reload(); err != nil {
					r.log.Error("SIGHUP: TLS certificate does not load; serving the one loaded before", "err", err)
				} else {
					r.log.Info("SIGHUP: TLS certificate loaded anew", "cert", r.certFile)
				}
			}
		}
	}()
}
