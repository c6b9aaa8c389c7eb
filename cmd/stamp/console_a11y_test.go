package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// auditJS lists what keeps the page in the browser from being read by
// everyone: form fields without a label, links and buttons without a
// name, text whose contrast with its background is below WCAG 2's AA
// level (4.5:1, or 3:1 for large text), a page wider than the screen
// (so that it scrolls sideways on a phone), and no language.
const auditJS = `(() => {
	const problems = [];
	const shown = el => {
		const r = el.getBoundingClientRect(), s = getComputedStyle(el);
		return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
	};
	const what = el => el.outerHTML.slice(0, 100);
	for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
		if (shown(el) && el.labels.length === 0 && !el.getAttribute("aria-label")) problems.push("no label: " + what(el));
	}
	for (const el of document.querySelectorAll("a[href], button")) {
		if (shown(el) && !(el.getAttribute("aria-label") || el.textContent).trim()) problems.push("no name: " + what(el));
	}
	const rgba = c => { const m = c.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
	const luminance = c => {
		const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
	};
	const backdrop = el => {
		for (; el; el = el.parentElement) {
			const c = rgba(getComputedStyle(el).backgroundColor);
			if (c.a > 0) return c;
		}
		return {r: 255, g: 255, b: 255, a: 1};
	};
	const checked = new Set();
	const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n = texts.nextNode(); n; n = texts.nextNode()) {
		const el = n.parentElement;
		if (!n.textContent.trim() || checked.has(el) || !shown(el) || el.closest("svg")) continue;
		checked.add(el);
		const s = getComputedStyle(el);
		const [hi, lo] = [luminance(rgba(s.color)), luminance(backdrop(el))].sort((a, b) => b - a);
		const ratio = (hi + 0.05) / (lo + 0.05);
		const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
		const need = size >= 24 || bold && size >= 18.66 ? 3 : 4.5;
		if (ratio < need) problems.push("contrast " + ratio.toFixed(2) + " below " + need + ": " + JSON.stringify(n.textContent.trim().slice(0, 40)) + " in " + s.color);
	}
	const page = document.documentElement;
	if (page.scrollWidth > page.clientWidth + 1) {
		problems.push("wider than the screen: " + page.scrollWidth + "px in " + page.clientWidth + "px");
	}
	if (!document.documentElement.lang) problems.push("no language on <html>");
	return problems;
})()`

// audit fails the test with each problem auditJS finds on the page.
func audit(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	for _, p := range value(t, ctx, "audit "+page, chromedp.Evaluate[[]string](auditJS)) {
		t.Errorf("%s: %s", page, p)
	}
}

// onPhone loads each page at a phone's size (390 by 844 CSS pixels, as
// touch), audits it and saves its screenshot as NAME-phone, then puts
// the laptop's size back.
func onPhone(t *testing.T, ctx context.Context, pages map[string]string) {
	t.Helper()
	drive(t, ctx, "emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	for name, url := range pages {
		drive(t, ctx, "open "+name+" on a phone", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`h1`)))
		audit(t, ctx, name+" on a phone")
		screenshot(t, ctx, name+"-phone")
	}
	drive(t, ctx, "leave the phone", chromedp.EmulateViewport(1280, 900))
}

// checkAuditFinds plants one of each fault auditJS looks for in the
// page, checks that it finds each, and reloads the page: an audit that
// finds nothing is worth something only if it can.
func checkAuditFinds(t *testing.T, ctx context.Context) {
	t.Helper()
	found := value(t, ctx, "audit a page with faults planted", chromedp.Evaluate[[]string](`(() => {
		document.body.insertAdjacentHTML("beforeend",
			'<p style="color:#bbb;background:#fff">faint</p><input id="planted"><button></button><div style="width:4000px">wide</div>');
		document.documentElement.removeAttribute("lang");
		return `+auditJS+`;
	})()`))
	for _, want := range []string{"contrast ", "no label: ", "no name: ", "wider than the screen", "no language"} {
		if !slices.ContainsFunc(found, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("the audit missed a planted fault %q; it found %q", want, found)
		}
	}
	drive(t, ctx, "reload", chromedp.Reload())
}
