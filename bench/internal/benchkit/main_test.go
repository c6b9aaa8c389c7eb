package benchkit

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary, started by a test, act as one of the
// helper processes below instead of running the tests.
const helperEnv = "BENCHKIT_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "sleeper": // a tenant process: waits to be killed
		time.Sleep(time.Hour)
		os.Exit(0)
	case "stubborn": // ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Hour)
		os.Exit(0)
	case "server":
		os.Exit(fakeServer(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// helper returns a command that runs the test binary as helper kind,
// with the extra environment.
func helper(kind string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), helperEnv+"="+kind), env...)
	return cmd
}

// fakeServer stands in for `stamp server` where StartServer's tests need
// one: it takes the same --data, --listen, --router-listen,
// --delete-grace and --mass-change-limit flags,
// writes an admin token, starts one tenant process carrying the local
// driver's STAMP_INSTANCE marker (which outlives it, as a real tenant
// does) and answers 200 on /readyz. With --exit it fails at once instead.
func fakeServer(args []string) int {
	if len(args) == 0 || args[0] != "server" {
		fmt.Fprintf(os.Stderr, "fake server: want the server command, got %q\n", args)
		return 2
	}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	data := fs.String("data", "", "")
	listen := fs.String("listen", "", "")
	fs.String("router-listen", "", "")
	fs.Duration("delete-grace", 0, "")
	fs.Int("mass-change-limit", 0, "")
	exit := fs.Bool("exit", false, "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *exit {
		fmt.Println("fake server gives up")
		return 1
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		fmt.Println(err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(*data, "admin.token"), []byte("token\n"), 0o600); err != nil {
		fmt.Println(err)
		return 1
	}
	tenant := helper("sleeper", "STAMP_INSTANCE="+filepath.Join(*data, "local")+"|acme/web-0@1.0.0")
	if err := tenant.Start(); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("fake server up")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(http.ResponseWriter, *http.Request) {})
	fmt.Println(http.ListenAndServe(*listen, mux))
	return 1
}
