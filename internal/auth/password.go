package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2 parameters used for new hashes: the argon2 crate 0.5 defaults that
// upstream's password-auth uses (argon2id, v=19, m=19456 KiB, t=2, p=1,
// 32-byte output, 16-byte salt).
const (
	argonVersion = argon2.Version // 0x13 = 19
	argonMemory  = 19456
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Limits on parameters read from stored PHC strings, so that a corrupt or
// hostile row cannot make a login allocate gigabytes or spin for minutes.
const (
	maxArgonMemory  = 1 << 20 // KiB, i.e. 1 GiB
	maxArgonTime    = 64
	maxArgonThreads = 255
	minArgonKeyLen  = 4
	maxArgonKeyLen  = 1024
	minArgonSaltLen = 8
	maxArgonSaltLen = 1024
	maxPHCLen       = 4096
)

// RecoveryCodeLen is the length of a recovery code.
const RecoveryCodeLen = 16

// ErrInvalidHash means a stored password hash is not a supported argon2 PHC string.
var ErrInvalidHash = errors.New("invalid password hash")

// dummyPHC is an argon2id hash (default parameters) of a random password
// nobody knows; DummyVerify checks against it.
const dummyPHC = "$argon2id$v=19$m=19456,t=2,p=1$R08wNGZTRWthV0FtOXhDdA$aIEW5ClVKIkooDP5VUryt9kO+bJdMsUxsjtBpqLSz7A"

var b64 = base64.RawStdEncoding

// HashPassword hashes pw with argon2id and a 16-byte random salt and returns
// the PHC string $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	return hashPasswordWithSalt(pw, salt), nil
}

func hashPasswordWithSalt(pw string, salt []byte) string {
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argonVersion, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// VerifyPassword reports whether pw matches the PHC string phc. Any argon2id
// or argon2i v=19 hash is accepted, with the parameters taken from the string
// (within sane limits). A malformed or unsupported hash gives an error
// wrapping ErrInvalidHash; a wrong password gives (false, nil).
func VerifyPassword(phc, pw string) (bool, error) {
	h, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	return h.verify(pw), nil
}

// DummyVerify costs the same as VerifyPassword on a default-parameter hash
// and always fails. Call it for unknown users so that response timing does
// not reveal whether a username exists.
func DummyVerify(pw string) {
	h, err := parsePHC(dummyPHC)
	if err != nil {
		return // unreachable: dummyPHC is a constant covered by tests
	}
	_ = h.verify(pw)
}

// NewRecoveryCodes returns n random recovery codes (16 alphanumeric chars
// each) and their argon2id PHC hashes, in the same order.
func NewRecoveryCodes(n int) (plain, hashed []string, err error) {
	if n < 1 || n > 100 {
		return nil, nil, fmt.Errorf("new recovery codes: count %d out of range [1, 100]", n)
	}
	plain = make([]string, 0, n)
	hashed = make([]string, 0, n)
	for range n {
		code, err := randomAlphanumeric(RecoveryCodeLen)
		if err != nil {
			return nil, nil, fmt.Errorf("new recovery codes: %w", err)
		}
		h, err := HashPassword(code)
		if err != nil {
			return nil, nil, fmt.Errorf("new recovery codes: %w", err)
		}
		plain = append(plain, code)
		hashed = append(hashed, h)
	}
	return plain, hashed, nil
}

type phcHash struct {
	variant string // "argon2id" or "argon2i"
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func (h *phcHash) verify(pw string) bool {
	var got []byte
	switch h.variant {
	case "argon2id":
		got = argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	default:
		got = argon2.Key([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	}
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

func invalidHash(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidHash, fmt.Sprintf(format, args...))
}

// parsePHC parses $<variant>$v=<ver>$<params>$<salt>$<hash>, where params
// holds m, t and p exactly once each, in any order.
func parsePHC(s string) (*phcHash, error) {
	if len(s) > maxPHCLen {
		return nil, invalidHash("longer than %d bytes", maxPHCLen)
	}
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" {
		return nil, invalidHash("want $<alg>$v=<n>$<params>$<salt>$<hash>")
	}
	h := &phcHash{variant: fields[1]}
	switch h.variant {
	case "argon2id", "argon2i":
	case "argon2d":
		return nil, invalidHash("argon2d is not supported")
	default:
		return nil, invalidHash("unsupported algorithm %q", h.variant)
	}
	ver, ok := strings.CutPrefix(fields[2], "v=")
	if !ok {
		return nil, invalidHash("missing version")
	}
	if v, err := strconv.ParseUint(ver, 10, 32); err != nil || v != argonVersion {
		return nil, invalidHash("unsupported version %q", ver)
	}
	var seenM, seenT, seenP bool
	for _, kv := range strings.Split(fields[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, invalidHash("malformed parameter %q", kv)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, invalidHash("parameter %s: not a number", k)
		}
		switch k {
		case "m":
			if seenM || n > maxArgonMemory {
				return nil, invalidHash("bad m")
			}
			seenM, h.memory = true, uint32(n)
		case "t":
			if seenT || n < 1 || n > maxArgonTime {
				return nil, invalidHash("bad t")
			}
			seenT, h.time = true, uint32(n)
		case "p":
			if seenP || n < 1 || n > maxArgonThreads {
				return nil, invalidHash("bad p")
			}
			seenP, h.threads = true, uint8(n)
		default:
			return nil, invalidHash("unsupported parameter %q", k)
		}
	}
	if !seenM || !seenT || !seenP {
		return nil, invalidHash("m, t and p are required")
	}
	if h.memory < 8*uint32(h.threads) {
		return nil, invalidHash("m must be at least 8*p")
	}
	var err error
	if h.salt, err = decodePHCBase64(fields[4]); err != nil {
		return nil, invalidHash("salt: %v", err)
	}
	if len(h.salt) < minArgonSaltLen || len(h.salt) > maxArgonSaltLen {
		return nil, invalidHash("salt length %d out of range", len(h.salt))
	}
	if h.key, err = decodePHCBase64(fields[5]); err != nil {
		return nil, invalidHash("hash: %v", err)
	}
	if len(h.key) < minArgonKeyLen || len(h.key) > maxArgonKeyLen {
		return nil, invalidHash("hash length %d out of range", len(h.key))
	}
	return h, nil
}

// decodePHCBase64 decodes the PHC "B64" encoding: standard alphabet without
// padding. Trailing padding is tolerated.
func decodePHCBase64(s string) ([]byte, error) {
	return b64.DecodeString(strings.TrimRight(s, "="))
}
