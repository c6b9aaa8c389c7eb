package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

func TestYankBundle(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	for _, v := range []string{"1.0.0", "1.10.0", "1.2.0"} {
		env.push(t, ledgerVersion(v))
	}
	res, err := env.client.YankBundle(ctx, "ledger", "1.10.0", "bad migration")
	if err != nil || !res.Changed || !res.Bundle.Yanked || res.Bundle.YankReason != "bad migration" || res.Tenants == nil {
		t.Fatalf("yank: %+v, %v", res, err)
	}
	latest, err := env.client.GetBundle(ctx, "ledger", "")
	if err != nil || latest.Version != "1.2.0" {
		t.Errorf("latest with 1.10.0 yanked: %+v, %v; want 1.2.0", latest, err)
	}
	yanked, err := env.client.GetBundle(ctx, "ledger", "1.10.0")
	if err != nil || !yanked.Yanked {
		t.Errorf("1.10.0 by name: %+v, %v; want it shown, yanked", yanked, err)
	}

	_, err = env.client.CreateTenant(ctx, CreateTenantRequest{Name: "acme", Blueprint: "ledger", Version: "1.10.0"})
	wantError(t, err, stamp.ECONFLICT, "blueprint ledger@1.10.0 is yanked (bad migration): it takes no new tenants, upgrades or releases; "+
		"choose another version, or unyank it with `stamp blueprint unyank ledger@1.10.0`")
	_, err = env.client.YankBundle(ctx, "ledger", "9.9.9", "")
	wantError(t, err, stamp.ENOTFOUND, "blueprint ledger@9.9.9 does not exist (versions: 1.0.0, 1.2.0, 1.10.0)")
	_, err = env.client.YankBundle(ctx, "ledger", "1.0.0", strings.Repeat("é", maxYankReason+1))
	wantError(t, err, stamp.EINVALID, "reason has 501 characters; at most 500 are allowed")
	if status, _, _ := env.raw(t, http.MethodPost, "/v1/blueprints/ledger/1.0.0/yank", env.token, nil); status != http.StatusOK {
		t.Errorf("yank without a body: status %d, want 200", status)
	}

	for _, v := range []string{"1.0.0", "1.2.0"} {
		if _, err := env.client.YankBundle(ctx, "ledger", v, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, err = env.client.CreateTenant(ctx, CreateTenantRequest{Name: "acme", Blueprint: "ledger"})
	wantError(t, err, stamp.ECONFLICT, "every version of blueprint ledger is yanked (1.0.0, 1.2.0, 1.10.0); name one, or unyank one with `stamp blueprint unyank ledger@VERSION`")

	res, err = env.client.UnyankBundle(ctx, "ledger", "1.0.0")
	if err != nil || !res.Changed || res.Bundle.Yanked {
		t.Fatalf("unyank: %+v, %v", res, err)
	}
	if tn, err := env.client.CreateTenant(ctx, CreateTenantRequest{Name: "acme", Blueprint: "ledger", Params: map[string]string{"admin_email": "a@acme.test"}}); err != nil || tn.Spec.Version != "1.0.0" {
		t.Errorf("create after unyanking 1.0.0: %+v, %v; want it on 1.0.0", tn, err)
	}
}
