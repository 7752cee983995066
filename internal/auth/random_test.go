package auth

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestRandomAlphanumericFrom(t *testing.T) {
	// Bytes >= 248 are rejected (no modulo bias); others map to alphabet[b%62].
	src := bytes.NewReader(append([]byte{255, 248, 0, 61, 62, 247}, make([]byte, 64)...))
	got, err := randomAlphanumericFrom(src, 4)
	require.NoError(t, err)
	assert.Equal(t, "A9A9", got)

	_, err = randomAlphanumericFrom(errReader{}, 4)
	require.Error(t, err)

	_, err = randomAlphanumericFrom(bytes.NewReader([]byte{1, 2}), 4)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestRandomAlphanumericCoversAlphabet(t *testing.T) {
	s, err := randomAlphanumeric(20000)
	require.NoError(t, err)
	counts := map[rune]int{}
	for _, r := range s {
		counts[r]++
	}
	assert.Len(t, counts, len(alphanumeric), "every character should appear in 20000 draws")
	for r, n := range counts {
		assert.Contains(t, alphanumeric, string(r))
		assert.Greater(t, n, 150, "char %q drawn %d times, want about 322", r, n)
	}
}
