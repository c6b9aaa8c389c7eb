// Package console benchmarks the web console's fleet page over 10,000
// tenants and 3,000 incidents: the server's time to answer the first
// page, and the browser's time to first contentful paint, read from
// headless Chromium's performance timing, beside the paint of the login
// page as its floor. Run it with
//
//	go test -run '^$' -bench FleetPage -benchtime 20x -count 3 ./bench/console
//
// (scripts/chromium installs Chromium; without it the paint figures are
// skipped) and STAMP_TEST_POSTGRES set for the PostgreSQL store.
package console
