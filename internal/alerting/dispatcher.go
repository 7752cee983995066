package alerting

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/scoutergo/server/internal/config"
)

// Options configure New.
type Options struct {
	// HTTPClient sends to Slack and OpsGenie. Nil means
	// NewHTTPClient(DefaultTimeout).
	HTTPClient *http.Client
	// Stdout receives Console alerts. Required.
	Stdout io.Writer
}

// Dispatcher holds one sender per configured channel and picks the channel
// a profile's alerts go to. It is safe for concurrent use.
type Dispatcher struct {
	senders map[Channel]Sender
}

// New builds the senders the configuration allows: Slack needs
// SLACK_APP_TOKEN and SLACK_API_URL, OpsGenie needs OPSGENIE_API_KEY and
// OPSGENIE_API_URL, Console is always there. Check(cfg) tells which
// channels are missing and why.
func New(cfg config.Alerting, opts Options) (*Dispatcher, error) {
	console, err := NewConsoleSender(opts.Stdout)
	if err != nil {
		return nil, err
	}
	client := opts.HTTPClient
	if client == nil {
		client = NewHTTPClient(DefaultTimeout)
	}
	d := &Dispatcher{senders: map[Channel]Sender{Console: console}}
	if slackConfigured(cfg) {
		s, err := NewSlackSender(client, cfg.SlackAPIURL, cfg.SlackAppToken.Reveal())
		if err != nil {
			return nil, err
		}
		d.senders[Slack] = s
	}
	if opsGenieConfigured(cfg) {
		s, err := NewOpsGenieSender(client, cfg.OpsGenieAPIURL, cfg.OpsGenieAPIKey.Reveal())
		if err != nil {
			return nil, err
		}
		d.senders[OpsGenie] = s
	}
	return d, nil
}

// NewWithSenders builds a dispatcher from explicit senders (tests, or a
// caller with its own transports). A Console sender is required.
func NewWithSenders(senders map[Channel]Sender) (*Dispatcher, error) {
	if senders[Console] == nil {
		return nil, errors.New("dispatcher: a console sender is required")
	}
	d := &Dispatcher{senders: make(map[Channel]Sender, len(senders))}
	for ch, s := range senders {
		if !ch.Valid() {
			return nil, errors.New("dispatcher: unknown channel " + string(ch))
		}
		if s != nil {
			d.senders[ch] = s
		}
	}
	return d, nil
}

// Select returns the channel alerts for want actually go to: want itself
// when it is configured, otherwise Console (upstream's fallback), with
// fellBack true. An unknown channel also falls back to Console.
func (d *Dispatcher) Select(want Channel) (ch Channel, fellBack bool) {
	if _, ok := d.senders[want]; ok {
		return want, false
	}
	return Console, true
}

// Sender returns the sender of ch, if that channel is configured.
func (d *Dispatcher) Sender(ch Channel) (Sender, bool) {
	s, ok := d.senders[ch]
	return s, ok
}

func slackConfigured(cfg config.Alerting) bool {
	return cfg.SlackAppToken != "" && strings.TrimSpace(cfg.SlackAPIURL) != ""
}

func opsGenieConfigured(cfg config.Alerting) bool {
	return cfg.OpsGenieAPIKey != "" && strings.TrimSpace(cfg.OpsGenieAPIURL) != ""
}

// Check describes every channel the configuration leaves unusable, one
// message each (empty when Slack and OpsGenie are both configured). The
// worker logs them at start: profiles that dispatch to such a channel print
// their alerts to Console instead.
func Check(cfg config.Alerting) []string {
	var out []string
	if m := missing("Slack", "SLACK_APP_TOKEN", cfg.SlackAppToken != "", "SLACK_API_URL", strings.TrimSpace(cfg.SlackAPIURL) != ""); m != "" {
		out = append(out, m)
	}
	if m := missing("OpsGenie", "OPSGENIE_API_KEY", cfg.OpsGenieAPIKey != "", "OPSGENIE_API_URL", strings.TrimSpace(cfg.OpsGenieAPIURL) != ""); m != "" {
		out = append(out, m)
	}
	return out
}

func missing(channel, aName string, aSet bool, bName string, bSet bool) string {
	var unset []string
	if !aSet {
		unset = append(unset, aName)
	}
	if !bSet {
		unset = append(unset, bName)
	}
	switch len(unset) {
	case 0:
		return ""
	case 1:
		return channel + " alerts are misconfigured: " + unset[0] + " is not set; profiles that dispatch to " +
			channel + " fall back to Console"
	}
	return channel + " alerts are not configured: " + aName + " and " + bName + " are not set; profiles that dispatch to " +
		channel + " fall back to Console"
}
