package auth

import (
	"crypto/rand"
	"fmt"
	"io"
)

const alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlphanumeric returns n characters drawn uniformly from [A-Za-z0-9]
// using crypto/rand (rejection sampling, so there is no modulo bias).
func randomAlphanumeric(n int) (string, error) {
	return randomAlphanumericFrom(rand.Reader, n)
}

func randomAlphanumericFrom(r io.Reader, n int) (string, error) {
	const limit = 256 - 256%len(alphanumeric) // 248: largest multiple of 62 below 256
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphanumeric[int(b)%len(alphanumeric)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}
