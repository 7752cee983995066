package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParseToken feeds arbitrary strings to every token entry point: no
// panic, and every failure is exactly one of ErrTokenExpired/ErrTokenInvalid.
func FuzzParseToken(f *testing.F) {
	m := newTestManager(f, newFakeClock(testEpoch))
	for _, tok := range malformedTokens() {
		f.Add(tok)
	}
	good, err := m.NewAccessToken(testUser)
	if err != nil {
		f.Fatal(err)
	}
	refresh, err := m.NewRefreshToken(testUser)
	if err != nil {
		f.Fatal(err)
	}
	expired, err := newTestManager(f, newFakeClock(testEpoch.Add(-2*time.Hour))).NewAccessToken(testUser)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(refresh)
	f.Add(expired)
	f.Add("Bearer " + good)

	f.Fuzz(func(t *testing.T, tok string) {
		check := func(name string, c *Claims, err error) {
			t.Helper()
			if err == nil {
				if c == nil || c.Subject == "" || c.ExpiresAt.IsZero() {
					t.Fatalf("%s: nil error but claims %+v", name, c)
				}
				return
			}
			if c != nil {
				t.Fatalf("%s: error %v with non-nil claims", name, err)
			}
			if errors.Is(err, ErrTokenExpired) == errors.Is(err, ErrTokenInvalid) {
				t.Fatalf("%s: error %v must match exactly one sentinel", name, err)
			}
		}
		ac, aerr := m.ValidateAccess(tok)
		check("ValidateAccess", ac, aerr)
		dc, derr := m.DecodeAccessIgnoringExpiry(tok)
		check("DecodeAccessIgnoringExpiry", dc, derr)
		if derr != nil && !errors.Is(derr, ErrTokenInvalid) {
			t.Fatalf("DecodeAccessIgnoringExpiry: got %v, want only ErrTokenInvalid", derr)
		}
		// Valid or merely expired access tokens must decode ignoring expiry.
		if (aerr == nil || errors.Is(aerr, ErrTokenExpired)) && derr != nil {
			t.Fatalf("ValidateAccess gave %v but DecodeAccessIgnoringExpiry failed: %v", aerr, derr)
		}
		if aerr == nil && (dc.Subject != ac.Subject || !dc.ExpiresAt.Equal(ac.ExpiresAt)) {
			t.Fatalf("decoders disagree: %+v vs %+v", ac, dc)
		}
		rc, rerr := m.ValidateRefresh(tok)
		check("ValidateRefresh", rc, rerr)
		if aerr == nil && rerr == nil {
			t.Fatalf("token valid under both the access and the refresh secret")
		}
	})
}

// FuzzBearerToken: no panic, and an accepted token is non-empty, bounded,
// printable ASCII without spaces, and contained in the header.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{
		"", "Bearer", "Bearer ", "bearer abc", "BEARER  abc ", "Bearer abc def", "Basic abc",
		"Bearer \x00", "Bearer é", "Bearer\tabc", "Bearer " + strings.Repeat("a", MaxTokenLen+1),
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := BearerToken(h)
		if !ok {
			if tok != "" {
				t.Fatalf("rejected header returned token %q", tok)
			}
			return
		}
		if tok == "" || len(tok) > MaxTokenLen || !strings.Contains(h, tok) {
			t.Fatalf("bad token %q from %q", tok, h)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] <= ' ' || tok[i] > '~' {
				t.Fatalf("token %q has byte %#x", tok, tok[i])
			}
		}
	})
}

// FuzzParsePHC: the PHC parser never panics and never accepts parameters
// outside the limits that protect against resource exhaustion.
func FuzzParsePHC(f *testing.F) {
	for _, v := range referenceVectors {
		f.Add(v.phc)
	}
	f.Add(dummyPHC)
	f.Add("$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2d$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$7WlpgAteZBAUBN8fsClBmqjAK0wlZUrln2Vai1gUJKs")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("error %v does not wrap ErrInvalidHash", err)
			}
			return
		}
		if h.memory > maxArgonMemory || h.time < 1 || h.time > maxArgonTime || h.threads < 1 ||
			h.memory < 8*uint32(h.threads) || len(h.key) < minArgonKeyLen || len(h.key) > maxArgonKeyLen ||
			len(h.salt) < minArgonSaltLen || (h.variant != "argon2id" && h.variant != "argon2i") {
			t.Fatalf("accepted out-of-range hash %q: %+v", s, h)
		}
	})
}
