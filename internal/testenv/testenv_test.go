package testenv

import (
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&b, "%d\n", i)
		}()
	}
	wg.Wait()
	assert.Len(t, b.String(), 20)
}

func TestServerPorts(t *testing.T) {
	h, g := ServerPorts(t)
	assert.NotEqual(t, h, g)
	for _, p := range []int{h, h + 1, g} {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		require.NoError(t, err, "port %d must be free", p)
		ln.Close()
	}
}
