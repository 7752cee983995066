// Package profile holds the four drift profile kinds (SPC, PSI, Custom,
// GenAI) in their upstream JSON wire format, the profile HTTP DTOs, and the
// profile version arithmetic.
//
// The JSON object a client sends is the source of truth: Parse keeps it
// verbatim (every field round-trips, including ones the server does not
// interpret) and decodes typed read-only views of the fields the server needs.
package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// DefaultSchedule is the upstream EveryDay cron preset; an empty or absent
// schedule means this.
const DefaultSchedule = "0 0 0 * * *"

// DefaultVersion is the version a client profile has before registration.
const DefaultVersion = "0.0.0"

// Profile is one parsed drift profile.
type Profile struct {
	Type   DriftType
	Config Config

	// Exactly one of these is set, matching Type.
	Spc    *SpcProfile
	Psi    *PsiProfile
	Custom *CustomProfile
	GenAI  *GenAIProfile

	top    map[string]json.RawMessage // the profile object as received
	config map[string]json.RawMessage // top["config"], kept decoded for edits
}

// Config is the typed view of the common config fields.
type Config struct {
	Space   string
	Name    string
	Version string // config.version as sent ("0.0.0" when absent)
	UID     string // config.uid as sent or set by SetUID ("" when absent)
	// Schedule is the effective cron string: config.alert_config.schedule,
	// or DefaultSchedule when that is empty or absent.
	Schedule       string
	Dispatch       Dispatch
	ScouterVersion string // top-level scouter_version ("" when absent)
}

// DispatchKind is the variant of AlertDispatchConfig.
type DispatchKind string

// The alert dispatch kinds.
const (
	DispatchConsole  DispatchKind = "Console"
	DispatchSlack    DispatchKind = "Slack"
	DispatchOpsGenie DispatchKind = "OpsGenie"
)

// Dispatch is the decoded alert_config.dispatch_config.
type Dispatch struct {
	Kind     DispatchKind
	Enabled  bool   // Console
	Channel  string // Slack
	Team     string // OpsGenie
	Priority string // OpsGenie
}

// Parser parses and validates profiles sent by clients.
type Parser struct {
	// ValidateCron checks a non-empty schedule string (upstream cron crate
	// dialect). Nil skips the check.
	ValidateCron func(string) error
}

// Parse parses raw (the ProfileRequest.profile string) as a profile of kind
// dt and validates it. Errors match ErrInvalid and name the bad field.
func (ps Parser) Parse(dt DriftType, raw []byte) (*Profile, error) {
	if !dt.Valid() {
		return nil, fieldErr("drift_type", fmt.Sprintf("unknown drift type %q (want Spc, Psi, Custom or GenAI)", string(dt)))
	}
	p, err := parse(dt, raw, false)
	if err != nil {
		return nil, err
	}
	if ps.ValidateCron != nil && p.Config.Schedule != DefaultSchedule {
		if err := ps.ValidateCron(p.Config.Schedule); err != nil {
			return nil, fieldErr("config.alert_config.schedule", fmt.Sprintf("invalid cron expression %q: %v", p.Config.Schedule, err))
		}
	}
	return p, nil
}

// ParseStored parses a profile read back from storage, taking the kind from
// config.drift_type (case-insensitive). The cron schedule is not re-validated.
func ParseStored(raw []byte) (*Profile, error) {
	if !json.Valid(raw) {
		return nil, fieldErr("profile", "invalid JSON: "+syntaxDetail(raw))
	}
	top, err := toObject("", raw)
	if err != nil {
		return nil, renamed("profile", err)
	}
	cfg, err := top.obj("config")
	if err != nil {
		return nil, err
	}
	s, err := cfg.str("drift_type")
	if err != nil {
		return nil, err
	}
	dt, err := ParseDriftType(s)
	if err != nil {
		return nil, renamed("config.drift_type", err)
	}
	return parse(dt, raw, true)
}

// ParseTagged parses the externally tagged DriftProfile form {"Spc": {...}}.
func ParseTagged(raw []byte) (*Profile, error) {
	variant, payload, err := taggedEnum("profile", raw)
	if err != nil {
		return nil, err
	}
	dt := DriftType(variant)
	if !dt.Valid() {
		return nil, fieldErr("profile", fmt.Sprintf("unknown drift profile variant %q", variant))
	}
	return parse(dt, payload, false)
}

// parse decodes and validates raw as kind dt. stored relaxes the
// config.drift_type check to a case-insensitive match (old rows).
func parse(dt DriftType, raw []byte, stored bool) (*Profile, error) {
	if !json.Valid(raw) {
		return nil, fieldErr("profile", "invalid JSON: "+syntaxDetail(raw))
	}
	top, err := toObject("", raw)
	if err != nil {
		return nil, renamed("profile", err)
	}
	cfg, err := top.obj("config")
	if err != nil {
		return nil, err
	}
	p := &Profile{Type: dt, top: top.m, config: cfg.m}
	if err := p.parseConfig(top, cfg, stored); err != nil {
		return nil, err
	}
	switch dt {
	case Spc:
		p.Spc, err = parseSpc(top, cfg)
	case Psi:
		p.Psi, err = parsePsi(top, cfg)
	case Custom:
		p.Custom, err = parseCustom(top, cfg)
	case GenAI:
		p.GenAI, err = parseGenAI(top, cfg)
	}
	if err != nil {
		return nil, err
	}
	// Make the stored JSON self-describing (upstream always serialises it).
	if !cfg.has("drift_type") {
		p.config["drift_type"] = marshalString(string(dt))
	}
	return p, nil
}

// renamed re-labels a validation error with another field path.
func renamed(field string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fieldErr(field, fe.Msg)
	}
	return fieldErr(field, err.Error())
}

func syntaxDetail(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err.Error()
	}
	return "not valid JSON"
}

func (p *Profile) parseConfig(top, cfg object, stored bool) error {
	var err error
	if p.Config.Space, err = cfg.str("space"); err != nil {
		return err
	}
	if p.Config.Space == "" {
		return fieldErr("config.space", "must not be empty")
	}
	if p.Config.Name, err = cfg.str("name"); err != nil {
		return err
	}
	if p.Config.Name == "" {
		return fieldErr("config.name", "must not be empty")
	}
	v, ok, err := cfg.optStr("version")
	if err != nil {
		return err
	}
	if !ok {
		v = DefaultVersion
	}
	p.Config.Version = v
	if p.Config.UID, _, err = cfg.optStr("uid"); err != nil {
		return err
	}
	if s, ok, err := cfg.optStr("drift_type"); err != nil {
		return err
	} else if ok && DriftType(s) != p.Type && !(stored && strings.EqualFold(s, string(p.Type))) {
		return fieldErr("config.drift_type", fmt.Sprintf("%q does not match the profile kind %q", s, string(p.Type)))
	}
	if p.Config.ScouterVersion, _, err = top.optStr("scouter_version"); err != nil {
		return err
	}

	// GenAI configs default everything, including alert_config; the other
	// kinds require it.
	ac, ok, err := cfg.optObj("alert_config")
	if err != nil {
		return err
	}
	if !ok {
		if p.Type != GenAI {
			return fieldErr("config.alert_config", "required object is missing or null")
		}
		p.Config.Schedule = DefaultSchedule
		p.Config.Dispatch = Dispatch{Kind: DispatchConsole, Enabled: true}
		return nil
	}
	sched, _, err := ac.optStr("schedule")
	if err != nil {
		return err
	}
	if sched == "" {
		sched = DefaultSchedule
	}
	p.Config.Schedule = sched
	if !ac.has("dispatch_config") {
		return fieldErr("config.alert_config.dispatch_config", "required object is missing or null")
	}
	p.Config.Dispatch, err = parseDispatch("config.alert_config.dispatch_config", ac.m["dispatch_config"])
	return err
}

func parseDispatch(path string, raw json.RawMessage) (Dispatch, error) {
	variant, payload, err := taggedEnum(path, raw)
	if err != nil {
		return Dispatch{}, err
	}
	vpath := join(path, variant)
	switch DispatchKind(variant) {
	case DispatchConsole:
		d := Dispatch{Kind: DispatchConsole, Enabled: true}
		if isNull(payload) {
			return d, nil
		}
		o, err := toObject(vpath, payload)
		if err != nil {
			return Dispatch{}, err
		}
		if b, ok, err := o.optBool("enabled"); err != nil {
			return Dispatch{}, err
		} else if ok {
			d.Enabled = b
		}
		return d, nil
	case DispatchSlack:
		o, err := toObject(vpath, payload)
		if err != nil {
			return Dispatch{}, err
		}
		ch, err := o.str("channel")
		if err != nil {
			return Dispatch{}, err
		}
		return Dispatch{Kind: DispatchSlack, Channel: ch}, nil
	case DispatchOpsGenie:
		o, err := toObject(vpath, payload)
		if err != nil {
			return Dispatch{}, err
		}
		team, err := o.str("team")
		if err != nil {
			return Dispatch{}, err
		}
		prio, ok, err := o.optStr("priority")
		if err != nil {
			return Dispatch{}, err
		}
		if !ok {
			prio = "P5"
		}
		return Dispatch{Kind: DispatchOpsGenie, Team: team, Priority: prio}, nil
	}
	return Dispatch{}, fieldErr(path, fmt.Sprintf("unknown dispatch kind %q (want Console, Slack or OpsGenie)", variant))
}

// SetUID writes config.uid into the profile JSON (the server does this with
// the entity uid on insert).
func (p *Profile) SetUID(uid string) {
	p.config["uid"] = marshalString(uid)
	p.Config.UID = uid
}

// JSON returns the inner profile object (what is stored in drift_profile.profile).
func (p *Profile) JSON() json.RawMessage {
	var cfg bytes.Buffer
	writeObject(&cfg, p.config)
	top := make(map[string]json.RawMessage, len(p.top))
	for k, v := range p.top {
		top[k] = v
	}
	top["config"] = cfg.Bytes()
	var buf bytes.Buffer
	writeObject(&buf, top)
	return buf.Bytes()
}

// Tagged returns the externally tagged DriftProfile form {"<Type>": <profile>}.
func (p *Profile) Tagged() json.RawMessage {
	inner := p.JSON()
	var buf bytes.Buffer
	buf.Grow(len(inner) + len(p.Type) + 5)
	buf.WriteByte('{')
	writeString(&buf, string(p.Type))
	buf.WriteByte(':')
	buf.Write(inner)
	buf.WriteByte('}')
	return buf.Bytes()
}

// MarshalJSON encodes the externally tagged form, so DTOs holding a Profile
// serialise like upstream's DriftProfile enum.
func (p Profile) MarshalJSON() ([]byte, error) { return p.Tagged(), nil }

// UnmarshalJSON decodes the externally tagged form.
func (p *Profile) UnmarshalJSON(b []byte) error {
	q, err := ParseTagged(b)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// Identifier is the upstream log identifier "space/name/vversion/spc".
func (p *Profile) Identifier() string {
	return fmt.Sprintf("%s/%s/v%s/%s", p.Config.Space, p.Config.Name, p.Config.Version, p.Type.Lower())
}
