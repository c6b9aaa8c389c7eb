// Package storeread benchmarks API reads of one tenant (GET
// /v1/tenants/NAME) against each store holding 10,000 tenants: the whole
// path a client sees, bearer-token lookup included, over real HTTP on
// loopback. Run it with
//
//	go test -run '^$' -bench GetTenantAPI ./bench/storeread
//
// and STAMP_TEST_POSTGRES set to a superuser URL (scripts/postgres start
// prints one) for the PostgreSQL figure.
package storeread
