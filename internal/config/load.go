package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Lookup reads one environment variable; os.LookupEnv has this shape.
type Lookup func(name string) (string, bool)

// loader reads variables one by one, remembers what it read (for the
// effective-configuration listing) and collects every problem, so that a
// bad start-up reports all of them at once.
type loader struct {
	lookup Lookup
	vars   []Var
	errs   []error
}

func (l *loader) raw(name string) (string, bool) {
	v, ok := l.lookup(name)
	return v, ok
}

func (l *loader) record(name, value string, secret, set bool) {
	l.vars = append(l.vars, Var{Name: name, Value: value, Secret: secret, Set: set})
}

func (l *loader) fail(name, value, accepted string) {
	l.errs = append(l.errs, fmt.Errorf("%s=%q: %s", name, value, accepted))
}

func (l *loader) str(name, def string) string {
	v, ok := l.raw(name)
	if !ok {
		v = def
	}
	l.record(name, v, false, ok)
	return v
}

func (l *loader) secret(name, def string) Secret {
	v, ok := l.raw(name)
	if !ok {
		v = def
	}
	l.record(name, v, true, ok)
	return Secret(v)
}

// optional reads a variable whose presence switches a feature on.
func (l *loader) optional(name string, secret bool) (string, bool) {
	v, ok := l.raw(name)
	l.record(name, v, secret, ok)
	return v, ok
}

func (l *loader) integer(name string, def, min, max int) int {
	v, ok := l.raw(name)
	if !ok {
		l.record(name, strconv.Itoa(def), false, false)
		return def
	}
	l.record(name, v, false, true)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min || n > max {
		l.fail(name, v, rangeText(min, max))
		return def
	}
	return n
}

func (l *loader) seconds(name string, def, min, max int) time.Duration {
	return time.Duration(l.integer(name, def, min, max)) * time.Second
}

func (l *loader) millis(name string, def, min, max int) time.Duration {
	return time.Duration(l.integer(name, def, min, max)) * time.Millisecond
}

func (l *loader) boolean(name string, def bool) bool {
	v, ok := l.raw(name)
	if !ok {
		l.record(name, strconv.FormatBool(def), false, false)
		return def
	}
	l.record(name, v, false, true)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true
	case "false", "0", "no", "off":
		return false
	}
	l.fail(name, v, "want true or false")
	return def
}

func (l *loader) oneOf(name, def string, accepted ...string) string {
	v := l.str(name, def)
	for _, a := range accepted {
		if strings.EqualFold(strings.TrimSpace(v), a) {
			return a
		}
	}
	l.fail(name, v, "want one of "+strings.Join(accepted, ", "))
	return def
}

func rangeText(min, max int) string {
	switch {
	case max == math.MaxInt32:
		return fmt.Sprintf("want a whole number >= %d", min)
	default:
		return fmt.Sprintf("want a whole number from %d to %d", min, max)
	}
}

// checkURL validates a URL-valued variable against the schemes it may use.
func (l *loader) checkURL(name, value string, schemes ...string) {
	u, err := url.Parse(value)
	if err != nil || u.Scheme == "" {
		l.fail(name, value, "want a URL with scheme "+strings.Join(schemes, ", "))
		return
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			if u.Host == "" && s != "unix" && s != "file" {
				l.fail(name, value, "the URL has no host")
			}
			return
		}
	}
	l.fail(name, value, "want a URL with scheme "+strings.Join(schemes, ", "))
}

func (l *loader) checkDatabaseURI(name, value string) {
	if strings.TrimSpace(value) == "" {
		l.fail(name, value, "want a postgres:// URI or a key=value connection string")
		return
	}
	if _, err := pgconn.ParseConfig(value); err != nil {
		l.fail(name, redactURI(value), "want a postgres:// URI or a key=value connection string ("+scrubParseError(err)+")")
	}
}

// scrubParseError keeps the reason of a pgconn parse error without the
// connection string, which may hold a password.
func scrubParseError(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return pe.Unwrap().Error()
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return "unparseable"
}

// redactURI hides the password of a URI for logs and error messages.
func redactURI(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable: mask whatever sits between "scheme://user:" and "@".
		return userinfoPassword.ReplaceAllString(s, "${1}****@")
	}
	if u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "****")
	}
	return u.String()
}

var userinfoPassword = regexp.MustCompile(`(://[^:/@]*:)[^@]*@`)
