package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stamphq/stamp/httpapi"
)

// globals are the flags every client command shares.
type globals struct {
	url    string
	caFile string
	token  string
	data   string
	output string
	stdout io.Writer
	stderr io.Writer
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "stamp",
		Short:         "Stamp out and run share-nothing copies of a SaaS product, one per customer",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd.Flags())
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.url, "url", "http://127.0.0.1:7070", "address of the stamp server")
	pf.StringVar(&g.token, "token", "", "API token (default: the admin token in the data dir)")
	pf.StringVar(&g.caFile, "ca-file", "", "trust the server's certificate by these CA certificates (PEM), beside the system's")
	pf.StringVar(&g.data, "data", ".stamp", "data directory")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table, wide (long columns whole), json or yaml")
	root.AddCommand(
		newServerCmd(g),
		newRouterCmd(g),
		newDemoCmd(g),
		newBlueprintCmd(g),
		newTenantCmd(g),
		newReleaseCmd(g),
		newEventsCmd(g),
		newIncidentCmd(g),
		newWebhookCmd(g),
		newKeyCmd(g),
		newTokenCmd(g),
		newAuditCmd(g),
		newGCCmd(g),
		newFlowCmd(g),
		newPipelineCmd(g),
		newVersionCmd(g),
	)
	root.Version = buildVersion()
	root.SetVersionTemplate("stamp {{.Version}}\n")
	refuseUnknownSubcommands(root)
	addCompletions(root, g)
	return root
}

// applyEnv gives every flag not set on the command line the value of its
// STAMP_* environment variable (--router-listen reads STAMP_ROUTER_LISTEN).
func applyEnv(flags *pflag.FlagSet) error {
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "STAMP_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if setErr := flags.Set(f.Name, v); setErr != nil {
				err = fmt.Errorf("environment variable %s: %w", name, setErr)
			}
		}
	})
	return err
}

// client returns an API client for the configured server, with the token
// from --token, STAMP_TOKEN or the data dir.
func (g *globals) client() (*httpapi.Client, error) {
	token := g.token
	if token == "" {
		path := filepath.Join(g.data, adminTokenFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("no API token: pass --token or set STAMP_TOKEN, or run where the server's data dir is (%s not readable: %v)", path, err)
		}
		token = strings.TrimSpace(string(b))
	}
	c := httpapi.NewClient(g.url, token)
	if g.caFile != "" {
		tr, err := trusting(g.caFile)
		if err != nil {
			return nil, err
		}
		c.HTTP.Transport = tr
	}
	return c, nil
}

// trusting returns an HTTP transport that trusts the CA certificates in
// the PEM file at path as well as the system's.
func trusting(path string) (*http.Transport, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", path)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}
