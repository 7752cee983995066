package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

var _ Sender = (*SlackSender)(nil)

// SlackSender posts messages with the Slack Web API method chat.postMessage
// and a bot token (drift.md §5.2).
type SlackSender struct {
	client *http.Client
	url    string // SLACK_API_URL + "/chat.postMessage"
	token  string
}

// NewSlackSender returns a sender posting to apiURL + "/chat.postMessage"
// with "Authorization: Bearer <token>". client must have a timeout.
func NewSlackSender(client *http.Client, apiURL, token string) (*SlackSender, error) {
	switch {
	case client == nil:
		return nil, errors.New("slack sender: nil http client")
	case strings.TrimSpace(apiURL) == "":
		return nil, errors.New("slack sender: empty api url")
	case token == "":
		return nil, errors.New("slack sender: empty token")
	}
	return &SlackSender{client: client, url: strings.TrimRight(apiURL, "/") + "/chat.postMessage", token: token}, nil
}

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji *bool  `json:"emoji,omitempty"`
}

type slackBlock struct {
	Type string    `json:"type"`
	Text slackText `json:"text"`
}

type slackRequest struct {
	Channel string       `json:"channel"`
	Blocks  []slackBlock `json:"blocks"`
}

// SlackHeader is the header block's text.
const SlackHeader = ":rotating_light: Drift Detected :rotating_light:"

// slackBody renders the chat.postMessage body of m.
func slackBody(m Message) ([]byte, error) {
	emoji := true
	return json.Marshal(slackRequest{
		Channel: m.SlackChannel,
		Blocks: []slackBlock{
			{Type: "header", Text: slackText{Type: "plain_text", Text: SlackHeader, Emoji: &emoji}},
			{Type: "section", Text: slackText{Type: "mrkdwn",
				Text: "*Name*: " + m.Name + " *Space*: " + m.Space + " *Version*: " + m.Version}},
			{Type: "section", Text: slackText{Type: "mrkdwn", Text: m.Description}},
		},
	})
}

// slackPermanent lists chat.postMessage error codes that a resend cannot
// fix (credentials, channel membership, malformed message). Other codes
// (ratelimited, internal_error, fatal_error, service_unavailable,
// request_timeout, and any code not listed) are retried.
var slackPermanent = map[string]bool{
	"invalid_auth": true, "not_authed": true, "account_inactive": true,
	"token_revoked": true, "token_expired": true, "no_permission": true,
	"missing_scope": true, "not_allowed_token_type": true,
	"channel_not_found": true, "not_in_channel": true, "is_archived": true,
	"restricted_action": true, "msg_too_long": true, "no_text": true,
	"invalid_blocks": true, "invalid_arguments": true, "invalid_arg_name": true,
	"invalid_charset": true, "invalid_form_data": true, "invalid_post_type": true,
	"missing_post_type": true, "method_deprecated": true, "deprecated_endpoint": true,
}

// Send posts m. A 2xx answer is a delivery only when its JSON says
// "ok": true.
func (s *SlackSender) Send(ctx context.Context, m Message) error {
	if m.SlackChannel == "" {
		return &RejectedError{Channel: Slack, Detail: "the profile's Slack dispatch config has no channel"}
	}
	body, err := slackBody(m)
	if err != nil {
		return &RejectedError{Channel: Slack, Detail: "encode message: " + err.Error()}
	}
	answer, err := post(ctx, s.client, Slack, s.url, "Bearer "+s.token, body)
	if err != nil {
		return err
	}
	var res struct {
		OK    *bool  `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(answer, &res); err != nil || res.OK == nil {
		return fmt.Errorf("slack answered without an ok field: %s", shorten(answer))
	}
	if *res.OK {
		return nil
	}
	code := res.Error
	if code == "" {
		code = "(no error code)"
	}
	if slackPermanent[res.Error] {
		return &RejectedError{Channel: Slack, Detail: "ok: false, error: " + code}
	}
	return fmt.Errorf("slack answered ok: false, error: %s", code)
}
