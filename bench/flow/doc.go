// Package flow benchmarks GET /v1/flow, the value stream report, over an
// event log of 1,000,000 events in each store: the time of one report
// and the memory the server takes to make it, through the whole path a
// client sees (real HTTP on loopback, the token checked). Run it with
//
//	go test -run '^$' -bench FlowAPI -benchtime 5x ./bench/flow
//
// and STAMP_TEST_POSTGRES set to a superuser URL (scripts/postgres start
// prints one) for the PostgreSQL figure.
package flow
