// Command app is the process the local driver's tests run. Its first
// argument picks what it does:
//
//	serve            serve HTTP on $HOST:$PORT: /healthz, /env (its environment),
//	                 /pid, POST /bind (take a new environment), POST /bind-fail
//	                 (answer 500), and what a tenant may do: /id, /read, /write,
//	                 /connect, /alloc (hold more memory)
//	serve-any        serve on every address, not $HOST
//	serve-on ADDR    serve on ADDR (host:port), whatever $HOST and $PORT say
//	serve-child      serve, and start a child process in its session
//	ignore-term      serve, ignoring SIGTERM
//	crash            print a line and exit with status 2
//	sleep D          sleep for duration D, then exit 0
//	fail N           print N numbered lines and exit with status 3
//	append FILE [D]  append a line to FILE, sleep D (default 0), print "appended"
//	spew N           serve, printing numbered lines of 1 KiB ("line 1 ...") at
//	                 N KiB a second
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: app MODE [ARGS]")
		os.Exit(64)
	}
	switch mode, args := os.Args[1], os.Args[2:]; mode {
	case "serve":
		serve()
	case "serve-on":
		host, port, err := net.SplitHostPort(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(64)
		}
		// serve reads the address from the environment; /env still shows
		// what the driver gave.
		listenHost, listenPort = host, port
		serve()
	case "serve-any":
		os.Setenv("HOST", "") // all addresses, against the driver's advice
		serve()
	case "serve-child":
		child := exec.Command(os.Args[0], "sleep", "1h")
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("child %d\n", child.Process.Pid)
		serve()
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		serve()
	case "spew":
		n, _ := strconv.Atoi(args[0])
		go spew(n)
		serve()
	case "crash":
		fmt.Println("crashing")
		os.Exit(2)
	case "sleep":
		time.Sleep(duration(args, 0))
	case "fail":
		n, _ := strconv.Atoi(args[0])
		for i := 1; i <= n; i++ {
			fmt.Printf("line %d\n", i)
		}
		os.Exit(3)
	case "append":
		f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintf(f, "ran %d\n", os.Getpid())
		f.Close()
		time.Sleep(duration(args, 1))
		fmt.Println("appended")
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", mode)
		os.Exit(64)
	}
}

// spew prints kib lines of 1 KiB a second, in ten bursts, numbered from 1.
func spew(kib int) {
	line := 0
	for range time.Tick(100 * time.Millisecond) {
		for range max(kib/10, 1) {
			line++
			head := fmt.Sprintf("line %d ", line)
			fmt.Println(head + strings.Repeat("x", 1023-len(head)))
		}
	}
}

func duration(args []string, i int) time.Duration {
	if len(args) <= i {
		return 0
	}
	d, err := time.ParseDuration(args[i])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(64)
	}
	return d
}

// listenHost and listenPort, when set (serve-on), are where serve
// listens instead of $HOST:$PORT.
var listenHost, listenPort string

func serve() {
	host, port := os.Getenv("HOST"), os.Getenv("PORT")
	if listenPort != "" {
		host, port = listenHost, listenPort
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("serving on %s\n", l.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, strings.Join(os.Environ(), "\n"))
	})
	mux.HandleFunc("/pid", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, os.Getpid())
	})
	mux.HandleFunc("POST /bind", bind)
	mux.HandleFunc("POST /bind-fail", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("bind %s: 500\n", r.URL.Path)
		http.Error(w, "cannot bind", http.StatusInternalServerError)
	})
	// What a tenant's process may do, tried from inside it: each answers
	// "ok" or the error.
	mux.HandleFunc("/id", func(w http.ResponseWriter, r *http.Request) {
		wd, _ := os.Getwd()
		fmt.Fprintf(w, "uid=%d gid=%d groups=%v wd=%s\n", os.Getuid(), os.Getgid(), must(os.Getgroups()), wd)
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		answer(w, os.WriteFile(r.FormValue("path"), []byte(r.FormValue("data")), 0o600))
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(r.FormValue("path"))
		if err == nil {
			fmt.Fprintf(w, "ok %s", data)
			return
		}
		answer(w, err)
	})
	mux.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.FormValue("mb"))
		for range mb {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			held = append(held, b)
		}
		fmt.Fprintln(w, "ok", len(held))
	})
	mux.HandleFunc("/connect", func(w http.ResponseWriter, r *http.Request) {
		c, err := net.DialTimeout("tcp", r.FormValue("addr"), time.Second)
		if err == nil {
			c.Close()
		}
		answer(w, err)
	})
	fmt.Fprintln(os.Stderr, http.Serve(l, mux))
	os.Exit(1)
}

// bind takes the environment of a bind request ({"env": {...}}) as its
// own, if the request carries $STAMP_BIND_TOKEN as bearer, and prints
// "bind /bind: <status>" for each request.
func bind(w http.ResponseWriter, r *http.Request) {
	status := http.StatusNoContent
	defer func() { fmt.Printf("bind %s: %d\n", r.URL.Path, status) }()
	if r.Header.Get("Authorization") != "Bearer "+os.Getenv("STAMP_BIND_TOKEN") {
		status = http.StatusUnauthorized
		http.Error(w, "wrong token", status)
		return
	}
	var body struct{ Env map[string]string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		status = http.StatusBadRequest
		http.Error(w, err.Error(), status)
		return
	}
	os.Clearenv()
	for k, v := range body.Env {
		os.Setenv(k, v)
	}
	w.WriteHeader(status)
}

// held keeps what /alloc allocated.
var held [][]byte

// answer writes "ok" for a nil err, else the error.
func answer(w http.ResponseWriter, err error) {
	if err != nil {
		fmt.Fprintln(w, err)
		return
	}
	fmt.Fprintln(w, "ok")
}

func must[T any](v T, _ error) T { return v }
