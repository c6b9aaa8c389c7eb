package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cutWithin reports how long the server took to close conn while send
// wrote to it, one byte at a time every 100ms, for at most 15s; ok is
// false when it did not close it.
func cutWithin(t *testing.T, conn net.Conn, send string) (took time.Duration, ok bool) {
	t.Helper()
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		close(closed)
	}()
	start := time.Now()
	for i := 0; time.Since(start) < 15*time.Second; i++ {
		if i < len(send) {
			if _, err := conn.Write([]byte{send[i]}); err != nil {
				return time.Since(start), true
			}
		}
		select {
		case <-closed:
			return time.Since(start), true
		case <-time.After(100 * time.Millisecond):
		}
	}
	return time.Since(start), false
}

// TestSlowClientsAreCutOff plays slowloris against the API and the
// router: headers sent a byte at a time, a kept-alive connection whose
// next request never comes, an API request body sent a byte at a time. Each connection must be closed once its timeout has passed.
func TestSlowClientsAreCutOff(t *testing.T) {
	s := startStampServer(t, "--read-header-timeout", "1s", "--idle-timeout", "1s", "--request-timeout", "2s")
	token, err := os.ReadFile(filepath.Join(s.data, adminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	slowHeaders := "GET /healthz HTTP/1.1\r\nHost: acme.localhost\r\nUser-Agent: slowloris\r\nX-A: " + strings.Repeat("a", 200) + "\r\n\r\n"
	bodyHead := "POST /v1/tenants HTTP/1.1\r\nHost: stamp\r\nAuthorization: Bearer " + strings.TrimSpace(string(token)) +
		"\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
	slowBody := `{"name":"` + strings.Repeat("a", 489) + `"}`
	for _, tc := range []struct {
		name, addr string
		first      bool   // send a whole request and read its answer first
		head       string // sent at once before the rest
		send       string
		limit      time.Duration
	}{
		{"API headers byte by byte", s.api, false, "", slowHeaders, time.Second},
		{"router headers byte by byte", s.router, false, "", slowHeaders, time.Second},
		{"API idle after a request", s.api, true, "", "", time.Second},
		{"router idle after a request", s.router, true, "", "", time.Second},
		{"API body byte by byte", s.api, false, bodyHead, slowBody, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if tc.first {
				fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: acme.localhost\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("first request: %v", err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if _, err := io.WriteString(conn, tc.head); err != nil {
				t.Fatal(err)
			}
			took, ok := cutWithin(t, conn, tc.send)
			if !ok {
				t.Fatalf("connection still open after %s, want it closed after about %s", took, tc.limit)
			}
			if took < tc.limit-200*time.Millisecond || took > tc.limit+3*time.Second {
				t.Errorf("connection closed after %s, want about %s", took, tc.limit)
			}
		})
	}

	// A push may take longer than the request timeout: its body comes in
	// slowly and still gets its answer (here that it is no bundle).
	t.Run("push slower than the request timeout", func(t *testing.T) {
		conn, err := net.Dial("tcp", s.api)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		body := strings.Repeat("x", 30)
		fmt.Fprintf(conn, "POST /v1/blueprints HTTP/1.1\r\nHost: stamp\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/gzip\r\nContent-Length: %d\r\n\r\n", strings.TrimSpace(string(token)), len(body))
		for i := range len(body) {
			if _, err := io.WriteString(conn, body[i:i+1]); err != nil {
				t.Fatalf("push cut after %d of %d bytes: %v", i, len(body), err)
			}
			time.Sleep(100 * time.Millisecond) // 3s in all, past the 2s request timeout
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("slow push got no answer: %v", err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || !strings.Contains(string(answer), "gzip") {
			t.Errorf("slow push: got %s %q, want a 4xx saying the body is no gzipped archive", resp.Status, answer)
		}
	})

	// A followed event stream outlives the request timeout and still
	// delivers.
	req, err := http.NewRequest("GET", "http://"+s.api+"/v1/events?follow=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(3 * time.Second) // past the request timeout, on purpose
	s.mustCLI("blueprint", "push", blueprintDir(t))
	got := make(chan string, 1)
	go func() {
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				got <- "stream ended: " + err.Error()
				return
			}
			if strings.HasPrefix(line, "event: blueprint.pushed") {
				got <- line
				return
			}
		}
	}()
	select {
	case line := <-got:
		if !strings.HasPrefix(line, "event: blueprint.pushed") {
			t.Errorf("followed events past the request timeout: %s", line)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("followed events: no blueprint.pushed within 10s of the push")
	}
}

// TestStoppedInstanceGets504 stops a tenant's process with SIGSTOP: it
// still accepts connections but answers nothing. The router must give up
// after the response timeout (here from STAMP_RESPONSE_TIMEOUT) with a
// 504 that says why.
func TestStoppedInstanceGets504(t *testing.T) {
	t.Setenv("STAMP_RESPONSE_TIMEOUT", "1s")
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	procs := tenantProcesses(t, s.data)
	if len(procs) != 1 {
		t.Fatalf("%d processes, want 1: %v", len(procs), procs)
	}
	if code, body := s.do("GET", "acme", "/healthz", ""); code != http.StatusOK {
		t.Fatalf("before the stop: got %d %q, want 200", code, body)
	}
	if err := syscall.Kill(procs[0].pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(procs[0].pid, syscall.SIGCONT) })

	start := time.Now()
	code, body := s.do("GET", "acme", "/healthz", "")
	took := time.Since(start)
	want := `{"error":{"code":"unavailable","message":"tenant acme did not answer within 1s (the router's response timeout)"}}` + "\n"
	if code != http.StatusGatewayTimeout || body != want {
		t.Errorf("stopped instance: got %d %q, want 504 %q", code, body, want)
	}
	if took < time.Second || took > 4*time.Second {
		t.Errorf("stopped instance: answered after %s, want about 1s", took)
	}
}

func TestTimeoutProblems(t *testing.T) {
	good := httpTimeouts{ReadHeader: time.Second, Idle: time.Second, Request: time.Second, Response: time.Second}
	for _, tc := range []struct {
		name string
		t    httpTimeouts
		api  bool
		want []string
	}{
		{"all set", good, true, nil},
		{"router ignores the request timeout", httpTimeouts{ReadHeader: time.Second, Idle: time.Second, Response: time.Second}, false, nil},
		{"none set, API", httpTimeouts{}, true, []string{
			"--read-header-timeout 0s: want a positive duration", "--idle-timeout 0s: want a positive duration",
			"--response-timeout 0s: want a positive duration", "--request-timeout 0s: want a positive duration"}},
		{"negative response timeout", httpTimeouts{ReadHeader: time.Second, Idle: time.Second, Response: -time.Second}, false, []string{
			"--response-timeout -1s: want a positive duration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.t.problems(tc.api)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
