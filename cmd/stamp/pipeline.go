package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/internal/human"
)

func newPipelineCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Report CI pipeline stages, for the delivery stream and the DORA figures of stamp flow",
	}
	cmd.AddCommand(newPipelineEventCmd(g))
	return cmd
}

func newPipelineEventCmd(g *globals) *cobra.Command {
	var req httpapi.PipelineEventRequest
	var started, finished string
	cmd := &cobra.Command{
		Use:   "event --blueprint NAME --version V --commit SHA --stage NAME --started TIME --finished TIME [--status failed]",
		Short: "Record one stage of a CI pipeline for a commit of a blueprint version",
		Long: "event records a stage a CI system ran for a commit that becomes a version\n" +
			"of a blueprint: commit, build, test, review, release, or any name of\n" +
			"a-z, 0-9 and '-'. Times are RFC 3339 (date -u +%FT%TZ) in the CI\n" +
			"system's clock; stamp flow corrects a clock ahead of the server's.\n" +
			"Post each stage once it has finished.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if req.StartedAt, err = parseTime("started", started); err != nil {
				return err
			}
			if req.FinishedAt, err = parseTime("finished", finished); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			e, err := c.RecordPipelineEvent(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "recorded %s of %s@%s (commit %s, %s): %s\n", e.Stage, e.Blueprint, e.Version, e.Commit, e.Status,
				human.Duration(e.FinishedAt.Sub(e.StartedAt)))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Blueprint, "blueprint", "", "the blueprint the commit is a version of")
	f.StringVar(&req.Version, "version", "", "the blueprint version the commit becomes")
	f.StringVar(&req.Commit, "commit", "", "the commit (its SHA)")
	f.StringVar(&req.Stage, "stage", "", "the stage's name: commit, build, test, review, release...")
	f.StringVar(&req.Status, "status", stamp.StatusOK, "how the stage ended: ok or failed")
	f.StringVar(&started, "started", "", "when the stage started, RFC 3339")
	f.StringVar(&finished, "finished", "", "when the stage finished, RFC 3339")
	for _, name := range []string{"blueprint", "version", "commit", "stage", "started", "finished"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

// parseTime reads flag's RFC 3339 value.
func parseTime(flag, value string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time such as 2026-12-05T10:00:00Z", flag, value)
	}
	return t, nil
}
