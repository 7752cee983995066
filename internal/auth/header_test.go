package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBearerToken(t *testing.T) {
	long := strings.Repeat("a", MaxTokenLen)
	tests := []struct {
		name   string
		header string
		want   string
		ok     bool
	}{
		{"canonical", "Bearer abc.def.ghi", "abc.def.ghi", true},
		{"lower case", "bearer abc", "abc", true},
		{"upper case", "BEARER abc", "abc", true},
		{"mixed case", "bEaReR abc", "abc", true},
		{"extra spaces", "  Bearer    abc  ", "abc", true},
		{"max length", "Bearer " + long, long, true},
		{"too long", "Bearer " + long + "a", "", false},
		{"empty", "", "", false},
		{"scheme only", "Bearer", "", false},
		{"scheme and space", "Bearer ", "", false},
		{"scheme and spaces", "Bearer     ", "", false},
		{"no space", "Bearerabc", "", false},
		{"tab separator", "Bearer\tabc", "", false},
		{"basic", "Basic dXNlcjpwYXNz", "", false},
		{"token only", "abc.def.ghi", "", false},
		{"inner space", "Bearer abc def", "", false},
		{"control char", "Bearer abc\x00def", "", false},
		{"non ascii", "Bearer abcé", "", false},
		{"double scheme", "Bearer Bearer abc", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := BearerToken(tt.header)
			assert.Equal(t, tt.ok, ok, "ok")
			assert.Equal(t, tt.want, got, "token")
		})
	}
}

func TestValidHeaderValue(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"admin", true},
		{"p@ss w0rd!~", true},
		{" ", true},
		{"", false},
		{"pässwörd", false},
		{"tab\there", false},
		{"nl\n", false},
		{"del\x7f", false},
		{"nul\x00", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ValidHeaderValue(tt.in), "ValidHeaderValue(%q)", tt.in)
	}
}
