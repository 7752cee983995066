package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// DefaultDevSecret is the public, deterministic secret that upstream falls back
// to when a secret env var is unset: the standard base64 encoding of the 32
// bytes 31, 30, ..., 0. The HMAC key is the UTF-8 bytes of this string as-is.
const DefaultDevSecret = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="

// Env var names of the three secrets (wire contract with upstream).
const (
	EnvAccessSecret    = "SCOUTER_ENCRYPT_SECRET"
	EnvRefreshSecret   = "SCOUTER_REFRESH_SECRET"
	EnvBootstrapSecret = "SCOUTER_BOOTSTRAP_KEY"
)

// MinSecretLen is the shortest secret accepted in production mode.
const MinSecretLen = 32

// ErrInsecureSecrets is returned by ValidateSecrets in production mode.
var ErrInsecureSecrets = errors.New("insecure auth secrets")

// Secrets are the three keys used by the server. An empty field means the
// env var was unset.
type Secrets struct {
	Access    []byte // HMAC key of access JWTs (SCOUTER_ENCRYPT_SECRET)
	Refresh   []byte // HMAC key of refresh JWTs (SCOUTER_REFRESH_SECRET)
	Bootstrap []byte // expected x-bootstrap-token value (SCOUTER_BOOTSTRAP_KEY)
}

// DefaultSecrets returns the upstream development defaults: all three keys
// set to DefaultDevSecret.
func DefaultSecrets() Secrets {
	return Secrets{}.WithDefaults()
}

// WithDefaults returns a copy of s in which every empty secret is replaced by
// DefaultDevSecret, as upstream does for unset env vars.
func (s Secrets) WithDefaults() Secrets {
	fill := func(b []byte) []byte {
		if len(b) == 0 {
			return []byte(DefaultDevSecret)
		}
		return append([]byte(nil), b...)
	}
	return Secrets{Access: fill(s.Access), Refresh: fill(s.Refresh), Bootstrap: fill(s.Bootstrap)}
}

// LogValue implements slog.LogValuer so that secrets are never logged.
func (s Secrets) LogValue() slog.Value {
	state := func(b []byte) string {
		switch {
		case len(b) == 0:
			return "unset"
		case string(b) == DefaultDevSecret:
			return "default"
		default:
			return "[REDACTED]"
		}
	}
	return slog.GroupValue(
		slog.String("access", state(s.Access)),
		slog.String("refresh", state(s.Refresh)),
		slog.String("bootstrap", state(s.Bootstrap)),
	)
}

// String redacts the secrets for fmt verbs.
func (s Secrets) String() string { return s.LogValue().String() }

// GoString redacts the secrets for %#v.
func (s Secrets) GoString() string { return "auth.Secrets" + s.String() }

// ValidateSecrets checks the secrets as read from the environment (before or
// after WithDefaults). In production mode every secret must be set, differ from
// DefaultDevSecret, be at least MinSecretLen bytes long and differ from the two
// others; any violation gives an error wrapping ErrInsecureSecrets that lists
// all problems (names only, never values). Outside production nothing is
// refused and the same findings come back as warnings for the caller to log.
func ValidateSecrets(production bool, s Secrets) (warnings []string, err error) {
	named := []struct {
		env string
		val []byte
	}{
		{EnvAccessSecret, s.Access},
		{EnvRefreshSecret, s.Refresh},
		{EnvBootstrapSecret, s.Bootstrap},
	}
	var problems []string
	for _, n := range named {
		switch {
		case len(n.val) == 0:
			problems = append(problems, n.env+" is unset (the public default secret is used)")
		case string(n.val) == DefaultDevSecret:
			problems = append(problems, n.env+" equals the public default secret")
		case len(n.val) < MinSecretLen:
			problems = append(problems, fmt.Sprintf("%s is shorter than %d bytes", n.env, MinSecretLen))
		}
	}
	for i := range named {
		for j := i + 1; j < len(named); j++ {
			a, b := named[i].val, named[j].val
			if isDefaultOrEmpty(a) && isDefaultOrEmpty(b) {
				continue // already reported as unset/default above
			}
			if string(a) == string(b) {
				problems = append(problems, named[i].env+" and "+named[j].env+" must differ")
			}
		}
	}
	if len(problems) == 0 {
		return nil, nil
	}
	if production {
		return nil, fmt.Errorf("%w: %s", ErrInsecureSecrets, strings.Join(problems, "; "))
	}
	return problems, nil
}

func isDefaultOrEmpty(b []byte) bool { return len(b) == 0 || string(b) == DefaultDevSecret }
