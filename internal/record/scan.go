package record

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// A minimal navigator over JSON that json.Valid has already accepted. It
// splits objects and arrays into raw members without decoding them, which
// saves encoding/json a validation and a decoding pass per level (Decode is
// on the ingest hot path). Every function stays in bounds on any input, so
// a bug here cannot panic, only misreport.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return len(b)
	}
}

// plain reports whether a JSON string body needs no unescaping: no
// backslash and valid UTF-8 (encoding/json turns invalid UTF-8 into U+FFFD,
// and so does the slow path here).
func plain(inner []byte) bool {
	return bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner)
}

// unquoteBytes returns the bytes of the raw JSON string s; for plain strings
// it aliases s and does not allocate.
func unquoteBytes(s []byte) ([]byte, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return nil, false
	}
	inner := s[1 : len(s)-1]
	if plain(inner) {
		return inner, true
	}
	var out string
	if err := json.Unmarshal(s, &out); err != nil {
		return nil, false
	}
	return []byte(out), true
}

// unquote returns the string value of the raw JSON string s.
func unquote(s []byte) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	inner := s[1 : len(s)-1]
	if plain(inner) {
		return string(inner), true
	}
	var out string
	if err := json.Unmarshal(s, &out); err != nil {
		return "", false
	}
	return out, true
}

// eachMember calls fn for every member of the object b (which must start
// with '{' after optional space), in order. It returns false if b is not an
// object. key may alias b; convert it with string(key) to keep it.
func eachMember(b []byte, fn func(key, val []byte)) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		end := skipString(b, i)
		key, ok := unquoteBytes(b[i:end])
		if !ok {
			return false
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		fn(key, b[i:vend])
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}

// eachElement calls fn for every element of the array b, in order. It
// returns false if b is not an array.
func eachElement(b []byte, fn func(val []byte)) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] != ']' {
		end := skipValue(b, i)
		if end <= i {
			return false
		}
		fn(b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}
