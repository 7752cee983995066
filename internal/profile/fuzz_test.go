package profile

import (
	"errors"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// FuzzParse checks that no input panics Parse, and that whatever parses
// re-parses from its own output with the same typed view.
func FuzzParse(f *testing.F) {
	for i, name := range []string{"spc.json", "psi.json", "custom.json", "genai.json"} {
		f.Add(uint8(i), readFixture(f, name))
	}
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"config":null}`, `{"config":{}}`,
		`{"config":{"space":"s","name":"n","alert_config":{"dispatch_config":{"Console":null}}},"features":{}}`,
		`{"config":{"space":"s","name":"n","alert_config":{"dispatch_config":{"Console":{}},"rule":{"rule":"1 1 1 1 1 1 1 1"}}},"features":{"a":{}}}`,
		`{"config":{"space":"s","name":"n","alert_config":{"dispatch_config":{},"threshold":{"Fixed":{"threshold":-1}}}},"features":{"f":{"bins":[{},{}]}}}`,
		`{"config":{"space":"s","name":"n"},"tasks":{"assertion":[],"judge":[],"trace":[],"agent":[]},"task_ids":[]}`,
		`{"config":{"space":"s","name":"n","alert_config":{"dispatch_config":{"Slack":{"channel":1}}}},"metrics":{"m":1e400}}`,
		"{\"config\":{\"space\":\"\xff\",\"name\":\"n\"}}",
	} {
		for i := range 4 {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, raw []byte) {
		dt := DriftTypes()[int(kind)%4]
		ps := Parser{ValidateCron: func(s string) error {
			if s == "bad" {
				return errors.New("bad cron")
			}
			return nil
		}}
		p, err := ps.Parse(dt, raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			_, _ = ParseStored(raw)
			_, _ = ParseTagged(raw)
			return
		}
		p.SetUID("uid-1")
		q, err := ps.Parse(dt, p.JSON())
		if err != nil {
			t.Fatalf("re-parse of own output failed: %v\ninput: %q\noutput: %q", err, raw, p.JSON())
		}
		if q.Config != p.Config {
			t.Fatalf("config changed on re-parse: got %+v, want %+v", q.Config, p.Config)
		}
		if _, err := ParseTagged(p.Tagged()); err != nil {
			t.Fatalf("tagged form does not parse: %v", err)
		}
		if _, err := ParseStored(p.JSON()); err != nil {
			t.Fatalf("stored form does not parse: %v", err)
		}
	})
}

// FuzzNextVersion checks that no request panics NextVersion.
func FuzzNextVersion(f *testing.F) {
	for _, s := range []string{"", "1", "1.2", "1.2.3", "*", "1.*", "~1.2.3", "^1.2.3", "^1.2", "~", "1.2.3.4", "18446744073709551615", "1.2.3-rc"} {
		f.Add(s, true, "rc.1", "b.1", uint8(0))
	}
	f.Fuzz(func(t *testing.T, v string, hasVersion bool, pre, build string, vt uint8) {
		types := []VersionType{Major, Minor, Patch, Pre, Build, PreBuild, "bogus"}
		req := &VersionRequest{VersionType: types[int(vt)%len(types)], PreTag: &pre, BuildTag: &build}
		if hasVersion {
			req.Version = &v
		}
		existing := []*semver.Version{semver.New(1, 2, 3, "", ""), semver.New(18446744073709551615, 0, 0, "", "")}
		got, err := NextVersion(existing, req)
		if err == nil && got == nil {
			t.Fatal("nil version without error")
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
