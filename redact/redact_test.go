package redact

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stamphq/stamp"
)

var cases = []struct {
	name   string
	in     string
	values []string
	want   string
}{
	{"no values", "session=abcdef\n", nil, "session=abcdef\n"},
	{"once", "session=s3cr3t-key;\n", []string{"s3cr3t-key"}, "session=[redacted];\n"},
	{"at both ends", "s3cr3t-key and s3cr3t-key", []string{"s3cr3t-key"}, "[redacted] and [redacted]"},
	{"back to back", "s3cr3ts3cr3t", []string{"s3cr3t"}, "[redacted][redacted]"},
	{"two values", "a=alpha-1 b=beta-22\n", []string{"alpha-1", "beta-22"}, "a=[redacted] b=[redacted]\n"},
	{"the longest wins", "pw=abcdefgh", []string{"abcd", "abcdefgh"}, "pw=[redacted]"},
	{"prefix only", "pw=abcd", []string{"abcdefgh"}, "pw=abcd"},
	{"short values left alone", "pin abc at abc", []string{"abc"}, "pin abc at abc"},
	{"empty value", "text", []string{""}, "text"},
	{"value in a URL", "postgres://u:0f1e2d3c@db/x\n", []string{"0f1e2d3c"}, "postgres://u:[redacted]@db/x\n"},
	{"value holding a newline", "key:\nline1\nline2\n", []string{"line1\nline2"}, "key:\n[redacted]\n"},
	{"a tail inside a value holding newlines", "line2\nline3\nmore\n", []string{"line1\nline2\nline3"}, "[redacted]\n[redacted]\nmore\n"},
	{"many lines", strings.Repeat("ok line\nkey=s3cr3t-key\n", 50), []string{"s3cr3t-key"}, strings.Repeat("ok line\nkey=[redacted]\n", 50)},
	{"near miss at the end", "s3cr3t-ke", []string{"s3cr3t-key"}, "s3cr3t-ke"},
}

func TestReader(t *testing.T) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			readers := map[string]func() io.Reader{
				"whole":    func() io.Reader { return strings.NewReader(tt.in) },
				"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(tt.in)) },
				"halves":   func() io.Reader { return iotest.HalfReader(strings.NewReader(tt.in)) },
				"data+EOF": func() io.Reader { return iotest.DataErrReader(strings.NewReader(tt.in)) },
			}
			for how, src := range readers {
				got, err := io.ReadAll(NewReader(src(), tt.values))
				if err != nil || string(got) != tt.want {
					t.Errorf("%s: got %q, %v; want %q", how, got, err, tt.want)
				}
			}
			// Every split point of the input into two reads.
			for cut := range len(tt.in) {
				src := io.MultiReader(strings.NewReader(tt.in[:cut]), strings.NewReader(tt.in[cut:]))
				if got, _ := io.ReadAll(NewReader(src, tt.values)); string(got) != tt.want {
					t.Errorf("cut at %d: got %q; want %q", cut, got, tt.want)
				}
			}
		})
	}
}

func TestReaderPassesOnErrors(t *testing.T) {
	boom := errors.New("boom")
	src := io.MultiReader(strings.NewReader("key s3cr3t-"), iotest.ErrReader(boom))
	got, err := io.ReadAll(NewReader(src, []string{"s3cr3t-key"}))
	if !errors.Is(err, boom) || string(got) != "key s3cr3t-" {
		t.Errorf("got %q, %v; want what came before the error, then the error", got, err)
	}
}

// A follower sees a whole line as soon as it is written: only the part
// of a line after its last newline is held back.
func TestReaderGivesWholeLinesAtOnce(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	r := NewReader(pr, []string{"a-rather-long-secret-value"})
	go pw.Write([]byte("listening on :8080\nkey=a-rather-long-secret-value\nstill"))
	got := make(chan string)
	go func() {
		var b strings.Builder
		buf := make([]byte, 64)
		for !strings.HasSuffix(b.String(), "[redacted]\n") {
			n, err := r.Read(buf)
			if err != nil {
				break
			}
			b.Write(buf[:n])
		}
		got <- b.String()
	}()
	select {
	case s := <-got:
		if s != "listening on :8080\nkey=[redacted]\n" {
			t.Errorf("got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("whole lines were held back waiting for more output")
	}
}

// fakeLogs is a stamp.LogReader that serves fixed output per tenant.
type fakeLogs map[string]string

func (f fakeLogs) Logs(_ context.Context, tenant, _ string, _ stamp.LogOptions) (io.ReadCloser, error) {
	out, ok := f[tenant]
	if !ok {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "tenant %q does not exist", tenant)
	}
	return io.NopCloser(strings.NewReader(out)), nil
}

// fakeSecrets is a SecretSource of fixed secrets, or failing with err.
type fakeSecrets struct {
	m   map[string]map[string]string
	err error
}

func (f *fakeSecrets) Secrets(_ context.Context, tenant string) (map[string]string, error) {
	return f.m[tenant], f.err
}

func TestLogs(t *testing.T) {
	src := &fakeSecrets{m: map[string]map[string]string{
		"acme":   {"session_key": "acme-session-key", "db.main.password": "acme-db-pw"},
		"globex": {"session_key": "globex-session-key"},
	}}
	logs := New(fakeLogs{
		"acme":   "start acme-session-key acme-db-pw globex-session-key\n",
		"globex": "start globex-session-key\n",
	}, src)
	tests := []struct{ tenant, want string }{
		// A tenant's own secrets are hidden; another's are not its to know.
		{"acme", "start [redacted] [redacted] globex-session-key\n"},
		{"globex", "start [redacted]\n"},
	}
	for _, tt := range tests {
		rc, err := logs.Logs(context.Background(), tt.tenant, "web", stamp.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != tt.want {
			t.Errorf("logs of %s: got %q, %v; want %q", tt.tenant, got, err, tt.want)
		}
	}
	if _, err := logs.Logs(context.Background(), "initech", "web", stamp.LogOptions{}); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("logs of an unknown tenant: %v; want ENOTFOUND", err)
	}
	src.err = errors.New("store down")
	if rc, err := logs.Logs(context.Background(), "acme", "web", stamp.LogOptions{}); err == nil {
		rc.Close()
		t.Error("logs were given while the secrets to hide could not be read")
	}
}

// A followed stream reads the secrets again, so one added meanwhile is
// hidden too.
func TestFollowedLogsTakeNewSecrets(t *testing.T) {
	src := &fakeSecrets{m: map[string]map[string]string{"acme": {"old": "old-secret"}}}
	pr, pw := io.Pipe()
	defer pw.Close()
	logs := New(pipeLogs{pr}, src)
	rc, err := logs.Logs(context.Background(), "acme", "web", stamp.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	src.m["acme"] = map[string]string{"old": "old-secret", "new": "new-secret"}
	rc.(*reader).refreshed = time.Time{} // as if refreshEvery had passed
	go pw.Write([]byte("old-secret new-secret\n"))
	buf := make([]byte, 100)
	n, err := rc.Read(buf)
	if err != nil || string(buf[:n]) != "[redacted] [redacted]\n" {
		t.Errorf("got %q, %v", buf[:n], err)
	}
}

// pipeLogs is a stamp.LogReader whose output is one pipe.
type pipeLogs struct{ r *io.PipeReader }

func (p pipeLogs) Logs(context.Context, string, string, stamp.LogOptions) (io.ReadCloser, error) {
	return p.r, nil
}

// BenchmarkReader redacts what the monitor reads for an incident at
// most: 4 MiB of log lines, a few secrets.
func BenchmarkReader(b *testing.B) {
	line := "2026-01-02T15:04:05Z INFO request GET /api/invoices 200 1.2ms user=admin@example.com\n"
	in := strings.Repeat(line, (4<<20)/len(line))
	values := []string{"Zm9vYmFyYmF6cXV4cXV1eC1zZXNzaW9uLWtleQ", "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978", "admin-token-1234"}
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := io.Copy(io.Discard, NewReader(strings.NewReader(in), values)); err != nil {
			b.Fatal(err)
		}
	}
}
