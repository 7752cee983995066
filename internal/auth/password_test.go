package auth

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Vectors produced by the reference implementation (Debian package argon2,
// the phc-winner-argon2 CLI), e.g.
//
//	echo -n password | argon2 somesaltsomesalt -id -t 2 -k 19456 -p 1 -l 32 -e
//
// The m=65536 argon2id/argon2i "password"/"somesalt" pair is also in the
// reference implementation's own test suite.
var referenceVectors = []struct {
	name string
	phc  string
	pw   string
}{
	{
		name: "argon2id upstream default params",
		phc:  "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
		pw:   "password",
	},
	{
		name: "argon2id reference test suite m=2^16",
		phc:  "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		pw:   "password",
	},
	{
		name: "argon2i reference test suite m=2^16",
		phc:  "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
		pw:   "password",
	},
	{
		name: "argon2i p=2 24-byte key",
		phc:  "$argon2i$v=19$m=4096,t=3,p=2$MDEyMzQ1Njc4OWFiY2RlZg$pLblrUG48Pxi1mBK6ob4EXvB2tzw3zjY",
		pw:   "correct horse",
	},
	{
		name: "argon2id p=4 utf-8 password",
		phc:  "$argon2id$v=19$m=8192,t=1,p=4$c2FsdHNhbHRzYWx0c2FsdA$NLOgpNIAbVFnBH/7/JGlbCX2xyIG+QGoPKQWCmIgtnE",
		pw:   "pässwörd",
	},
}

func TestVerifyPasswordReferenceVectors(t *testing.T) {
	for _, v := range referenceVectors {
		t.Run(v.name, func(t *testing.T) {
			ok, err := VerifyPassword(v.phc, v.pw)
			require.NoError(t, err)
			assert.True(t, ok, "got mismatch, want match for the right password")

			ok, err = VerifyPassword(v.phc, v.pw+"x")
			require.NoError(t, err)
			assert.False(t, ok, "got match, want mismatch for a wrong password")
		})
	}
}

func TestHashPasswordMatchesReference(t *testing.T) {
	// Same input as the first reference vector: our encoder must produce the
	// reference PHC string byte for byte.
	got := hashPasswordWithSalt("password", []byte("somesaltsomesalt"))
	assert.Equal(t, referenceVectors[0].phc, got)
}

func TestHashPassword(t *testing.T) {
	h1, err := HashPassword("s3cret")
	require.NoError(t, err)
	h2, err := HashPassword("s3cret")
	require.NoError(t, err)
	assert.NotEqual(t, h1, h2, "random salt must make hashes differ")

	for _, h := range []string{h1, h2} {
		assert.Regexp(t, `^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`, h)
		parsed, err := parsePHC(h)
		require.NoError(t, err)
		assert.Len(t, parsed.salt, 16)
		assert.Len(t, parsed.key, 32)

		ok, err := VerifyPassword(h, "s3cret")
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = VerifyPassword(h, "S3cret")
		require.NoError(t, err)
		assert.False(t, ok)
	}
}

func TestVerifyPasswordParamOrderAndPadding(t *testing.T) {
	v := referenceVectors[0]
	reordered := strings.Replace(v.phc, "m=19456,t=2,p=1", "p=1,t=2,m=19456", 1)
	ok, err := VerifyPassword(reordered, v.pw)
	require.NoError(t, err)
	assert.True(t, ok)

	padded := strings.Replace(v.phc, "$c29tZXNhbHRzb21lc2FsdA$", "$c29tZXNhbHRzb21lc2FsdA==$", 1)
	ok, err = VerifyPassword(padded, v.pw)
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestVerifyPasswordRejectsBadHashes(t *testing.T) {
	salt := "c29tZXNhbHRzb21lc2FsdA"
	key := "K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE"
	mk := func(alg, ver, params, s, k string) string {
		return "$" + alg + "$" + ver + "$" + params + "$" + s + "$" + k
	}
	tests := map[string]string{
		"empty":               "",
		"plain text":          "password",
		"bcrypt":              "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"scrypt":              mk("scrypt", "v=19", "m=19456,t=2,p=1", salt, key),
		"argon2d":             "$argon2d$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$7WlpgAteZBAUBN8fsClBmqjAK0wlZUrln2Vai1gUJKs",
		"too few fields":      "$argon2id$v=19$m=19456,t=2,p=1$" + salt,
		"too many fields":     mk("argon2id", "v=19", "m=19456,t=2,p=1", salt, key) + "$x",
		"leading garbage":     "x" + mk("argon2id", "v=19", "m=19456,t=2,p=1", salt, key),
		"missing version":     "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key + "$",
		"version 16":          mk("argon2id", "v=16", "m=19456,t=2,p=1", salt, key),
		"version garbage":     mk("argon2id", "v=abc", "m=19456,t=2,p=1", salt, key),
		"version key wrong":   mk("argon2id", "x=19", "m=19456,t=2,p=1", salt, key),
		"memory over 1 GiB":   mk("argon2id", "v=19", "m=1048577,t=2,p=1", salt, key),
		"memory huge":         mk("argon2id", "v=19", "m=4294967295,t=2,p=1", salt, key),
		"memory overflow":     mk("argon2id", "v=19", "m=99999999999999,t=2,p=1", salt, key),
		"memory below 8p":     mk("argon2id", "v=19", "m=15,t=2,p=2", salt, key),
		"time zero":           mk("argon2id", "v=19", "m=19456,t=0,p=1", salt, key),
		"time huge":           mk("argon2id", "v=19", "m=19456,t=100000,p=1", salt, key),
		"threads zero":        mk("argon2id", "v=19", "m=19456,t=2,p=0", salt, key),
		"threads 256":         mk("argon2id", "v=19", "m=19456,t=2,p=256", salt, key),
		"negative":            mk("argon2id", "v=19", "m=-1,t=2,p=1", salt, key),
		"not a number":        mk("argon2id", "v=19", "m=lots,t=2,p=1", salt, key),
		"missing m":           mk("argon2id", "v=19", "t=2,p=1", salt, key),
		"missing p":           mk("argon2id", "v=19", "m=19456,t=2", salt, key),
		"duplicate m":         mk("argon2id", "v=19", "m=19456,m=8,t=2,p=1", salt, key),
		"unknown param":       mk("argon2id", "v=19", "m=19456,t=2,p=1,keyid=abc", salt, key),
		"param without value": mk("argon2id", "v=19", "m=19456,t,p=1", salt, key),
		"empty params":        mk("argon2id", "v=19", "", salt, key),
		"bad salt base64":     mk("argon2id", "v=19", "m=19456,t=2,p=1", "!!!!!!!!!!!!", key),
		"short salt":          mk("argon2id", "v=19", "m=19456,t=2,p=1", base64.RawStdEncoding.EncodeToString([]byte("1234567")), key),
		"empty salt":          mk("argon2id", "v=19", "m=19456,t=2,p=1", "", key),
		"bad hash base64":     mk("argon2id", "v=19", "m=19456,t=2,p=1", salt, "@@@@"),
		"short hash":          mk("argon2id", "v=19", "m=19456,t=2,p=1", salt, base64.RawStdEncoding.EncodeToString([]byte("abc"))),
		"empty hash":          mk("argon2id", "v=19", "m=19456,t=2,p=1", salt, ""),
		"url alphabet":        mk("argon2id", "v=19", "m=19456,t=2,p=1", salt, strings.ReplaceAll(key, "+", "-")),
		"too long":            mk("argon2id", "v=19", "m=19456,t=2,p=1", salt, strings.Repeat("A", 5000)),
	}
	for name, phc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, err := VerifyPassword(phc, "password")
			require.ErrorIs(t, err, ErrInvalidHash)
			assert.False(t, ok)
		})
	}
}

func TestDummyVerifyCostsLikeADefaultHash(t *testing.T) {
	// Equal cost follows from equal parameters: the dummy hash must parse and
	// use exactly the parameters of HashPassword.
	h, err := parsePHC(dummyPHC)
	require.NoError(t, err)
	assert.Equal(t, "argon2id", h.variant)
	assert.Equal(t, uint32(argonMemory), h.memory)
	assert.Equal(t, uint32(argonTime), h.time)
	assert.Equal(t, uint8(argonThreads), h.threads)
	assert.Len(t, h.salt, argonSaltLen)
	assert.Len(t, h.key, argonKeyLen)

	fresh, err := HashPassword("x")
	require.NoError(t, err)
	f, err := parsePHC(fresh)
	require.NoError(t, err)
	assert.Equal(t, []any{f.variant, f.memory, f.time, f.threads, len(f.salt), len(f.key)},
		[]any{h.variant, h.memory, h.time, h.threads, len(h.salt), len(h.key)})

	DummyVerify("password") // must not panic
}

func TestNewRecoveryCodes(t *testing.T) {
	plain, hashed, err := NewRecoveryCodes(4)
	require.NoError(t, err)
	require.Len(t, plain, 4)
	require.Len(t, hashed, 4)
	seen := map[string]bool{}
	for i, code := range plain {
		assert.Regexp(t, `^[A-Za-z0-9]{16}$`, code)
		assert.False(t, seen[code], "duplicate code %q", code)
		seen[code] = true
		ok, err := VerifyPassword(hashed[i], code)
		require.NoError(t, err)
		assert.True(t, ok, "hash %d does not match code %d", i, i)
	}
	ok, err := VerifyPassword(hashed[0], plain[1])
	require.NoError(t, err)
	assert.False(t, ok, "hash 0 must not match code 1")

	for _, n := range []int{0, -1, 101} {
		_, _, err := NewRecoveryCodes(n)
		assert.Error(t, err, "n=%d", n)
	}
}
