// Package kafkatest starts an in-process Kafka-protocol broker (franz-go's
// kfake) that librdkafka clients, as upstream's producers and our consumer
// use, can talk to. Only tests import it.
//
// kfake and librdkafka disagree on two details of the wire format, and the
// cluster built here papers over both, outside kfake's storage and
// librdkafka's parsing:
//
//   - Produce: kfake rejects record batches whose PartitionLeaderEpoch is not
//     -1, and librdkafka sends 0. A control hook sets bytes 12..15 of each
//     batch (the leader epoch, outside the CRC, which covers bytes 21 on) to
//     -1 and lets kfake handle the request as usual.
//   - Fetch: for a partition with nothing to return, kfake sends null
//     records where Kafka brokers send empty ones, and librdkafka fails the
//     rest of the response ("invalid MessageSetSize -1") and fetches again
//     later. Each connection's Fetch responses are rewritten with empty
//     records instead.
package kafkatest

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// NewCluster starts a one-broker cluster with the given topics, each with
// partitions partitions, stops it when the test ends and returns it with its
// bootstrap address list.
func NewCluster(tb testing.TB, partitions int32, topics ...string) (*kfake.Cluster, string) {
	tb.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, topics...),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err != nil {
				return nil, err
			}
			return listener{ln}, nil
		}),
	)
	if err != nil {
		tb.Fatalf("kfake: %v", err)
	}
	tb.Cleanup(c.Close)
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if pr, ok := req.(*kmsg.ProduceRequest); ok {
			for i := range pr.Topics {
				for j := range pr.Topics[i].Partitions {
					if recs := pr.Topics[i].Partitions[j].Records; len(recs) >= 16 {
						copy(recs[12:16], []byte{0xff, 0xff, 0xff, 0xff})
					}
				}
			}
		}
		return nil, nil, false
	})
	return c, strings.Join(c.ListenAddrs(), ",")
}

// listener hands kfake connections that rewrite Fetch responses.
type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, fetches: make(map[int32]int16)}, nil
}

// conn is the broker's side of one client connection. Read watches the
// request headers going to kfake (to learn which correlation ids are Fetch
// requests, and their versions); Write gets one whole response frame per
// call from kfake and rewrites those of Fetch requests.
type conn struct {
	net.Conn

	// Request framing, used by Read only.
	hdr  []byte // the current frame's first 12 bytes: size, key, version, correlation id
	skip int    // bytes of the current frame still to pass

	mu      sync.Mutex
	fetches map[int32]int16 // correlation id → Fetch version
}

const fetchKey = int16(1) // kmsg.Fetch

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.watch(p[:n])
	return n, err
}

// watch follows the request frames in b.
func (c *conn) watch(b []byte) {
	for len(b) > 0 {
		if c.skip > 0 {
			k := min(c.skip, len(b))
			c.skip -= k
			b = b[k:]
			continue
		}
		k := min(12-len(c.hdr), len(b))
		c.hdr = append(c.hdr, b[:k]...)
		b = b[k:]
		if len(c.hdr) < 12 {
			return
		}
		size := int(int32(binary.BigEndian.Uint32(c.hdr[0:4])))
		key := int16(binary.BigEndian.Uint16(c.hdr[4:6]))
		version := int16(binary.BigEndian.Uint16(c.hdr[6:8]))
		corr := int32(binary.BigEndian.Uint32(c.hdr[8:12]))
		if key == fetchKey {
			c.mu.Lock()
			c.fetches[corr] = version
			c.mu.Unlock()
		}
		c.skip = max(size-8, 0)
		c.hdr = c.hdr[:0]
	}
}

func (c *conn) Write(p []byte) (int, error) {
	if len(p) < 8 {
		return c.Conn.Write(p)
	}
	corr := int32(binary.BigEndian.Uint32(p[4:8]))
	c.mu.Lock()
	version, isFetch := c.fetches[corr]
	delete(c.fetches, corr)
	c.mu.Unlock()
	if !isFetch {
		return c.Conn.Write(p)
	}
	frame, err := fixFetch(p, version)
	if err != nil {
		return 0, err
	}
	if _, err := c.Conn.Write(frame); err != nil {
		return 0, err
	}
	return len(p), nil
}

// fixFetch returns the Fetch response frame p with empty records in place of
// null ones.
func fixFetch(p []byte, version int16) ([]byte, error) {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = version
	head := 8 // size, correlation id
	if resp.IsFlexible() {
		head++ // the response header's empty tag section
	}
	if err := resp.ReadFrom(p[head:]); err != nil {
		return nil, fmt.Errorf("kafkatest: decode fetch response v%d: %w", version, err)
	}
	changed := false
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if pt := &resp.Topics[i].Partitions[j]; pt.RecordBatches == nil {
				pt.RecordBatches = []byte{}
				changed = true
			}
		}
	}
	if !changed {
		return p, nil
	}
	out := append([]byte(nil), p[:head]...)
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out[0:4], uint32(len(out)-4))
	return out, nil
}
