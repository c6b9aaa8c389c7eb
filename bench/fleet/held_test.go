package main

import (
	"net"
	"os"
	"slices"
	"testing"
	"time"
)

// TestReadHeld reads what this test process holds, before and after it
// leaves a connection its peer closed open: one more CLOSE-WAIT socket.
func TestReadHeld(t *testing.T) {
	before, err := readHeld(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before.fds < 3 || before.threads < 1 || before.rssKiB <= 0 {
		t.Errorf("got %+v, want at least the 3 standard files, a thread and some memory", before)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	peer.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		after, err := readHeld(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after.closeWait == before.closeWait+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CLOSE-WAIT sockets: got %d, want %d once the peer closed", after.closeWait, before.closeWait+1)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExcess(t *testing.T) {
	atRest := held{fds: 20, threads: 8, closeWait: 0}
	m := margins{fds: 16, threads: 16, closeWait: 0}
	for _, tc := range []struct {
		name  string
		after held
		want  []string
	}{
		{"as at rest", atRest, nil},
		{"within the margins", held{fds: 36, threads: 24}, nil},
		{"a file more", held{fds: 37, threads: 8}, []string{"open files: 37 after the deletes, 20 before the creates (margin 16)"}},
		{"all three", held{fds: 215, threads: 211, closeWait: 192}, []string{
			"open files: 215 after the deletes, 20 before the creates (margin 16)",
			"threads: 211 after the deletes, 8 before the creates (margin 16)",
			"CLOSE-WAIT sockets: 192 after the deletes, 0 before the creates (margin 0)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := excess(atRest, tc.after, m); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
