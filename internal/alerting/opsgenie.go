package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

var _ Sender = (*OpsGenieSender)(nil)

// OpsGenieSender creates alerts with the OpsGenie Create Alert API
// (drift.md §5.3).
type OpsGenieSender struct {
	client *http.Client
	url    string // OPSGENIE_API_URL, used verbatim
	key    string
}

// NewOpsGenieSender returns a sender posting to apiURL (verbatim, e.g.
// https://api.opsgenie.com/v2/alerts) with "Authorization: GenieKey <key>".
func NewOpsGenieSender(client *http.Client, apiURL, key string) (*OpsGenieSender, error) {
	switch {
	case client == nil:
		return nil, errors.New("opsgenie sender: nil http client")
	case strings.TrimSpace(apiURL) == "":
		return nil, errors.New("opsgenie sender: empty api url")
	case key == "":
		return nil, errors.New("opsgenie sender: empty api key")
	}
	return &OpsGenieSender{client: client, url: apiURL, key: key}, nil
}

type opsGenieResponder struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type opsGenieRequest struct {
	Message     string              `json:"message"`
	Description string              `json:"description"`
	Responders  []opsGenieResponder `json:"responders"`
	VisibleTo   []opsGenieResponder `json:"visibleTo"`
	Tags        []string            `json:"tags"`
	Priority    string              `json:"priority"`
	Alias       string              `json:"alias,omitempty"`
}

// maxAlias is OpsGenie's limit on the alias length.
const maxAlias = 512

// Alias returns the OpsGenie alias for a dedup key: the key itself, or
// "scouter-" + its SHA-256 when it is longer than OpsGenie allows. While an
// alert with the alias is open, OpsGenie adds a resend to it instead of
// opening a second alert.
func Alias(dedupKey string) string {
	if len(dedupKey) <= maxAlias {
		return dedupKey
	}
	sum := sha256.Sum256([]byte(dedupKey))
	return "scouter-" + hex.EncodeToString(sum[:])
}

func opsGenieBody(m Message) ([]byte, error) {
	team := []opsGenieResponder{{Name: m.Team, Type: "team"}}
	return json.Marshal(opsGenieRequest{
		Message:     "Model drift detected for " + m.Space + "/" + m.Name + "/" + m.Version,
		Description: m.Description,
		Responders:  team,
		VisibleTo:   team,
		Tags:        []string{"Model Drift", "Scouter"},
		Priority:    m.Priority,
		Alias:       Alias(m.DedupKey),
	})
}

// Send creates the alert. OpsGenie answers 202 for an accepted request.
func (s *OpsGenieSender) Send(ctx context.Context, m Message) error {
	body, err := opsGenieBody(m)
	if err != nil {
		return &RejectedError{Channel: OpsGenie, Detail: "encode message: " + err.Error()}
	}
	_, err = post(ctx, s.client, OpsGenie, s.url, "GenieKey "+s.key, body)
	return err
}
