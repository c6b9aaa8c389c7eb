package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/keyring"
	"github.com/stamphq/stamp/store/sealed"
)

// masterKeyFile is the key file in the data dir, made at first start
// unless the keys come from masterKeyEnv.
const masterKeyFile = "master.key"

// masterKeyEnv holds the master keys instead of the key file: base64,
// comma-separated, the first seals. It is read from the environment only,
// never a flag: a command line is readable by every user of the host.
const masterKeyEnv = "STAMP_MASTER_KEY"

// sealStore returns st with its secrets sealed at rest under the master
// keys of envKeys, if set (never written to disk), or of the key file in
// data, made at first start. Values still stored in clear are sealed now:
// a store written before encryption came in does not keep them in clear
// until some later rotation.
func sealStore(ctx context.Context, st stamp.Store, data, envKeys string, logger *slog.Logger) (*sealed.Store, error) {
	var (
		ring    *keyring.Ring
		created bool
		err     error
		path    = filepath.Join(data, masterKeyFile)
		source  = "key file " + path
	)
	if envKeys != "" {
		ring, err = keyring.Parse(envKeys)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", masterKeyEnv, err)
		}
		source = masterKeyEnv
	} else if ring, created, err = keyring.OpenFile(path, rand.Reader); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	s := sealed.New(st, ring)
	n, err := s.SealClear(ctx)
	if err != nil {
		if created {
			// The key made now sealed nothing; the next start must not
			// take it for the key the store's secrets need.
			os.Remove(path)
		}
		return nil, fmt.Errorf("master key: %w", err)
	}
	logger.Info("secrets are encrypted at rest", "keys", source, "active_key", ring.ActiveID(), "new_key_file", created, "sealed_clear_values", n)
	return s, nil
}

// masterKeyCheck says where the master key comes from, for `stamp server
// --check`, without making one.
func masterKeyCheck(envKeys, data string) string {
	if envKeys != "" {
		return "secrets: sealed at rest (AES-256-GCM) under keys from " + masterKeyEnv
	}
	path := filepath.Join(data, masterKeyFile)
	fi, err := os.Stat(path)
	switch {
	case os.IsNotExist(err):
		return "secrets: sealed at rest (AES-256-GCM) under a key file " + path + " made at first start (mode 0600)"
	case err != nil:
		return "secrets: key file " + path + ": " + err.Error()
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Sprintf("secrets: key file %s has mode %04o, which others can read: the server refuses it; chmod 600 it", path, fi.Mode().Perm())
	}
	return "secrets: sealed at rest (AES-256-GCM) under the key file " + path + " (mode 0600)"
}
