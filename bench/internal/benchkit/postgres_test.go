package benchkit

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestCreateDropDatabase(t *testing.T) {
	admin := os.Getenv("STAMP_TEST_POSTGRES")
	if admin == "" {
		t.Skip("STAMP_TEST_POSTGRES is not set: run scripts/postgres start DIR and export the URL it prints")
	}
	ctx := context.Background()
	name := fmt.Sprintf("benchkit_test_%d", os.Getpid())
	url, err := CreateDatabase(ctx, admin, name)
	t.Cleanup(func() { _ = DropDatabase(ctx, admin, name) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(url, "/"+name) {
		t.Errorf("URL %q does not name database %s", url, name)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to the new database: %v", err)
	}
	var got string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&got); err != nil || got != name {
		t.Errorf("current_database(): got %q, %v; want %s", got, err, name)
	}
	// Dropping ends the connection still open to it.
	if err := DropDatabase(ctx, admin, name); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if _, err := CreateDatabase(ctx, admin, name); err != nil {
		t.Errorf("create it again after the drop: %v", err)
	}
	if err := DropDatabase(ctx, admin, name); err != nil {
		t.Fatal(err)
	}
	if err := DropDatabase(ctx, admin, name); err != nil {
		t.Errorf("drop a missing database: %v", err)
	}
}
