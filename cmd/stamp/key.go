package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newKeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage the master key tenant secrets are encrypted with",
	}
	cmd.AddCommand(newKeyRotateCmd(g))
	return cmd
}

func newKeyRotateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Encrypt every secret anew under a new master key, while tenants run on",
		Long: `With the key file (<data>/master.key) the server makes a new key and
writes it to the file beside the old one, encrypts every tenant and
webhook secret anew under it, and then removes the old key from the
file. Servers sharing the file read it again when they meet the new key.

With STAMP_MASTER_KEY (comma-separated base64 keys, the first encrypts)
nothing is written: put the new key first in STAMP_MASTER_KEY of every
server and restart them, run this, and then drop the keys it reports as
unused. A rotation cut off part way is safe: run it again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			rot, err := c.RotateKeys(cmd.Context())
			if err != nil {
				return err
			}
			return p.print(rot, func(w *tabwriter.Writer) {
				if rot.Generated {
					row(w, "new key:", rot.ActiveKey)
				} else {
					row(w, "active key:", rot.ActiveKey+" (first of STAMP_MASTER_KEY)")
				}
				row(w, "re-encrypted:", fmt.Sprintf("%d of %d secrets", rot.Resealed, rot.Total))
				if len(rot.Retired) > 0 {
					row(w, "retired:", strings.Join(rot.Retired, ", ")+" (removed from the key file)")
				}
				if len(rot.Unused) > 0 {
					row(w, "unused:", strings.Join(rot.Unused, ", ")+" (no secret needs it: remove it from STAMP_MASTER_KEY)")
				}
			})
		},
	}
}
