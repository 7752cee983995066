package auth

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultDevSecret(t *testing.T) {
	want := make([]byte, 32)
	for i := range want {
		want[i] = byte(31 - i)
	}
	assert.Equal(t, base64.StdEncoding.EncodeToString(want), DefaultDevSecret)

	d := DefaultSecrets()
	for _, b := range [][]byte{d.Access, d.Refresh, d.Bootstrap} {
		assert.Equal(t, []byte(DefaultDevSecret), b, "key is the string's bytes, not base64-decoded")
	}
}

func TestWithDefaultsKeepsSetValues(t *testing.T) {
	s := Secrets{Access: []byte("a")}.WithDefaults()
	assert.Equal(t, []byte("a"), s.Access)
	assert.Equal(t, []byte(DefaultDevSecret), s.Refresh)
	assert.Equal(t, []byte(DefaultDevSecret), s.Bootstrap)
}

func TestValidateSecrets(t *testing.T) {
	strong := func(prefix string) []byte { return []byte(prefix + strings.Repeat("x", MinSecretLen)) }
	def := []byte(DefaultDevSecret)
	tests := []struct {
		name string
		s    Secrets
		want []string // substrings of the problems; empty means clean
	}{
		{"all strong and distinct", Secrets{strong("a"), strong("r"), strong("b")}, nil},
		{"exactly 32 bytes", Secrets{bytes.Repeat([]byte("a"), 32), bytes.Repeat([]byte("r"), 32), bytes.Repeat([]byte("b"), 32)}, nil},
		{"all unset", Secrets{}, []string{EnvAccessSecret + " is unset", EnvRefreshSecret + " is unset", EnvBootstrapSecret + " is unset"}},
		{"all defaults", DefaultSecrets(), []string{EnvAccessSecret + " equals the public default", EnvRefreshSecret + " equals the public default", EnvBootstrapSecret + " equals the public default"}},
		{"one default", Secrets{strong("a"), def, strong("b")}, []string{EnvRefreshSecret + " equals the public default"}},
		{"one unset", Secrets{strong("a"), strong("r"), nil}, []string{EnvBootstrapSecret + " is unset"}},
		{"short", Secrets{[]byte("tiny!"), strong("r"), strong("b")}, []string{EnvAccessSecret + " is shorter than 32 bytes"}},
		{"31 bytes", Secrets{bytes.Repeat([]byte("a"), 31), strong("r"), strong("b")}, []string{EnvAccessSecret + " is shorter than 32 bytes"}},
		{"access equals refresh", Secrets{strong("a"), strong("a"), strong("b")}, []string{EnvAccessSecret + " and " + EnvRefreshSecret + " must differ"}},
		{"refresh equals bootstrap", Secrets{strong("a"), strong("r"), strong("r")}, []string{EnvRefreshSecret + " and " + EnvBootstrapSecret + " must differ"}},
		{"all equal", Secrets{strong("a"), strong("a"), strong("a")}, []string{"must differ", "must differ", "must differ"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// production: refused with every problem listed
			warnings, err := ValidateSecrets(true, tt.s)
			assert.Empty(t, warnings)
			if len(tt.want) == 0 {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrInsecureSecrets)
				for _, w := range tt.want {
					assert.Contains(t, err.Error(), w)
				}
				assert.Equal(t, len(tt.want), strings.Count(err.Error(), ";")+1, "got %q", err.Error())
				for _, v := range [][]byte{tt.s.Access, tt.s.Refresh, tt.s.Bootstrap} {
					if len(v) > 0 {
						assert.NotContains(t, err.Error(), string(v), "secret value leaked into error")
					}
				}
			}

			// development: never refused, the same findings as warnings
			warnings, err = ValidateSecrets(false, tt.s)
			require.NoError(t, err)
			require.Len(t, warnings, len(tt.want))
			for i, w := range tt.want {
				assert.Contains(t, warnings[i], w)
			}
		})
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	s := Secrets{Access: []byte("super-secret-access-value-0123456789"), Refresh: []byte(DefaultDevSecret)}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "secrets", s)
	out := buf.String() + fmt.Sprint(s) + fmt.Sprintf("%v %+v %#v %s", s, s, s, s)
	assert.NotContains(t, out, "super-secret")
	assert.NotContains(t, out, DefaultDevSecret)
	assert.Contains(t, buf.String(), "secrets.access=[REDACTED]")
	assert.Contains(t, buf.String(), "secrets.refresh=default")
	assert.Contains(t, buf.String(), "secrets.bootstrap=unset")
}
