package profile

import (
	"encoding/json"
	"fmt"
)

// GenAIProfile is the typed view of a GenAI evaluation profile. Tasks and
// Workflow stay raw JSON: the evaluation engine decodes them.
type GenAIProfile struct {
	SampleRatio    float64         // config.sample_ratio (default 1.0; unused by the server)
	AlertCondition *AlertCondition // nil when absent or null
	TaskIDs        []string
	Tasks          json.RawMessage // {"assertion":[...],"judge":[...],"trace":[...],"agent":[...]}
	Workflow       json.RawMessage // null when absent
	Alias          *string
}

// genAITaskKinds are the four required keys of AssertionTasks.
func genAITaskKinds() []string { return []string{"assertion", "judge", "trace", "agent"} }

func parseGenAI(top, cfg object) (*GenAIProfile, error) {
	gp := &GenAIProfile{SampleRatio: 1}
	if v, err := cfg.optNum("sample_ratio"); err != nil {
		return nil, err
	} else if v != nil {
		gp.SampleRatio = *v
	}
	if ac, ok, err := cfg.optObj("alert_config"); err != nil {
		return nil, err
	} else if ok && ac.has("alert_condition") {
		c, err := parseAlertCondition(join(ac.path, "alert_condition"), ac.m["alert_condition"])
		if err != nil {
			return nil, err
		}
		gp.AlertCondition = &c
	}

	tasks, err := top.obj("tasks")
	if err != nil {
		return nil, err
	}
	for _, kind := range genAITaskKinds() {
		items, err := tasks.array(kind)
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			if k := kindOf(it); k != "object" {
				return nil, fieldErr(fmt.Sprintf("tasks.%s[%d]", kind, i), "expected object, got "+k)
			}
		}
	}
	gp.Tasks = top.m["tasks"]

	if !top.has("task_ids") {
		return nil, fieldErr("task_ids", "required array is missing or null")
	}
	if gp.TaskIDs, err = top.optStrings("task_ids"); err != nil {
		return nil, err
	}
	if top.has("workflow") {
		if k := kindOf(top.m["workflow"]); k != "object" {
			return nil, fieldErr("workflow", "expected object or null, got "+k)
		}
		gp.Workflow = top.m["workflow"]
	} else {
		gp.Workflow = json.RawMessage("null")
	}
	if a, ok, err := top.optStr("alias"); err != nil {
		return nil, err
	} else if ok {
		gp.Alias = &a
	}
	return gp, nil
}
