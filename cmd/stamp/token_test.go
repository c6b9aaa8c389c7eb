package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

// TestTokens: the admin makes a viewer token and an operator token
// confined to acme with the CLI; each does what its role allows, the
// confined one sees acme alone (globex does not exist for it), and a
// revoked token fails at once.
func TestTokens(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	for _, name := range []string{"acme", "globex"} {
		s.mustCLI("tenant", "create", name, "--blueprint", "ledger")
	}
	secret := func(out string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^secret: (stp_\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("token create printed no secret:\n%s", out)
		}
		return m[1]
	}
	viewer := secret(s.mustCLI("token", "create", "dash", "--role", "viewer"))
	support := secret(s.mustCLI("token", "create", "support", "--role", "operator", "--tenant", "acme", "--expires", "30d"))

	refused := func(want string, args ...string) {
		t.Helper()
		out, errOut, code := s.cli(args...)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("stamp %s: exit %d, stdout %q, stderr %q; want refused with %q", strings.Join(args, " "), code, out, errOut, want)
		}
	}
	if out := s.mustCLI("tenant", "list", "--token", viewer); !strings.Contains(out, "acme") || !strings.Contains(out, "globex") {
		t.Errorf("tenant list as a viewer:\n%s", out)
	}
	refused("needs a token of role operator or above; token dash is viewer", "tenant", "delete", "globex", "--token", viewer)
	refused("needs a token of role admin or above; token dash is viewer", "token", "list", "--token", viewer)

	if out := s.mustCLI("tenant", "list", "--token", support); !strings.Contains(out, "acme") || strings.Contains(out, "globex") {
		t.Errorf("tenant list as acme's token: want acme alone:\n%s", out)
	}
	s.mustCLI("tenant", "get", "acme", "--token", support)
	refused(`tenant "globex" does not exist`, "tenant", "get", "globex", "--token", support)
	refused(`tenant "globex" does not exist`, "tenant", "delete", "globex", "--token", support)
	refused(`token support is confined to tenant "acme"`, "events", "--token", support)
	s.mustCLI("blueprint", "list", "--token", support) // the catalogue holds nothing of a tenant

	list := s.mustCLI("token", "list")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\S+\s+dash\s+viewer\s+-\s+.*\s+-\s+active$`),
		regexp.MustCompile(`(?m)^\S+\s+support\s+operator\s+acme\s+.*active$`),
		regexp.MustCompile(`(?m)^\S+\s+admin\s+admin\s+-\s+`),
	} {
		if !want.MatchString(list) {
			t.Errorf("token list lacks %s:\n%s", want, list)
		}
	}
	refused(`a token named "dash" exists`, "token", "create", "dash", "--role", "admin")

	s.mustCLI("token", "revoke", "dash")
	refused(`token "dash" was revoked at`, "tenant", "list", "--token", viewer)
	refused(`no token named "dash" (or with that ID) is in use`, "token", "revoke", "dash")

	// The audit log: the viewer's refused delete, named; the admin's
	// creates, written with them; nothing of the reads.
	var recs []stamp.AuditRecord
	if err := json.Unmarshal([]byte(s.mustCLI("audit", "--token-name", "dash", "-o", "json")), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Action != "DELETE /v1/tenants/{name}" || recs[0].Tenant != "globex" || recs[0].Outcome != stamp.AuditFailed || recs[0].Status != 403 || recs[0].Role != stamp.RoleViewer {
		t.Errorf("audit records of token dash: got %+v, want its refused delete of globex alone", recs)
	}
	created := s.mustCLI("audit", "--tenant", "acme")
	if !regexp.MustCompile(`(?m)^\d+\s.*\sadmin\s+admin\s+POST /v1/tenants\s+/v1/tenants\s+\S+\s+-\s+ok\s+-$`).MatchString(created) {
		t.Errorf("audit of acme lacks its create:\n%s", created)
	}
	refused("needs a token of role admin or above", "audit", "--token", secret(s.mustCLI("token", "create", "ops", "--role", "operator")))
}

// TestTokenRevokedOnEveryServer: two servers share a PostgreSQL store; a
// token made through one works on the other (which keeps it in memory
// from then on), and revoked through one, fails on the other as soon as
// PostgreSQL's notice reaches it: within a second here, milliseconds in
// practice.
func TestTokenRevokedOnEveryServer(t *testing.T) {
	store := scratchDatabase(t)
	a := startStampServer(t, "--store", store)
	b := startStampServer(t, "--store", store)
	ctx := context.Background()
	made, err := a.client().CreateToken(ctx, httpapi.CreateTokenRequest{Name: "ci", Role: stamp.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	onB := httpapi.NewClient("http://"+b.api, made.Secret)
	if _, err := onB.ListTenants(ctx); err != nil {
		t.Fatalf("the token on the other server: %v", err)
	}
	if _, err := a.client().RevokeToken(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	var err2 error
	waitFor(t, "the other server to refuse the revoked token", time.Second, func() bool {
		_, err2 = onB.ListTenants(ctx)
		return err2 != nil
	})
	if stamp.ErrorCode(err2) != stamp.EUNAUTHORIZED || !strings.Contains(err2.Error(), `token "ci" was revoked at`) {
		t.Errorf("the revoked token on the other server: got %v, want it refused as revoked", err2)
	}
}
