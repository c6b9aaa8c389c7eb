// Package console benchmarks the web console's fleet page over 10,000
// tenants: the server's time to answer the first page, and the
// browser's time to first contentful paint, read from headless
// Chromium's performance timing. Run it with
//
//	go test -run '^$' -bench FleetPage -benchtime 20x ./bench/console
//
// (scripts/chromium installs Chromium; without it the paint figure is
// skipped) and STAMP_TEST_POSTGRES set for the PostgreSQL store.
package console
