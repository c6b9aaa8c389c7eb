package httpapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// TestOversizedBodyRefusedBeforeItIsSent sends only the headers of a
// request whose Content-Length is over its route's limit, with Expect:
// 100-continue as curl sends for large bodies: the server must answer 413
// at once, not 100 Continue (after which the client sends the whole body
// and, cut off by the server, never sees the 413).
func TestOversizedBodyRefusedBeforeItIsSent(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxBodyBytes = 1 << 10; c.MaxBundleBytes = 8 << 10 })
	for _, tc := range []struct {
		path string
		size int
		want string
	}{
		{"/v1/blueprints", 8<<10 + 1, "request body is over the 8 KiB limit"},
		{"/v1/tenants", 1<<10 + 1, "request body is over the 1 KiB limit"},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/v1/"), func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: stamp\r\nAuthorization: Bearer %s\r\n"+
				"Content-Type: application/octet-stream\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
				tc.path, env.token, tc.size)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer before the body was sent: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("got %s %q, want 413 before the body is sent", resp.Status, body)
			}
			var eb errorBody
			if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code != stamp.ETOOLARGE || eb.Error.Message != tc.want {
				t.Errorf("got body %q, want %s %q", body, stamp.ETOOLARGE, tc.want)
			}
		})
	}
}
