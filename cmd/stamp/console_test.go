package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// browser starts headless Chromium (scripts/chromium installs it) and
// returns a context whose tab it drives, accepting every confirmation.
// Without Chromium the test is skipped, unless STAMP_TEST_CONSOLE is
// "required" (as scripts/test sets it).
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("STAMP_TEST_CONSOLE") == "required" {
			t.Fatalf("chromium not found (%v): scripts/chromium installs it", err)
		}
		t.Skip("chromium not found: scripts/chromium installs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

// drive runs browser actions, failing the test with what was being done.
func drive(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// screenshot saves the page as name.png among the test's artefacts:
// under STAMP_TEST_ARTEFACTS (scripts/test sets it to .artefacts, which
// git ignores), else in the system's temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("STAMP_TEST_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "stamp-test-artefacts")
	}
	dir = filepath.Join(dir, "console")
	png := value(t, ctx, "take a screenshot of "+name, chromedp.CaptureScreenshot())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// value runs a browser action that returns a value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// TestConsole drives the console in Chromium: it signs in, sees the
// tenants, opens one, suspends it (the router answers 503) and resumes
// it, sees a tenant created meanwhile appear on the fleet page and a
// release progress on its page without a reload, and finds the value
// stream map on the flow page. A viewer sees no action, and the API
// refuses the one it sends anyway. Each page's screenshot is saved.
func TestConsole(t *testing.T) {
	ctx := browser(t)
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDirOf(t, "../../examples/ledger-v1/stamp.yaml", ledgerRelease[1]))
	for _, name := range []string{"acme", "globex"} {
		s.mustCLI("tenant", "create", name, "--blueprint", "ledger")
	}
	admin, err := os.ReadFile(filepath.Join(s.data, adminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	base := s.url() + "/console/"

	// Signed in by keyboard alone: Tab to the token, type it, Enter.
	drive(t, ctx, "open the console", chromedp.Navigate(s.url()+"/"), chromedp.WaitVisible(chromedp.CSS(`#token`)))
	checkAuditFinds(t, ctx)
	audit(t, ctx, "login")
	for tabs := 0; value(t, ctx, "see what has the focus", chromedp.Evaluate[string](`document.activeElement.id`)) != "token"; tabs++ {
		if tabs == 10 {
			t.Fatal("ten presses of Tab did not reach the token field")
		}
		drive(t, ctx, "press Tab", chromedp.KeyEvent(kb.Tab))
	}
	drive(t, ctx, "sign in",
		chromedp.KeyEvent(strings.TrimSpace(string(admin))+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-tenant="globex"]`)))
	fleet := value(t, ctx, "read the fleet", chromedp.Text(chromedp.CSS(`main`)))
	screenshot(t, ctx, "fleet")
	audit(t, ctx, "fleet")
	for _, want := range []string{"2 tenants", "acme", "globex", "ready"} {
		if !strings.Contains(fleet, want) {
			t.Errorf("the fleet page lacks %q:\n%s", want, fleet)
		}
	}

	waitFor(t, "the monitor to see acme's instance", 30*time.Second, func() bool {
		tn, err := s.client().GetTenant(context.Background(), "acme")
		return err == nil && tn.Health != nil && tn.Health.Instances["web"].Running == 1
	})
	drive(t, ctx, "open acme",
		chromedp.Click(chromedp.CSS(`a[href="/console/tenants/acme"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/suspend"] button`)))
	if services := value(t, ctx, "read the services", chromedp.Text(chromedp.CSS(`.services`))); !strings.Contains(services, "web: healthy, 1 of 1 instances running, 0 restarts") {
		t.Errorf("acme's services: %q, want web's health, instances and restarts", services)
	}
	drive(t, ctx, "suspend acme",
		chromedp.Click(chromedp.CSS(`form[action$="/suspend"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	screenshot(t, ctx, "tenant")
	audit(t, ctx, "tenant")
	if code, _ := s.do("GET", "acme", "/api/customers", ""); code != http.StatusServiceUnavailable {
		t.Errorf("the router answers %d for suspended acme, want 503", code)
	}
	drive(t, ctx, "resume acme",
		chromedp.Click(chromedp.CSS(`form[action$="/resume"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	waitFor(t, "acme to serve again", 30*time.Second, func() bool {
		code, _ := s.do("GET", "acme", "/api/customers", "")
		return code == http.StatusOK
	})

	// The fleet page follows the event stream: a tenant made now shows
	// up on it without a reload (the marker set here would go).
	drive(t, ctx, "open the fleet", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(`tr[data-tenant="acme"]`)))
	value(t, ctx, "mark the page", chromedp.Evaluate[bool](`window.notReloaded = true`))
	s.mustCLI("tenant", "create", "initech", "--blueprint", "ledger")
	drive(t, ctx, "see initech appear", chromedp.WaitVisible(chromedp.CSS(`tr[data-tenant="initech"]`)))
	if !value(t, ctx, "read the mark", chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the fleet page reloaded to show the new tenant; want it updated in place")
	}

	// A release seen from its page: the waves fill and the state turns
	// succeeded without a reload.
	s.mustCLI("blueprint", "push", blueprintDir(t))
	id := regexp.MustCompile(`release (\S+):`).FindStringSubmatch(
		s.mustCLI("release", "create", "ledger@2.0.0", "--waves", "1,100%", "--soak", "2s"))
	if id == nil {
		t.Fatal("release create printed no release id")
	}
	drive(t, ctx, "open the release", chromedp.Navigate(base+"releases/"+id[1]), chromedp.WaitVisible(chromedp.CSS(`.waves`)))
	value(t, ctx, "mark the page", chromedp.Evaluate[bool](`window.notReloaded = true`))
	screenshot(t, ctx, "release-rolling")
	audit(t, ctx, "release-rolling")
	drive(t, ctx, "watch the release succeed", chromedp.WaitVisible(chromedp.CSS(`[data-state="succeeded"]`)))
	if !value(t, ctx, "read the mark", chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the release page reloaded; want it updated in place")
	}
	if filled := value(t, ctx, "read the waves", chromedp.Evaluate[int](`[...document.querySelectorAll(".waves progress")].filter(p => p.value == 100).length`)); filled != 2 {
		t.Errorf("%d waves drawn full after the release succeeded, want 2", filled)
	}
	screenshot(t, ctx, "release-done")
	audit(t, ctx, "release-done")

	drive(t, ctx, "open the incidents", chromedp.Navigate(base+"incidents"), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	screenshot(t, ctx, "incidents")
	audit(t, ctx, "incidents")
	drive(t, ctx, "open the flow page", chromedp.Navigate(base+"flow"),
		chromedp.WaitVisible(chromedp.CSS(`.map svg g.step.bottleneck`)),
		chromedp.WaitVisible(chromedp.CSS(`.map svg g[data-step="migrate"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.dora figure`)))
	screenshot(t, ctx, "flow")
	audit(t, ctx, "flow")

	onPhone(t, ctx, map[string]string{"fleet": base, "tenant": base + "tenants/acme", "release": base + "releases/" + id[1],
		"incidents": base + "incidents", "flow": base + "flow"})

	viewer := regexp.MustCompile(`secret: (\S+)`).FindStringSubmatch(s.mustCLI("token", "create", "watcher", "--role", "viewer"))
	if viewer == nil {
		t.Fatal("token create printed no secret")
	}
	drive(t, ctx, "sign in as a viewer",
		chromedp.Click(chromedp.CSS(`.who button`)),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), viewer[1]),
		chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-tenant="acme"]`)),
		chromedp.Navigate(base+"tenants/acme"),
		chromedp.WaitVisible(chromedp.CSS(`h1`)))
	buttons := value(t, ctx, "count the actions", chromedp.Evaluate[int](`document.querySelectorAll(".actions form").length`))
	answer := value(t, ctx, "suspend as a viewer", chromedp.Evaluate[string](`(async () => {
			const body = new URLSearchParams({csrf: document.querySelector('input[name=csrf]').value});
			const resp = await fetch("/console/tenants/acme/suspend", {method: "POST", body});
			return new URL(resp.url).searchParams.get("err") || "";
		})()`, chromedp.EvalAwaitPromise))
	if buttons != 0 {
		t.Errorf("a viewer sees %d action forms, want none", buttons)
	}
	screenshot(t, ctx, "tenant-as-viewer")
	audit(t, ctx, "tenant-as-viewer")
	if !strings.Contains(answer, "viewer") {
		t.Errorf("a viewer's suspend through the console: %q, want the API's refusal", answer)
	}
	if out := s.mustCLI("tenant", "get", "acme"); strings.Contains(out, "suspended") {
		t.Errorf("acme was suspended by a viewer:\n%s", out)
	}
}
