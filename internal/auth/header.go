package auth

import "strings"

// BearerToken extracts the token from an Authorization header value of the
// form "Bearer <token>" (scheme case-insensitive, surrounding spaces
// trimmed). It rejects an empty token, one longer than MaxTokenLen, and one
// with characters outside printable ASCII or with inner spaces.
func BearerToken(authorization string) (string, bool) {
	const scheme = "bearer "
	h := strings.TrimSpace(authorization)
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(scheme):])
	if tok == "" || len(tok) > MaxTokenLen {
		return "", false
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c > '~' {
			return "", false
		}
	}
	return tok, true
}

// ValidHeaderValue reports whether s is usable as a Username or Password
// header value: non-empty and printable ASCII only (0x20-0x7E).
func ValidHeaderValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return true
}
