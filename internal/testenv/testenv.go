// Package testenv holds what several packages' tests share that is not a
// database (package pgtest has those): a goroutine-safe buffer for logs and
// console output, and free local ports. Only tests import it.
package testenv

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
)

// Buffer is a bytes.Buffer that goroutines may write while a test reads it.
// The zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ServerPorts returns an HTTP port whose successor (the metrics port,
// SCOUTER_SERVER_PORT+1) is also free, and a free gRPC port. A port can be
// taken by someone else between this call and its use; tests accept that.
func ServerPorts(t testing.TB) (httpPort, grpcPort int) {
	t.Helper()
	for range 50 {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		p := a.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err != nil {
			a.Close()
			continue
		}
		c, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			a.Close()
			b.Close()
			t.Fatalf("listen: %v", err)
		}
		g := c.Addr().(*net.TCPAddr).Port
		a.Close()
		b.Close()
		c.Close()
		return p, g
	}
	t.Fatal("no free pair of adjacent ports")
	return 0, 0
}
