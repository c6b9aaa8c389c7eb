package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		method, path, query, contentType string
		want                             call
	}{
		{"PATCH", "/api/v1/namespaces/kb1-acme", "fieldManager=stamp&force=true", applyPatchType, call{"apply", "kb1-acme", "namespaces"}},
		{"PATCH", "/api/v1/namespaces/kb1-acme/secrets/web-1-0-0", "", applyPatchType, call{"apply", "kb1-acme", "secrets"}},
		{"PATCH", "/apis/apps/v1/namespaces/kb1-acme/deployments/web", "", "application/merge-patch+json", call{"patch", "kb1-acme", "deployments"}},
		{"DELETE", "/apis/apps/v1/namespaces/kb1-acme/deployments", "labelSelector=x", "", call{"deletecollection", "kb1-acme", "deployments"}},
		{"DELETE", "/api/v1/namespaces/kb1-acme", "", "", call{"delete", "kb1-acme", "namespaces"}},
		{"GET", "/api/v1/namespaces/kb1-acme/pods/web-x/log", "tailLines=40", "", call{"get", "kb1-acme", "pods/log"}},
		{"GET", "/apis/batch/v1/jobs", "labelSelector=x", "", call{"list", "", "jobs"}},
		{"GET", "/apis/batch/v1/jobs", "watch=true", "", call{"watch", "", "jobs"}},
		{"GET", "/api/v1/namespaces", "", "", call{"list", "", "namespaces"}},
		{"PUT", "/api/v1/namespaces/kb1-acme/finalize", "", "", call{"update", "kb1-acme", "namespaces/finalize"}},
		{"PUT", "/api/v1/namespaces/kb1-acme/status", "", "", call{"update", "kb1-acme", "namespaces/status"}},
		{"POST", "/api/v1/namespaces/kb1-acme/serviceaccounts", "", "application/json", call{"create", "kb1-acme", "serviceaccounts"}},
		{"GET", "/version", "", "", call{"get", "", ""}},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		if got := classify(tt.method, tt.path, q, tt.contentType); got != tt.want {
			t.Errorf("classify(%s %s?%s): got %+v, want %+v", tt.method, tt.path, tt.query, got, tt.want)
		}
	}
}

func TestCounts(t *testing.T) {
	before := counts{{"a", "apply", "secrets"}: 2, {"a", "get", "pods/log"}: 1}
	after := counts{{"a", "apply", "secrets"}: 5, {"a", "get", "pods/log"}: 1, {"b", "watch", "jobs"}: 1, {"", "deletecollection", "deployments"}: 2}
	d := after.sub(before)
	if got, want := d.writes(), 5; got != want {
		t.Errorf("writes: got %d, want %d", got, want)
	}
	if got := d.reads(); got != 0 {
		t.Errorf("reads: got %d, want 0 (the get was before)", got)
	}
	if got := d.watches(); got != 1 {
		t.Errorf("watches: got %d, want 1", got)
	}
	if got, want := d.only([]string{"a"}).writes(), 3; got != want {
		t.Errorf("writes of tenant a: got %d, want %d", got, want)
	}
	if got, want := after.byVerbResource(), []string{"apply secrets: 5", "deletecollection deployments: 2", "get pods/log: 1", "watch jobs: 1"}; !slices.Equal(got, want) {
		t.Errorf("by verb and resource: got %q, want %q", got, want)
	}
}

// TestProxy sends requests through the proxy to an upstream that
// streams one of its answers: each is forwarded and counted by tenant
// as it comes, the stream's lines arrive before it ends, and a refused
// write is counted as refused.
func TestProxy(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Query().Get("watch") == "true":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"type":"ADDED"}`+"\n")
			w.(http.Flusher).Flush()
			<-release
		case r.Method == http.MethodPost:
			http.Error(w, "conflict", http.StatusConflict)
		default:
			io.WriteString(w, "{}")
		}
	}))
	defer upstream.Close()
	defer close(release) // before the upstream closes: it waits for its handlers
	p, err := startProxy(&rest.Config{Host: upstream.URL}, "kb1")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	path := t.TempDir() + "/kubeconfig"
	if err := p.writeKubeconfig(path); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	base := cfg.Host

	send := func(method, path, contentType string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := send("PATCH", "/api/v1/namespaces/kb1-acme/secrets/web", applyPatchType)
	resp.Body.Close()
	resp = send("POST", "/api/v1/namespaces/kb1-acme/serviceaccounts", "application/json")
	resp.Body.Close()
	resp = send("GET", "/api/v1/namespaces/other/secrets?watch=true", "")
	defer resp.Body.Close()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if !strings.Contains(s, "ADDED") {
			t.Errorf("the watch's first line: got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch's first line did not come through while the watch is open")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.waitQuiet(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	all, failed := p.snapshot()
	want := counts{{"acme", "apply", "secrets"}: 1, {"acme", "create", "serviceaccounts"}: 1, {"", "watch", "secrets"}: 1}
	if len(all) != len(want) {
		t.Errorf("counts: got %v, want %v", all, want)
	}
	for k, n := range want {
		if all[k] != n {
			t.Errorf("count of %+v: got %d, want %d (all: %v)", k, all[k], n, all)
		}
	}
	if got := failed.byVerbResource(); !slices.Equal(got, []string{"create serviceaccounts: 1"}) {
		t.Errorf("refused: got %q, want the create", got)
	}
}
