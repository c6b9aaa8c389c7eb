package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

func newTenantBackupCmd(g *globals) *cobra.Command {
	var recipients []string
	cmd := &cobra.Command{
		Use:   "backup NAME",
		Short: "Take a backup of a tenant now: its databases and data, encrypted, in the backup store",
		Long: "Backup dumps each of the tenant's databases (consistent while it serves)\n" +
			"and its data directory into one archive, compressed and encrypted with\n" +
			"the server's master key, and keeps it in the server's backup store. The\n" +
			"archive's format is in docs/archive.md.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			b, err := c.BackupTenant(cmd.Context(), args[0], httpapi.BackupRequest{Recipients: recipients})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "backup %s of %s: %s@%s, %s\n", b.ID, b.Tenant, b.Blueprint, b.Version, size(b.Size))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&recipients, "recipient", nil, "an age public key (age1...) that can open the archive too; repeatable")
	return cmd
}

func newTenantBackupsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "backups NAME",
		Short: "List a tenant's backups, newest first (a deleted tenant's, until it is purged)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			list, err := c.ListBackups(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printList(p, list, []any{"ID", "CREATED", "VERSION", "SIZE", "REASON", "KEY"}, func(b stamp.Backup) []any {
				return []any{b.ID, b.CreatedAt.Local().Format(time.DateTime), b.Blueprint + "@" + b.Version, size(b.Size), b.Reason, b.Key}
			})
		},
	}
}

func newTenantRestoreCmd(g *globals) *cobra.Command {
	var id string
	var noWait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "restore NAME",
		Short: "Put a tenant back to a backup: its databases, data and version",
		Long: "Restore stops the tenant (its address answers 503 meanwhile), replaces\n" +
			"its databases and data directory with the backup's, and starts it again\n" +
			"on the version the backup was taken of, without migrating or seeding.\n" +
			"Its secrets and address stay. Without --backup, its latest backup.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			since := time.Now()
			t, err := c.RestoreTenant(cmd.Context(), args[0], httpapi.RestoreRequest{Backup: id})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "tenant %s: restoring backup %s (%s@%s)\n", t.Name, t.Spec.Load.ID, t.Spec.Blueprint, t.Spec.Version)
			return waitServing(cmd.Context(), c, t, since, noWait, timeout, g)
		},
	}
	cmd.Flags().StringVar(&id, "backup", "", "the backup to restore (default: the latest)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the request is recorded")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait")
	return cmd
}

func newTenantCloneCmd(g *globals) *cobra.Command {
	var id, plan string
	var noWait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "clone SRC DST",
		Short: "Make a new tenant from another's backup: its data, with secrets and databases of its own",
		Long: "Clone makes tenant DST from a backup of SRC (its latest, or one taken\n" +
			"now if it has none): the same blueprint version and parameters, SRC's\n" +
			"data, and new secrets, databases and address: a staging copy of a\n" +
			"customer. Writes to one never reach the other.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			since := time.Now()
			t, err := c.CloneTenant(cmd.Context(), args[0], httpapi.CloneRequest{Name: args[1], Backup: id, Plan: plan})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "tenant %s: cloning %s from backup %s\n", t.Name, args[0], t.Spec.Load.ID)
			return waitServing(cmd.Context(), c, t, since, noWait, timeout, g)
		},
	}
	cmd.Flags().StringVar(&id, "backup", "", "the backup of SRC to clone (default: its latest)")
	cmd.Flags().StringVar(&plan, "plan", "", "the plan of the clone (default: SRC's)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the request is recorded")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait")
	return cmd
}

func newTenantImportCmd(g *globals) *cobra.Command {
	var noWait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "import NAME FILE",
		Short: "Make a tenant from an archive: an export or a backup downloaded",
		Long: "Import sends the archive to the server, which checks it (it must open\n" +
			"with the server's master key and match its checksums), keeps it as the\n" +
			"new tenant's first backup, and makes the tenant from it: the version,\n" +
			"plan, parameters and data of the archive, with secrets of its own.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			f, err := os.Open(args[1])
			if err != nil {
				return err
			}
			defer f.Close()
			since := time.Now()
			t, err := c.ImportTenant(cmd.Context(), args[0], f)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "tenant %s: made from %s (%s@%s)\n", t.Name, args[1], t.Spec.Blueprint, t.Spec.Version)
			return waitServing(cmd.Context(), c, t, since, noWait, timeout, g)
		},
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the request is recorded")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait")
	return cmd
}

func newTenantExportCmd(g *globals) *cobra.Command {
	var recipients []string
	cmd := &cobra.Command{
		Use:   "export NAME FILE",
		Short: "Take a backup of a tenant and write its archive to a file",
		Long: "Export takes a backup (kept in the store too) and writes its archive to\n" +
			"FILE. With --recipient, the customer's age key opens it as well, so the\n" +
			"customer reads it with age, zstd and tar alone (docs/archive.md).",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			b, err := export(cmd.Context(), c, args[0], args[1], recipients)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "exported %s to %s: backup %s, %s\n", args[0], args[1], b.ID, size(b.Size))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&recipients, "recipient", nil, "an age public key (age1...) that can open the archive too; repeatable")
	return cmd
}

// export takes an export backup of tenant and writes its archive to
// path: whole or not at all (written aside, synced, then renamed).
func export(ctx context.Context, c *httpapi.Client, tenant, path string, recipients []string) (*stamp.Backup, error) {
	b, err := c.BackupTenant(ctx, tenant, httpapi.BackupRequest{Reason: stamp.BackupExport, Recipients: recipients})
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", tenant, err)
	}
	defer os.Remove(f.Name())
	err = c.DownloadBackup(ctx, tenant, b.ID, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return nil, fmt.Errorf("export %s to %s: %w", tenant, path, err)
	}
	return b, nil
}

// waitServing waits, unless noWait, until tenant t serves again.
func waitServing(ctx context.Context, c *httpapi.Client, t *stamp.Tenant, since time.Time, noWait bool, timeout time.Duration, g *globals) error {
	if noWait {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return waitReady(ctx, c, t, since, g.stdout, g.stderr)
}
