package drift

import "strings"

const (
	indent4 = "    "
	indent8 = "        "
)

// DescribeSPC renders the single SPC alert message for all features (drift.md
// §5.5). Alerts are grouped by feature in the order given (EvaluateSPC returns
// them sorted). The header is written once, before the first feature; upstream
// wrote it only when its first hash-map entry had alerts, which was a bug.
// No alerts give "".
func DescribeSPC(alerts []SPCAlert, dt DispatchType) string {
	if len(alerts) == 0 {
		return ""
	}
	var b strings.Builder
	if dt == Slack || dt == OpsGenie {
		b.WriteString("Drift has been detected for the following features:\n")
	} else {
		b.WriteString("Features that have drifted: \n")
	}
	for i, a := range alerts {
		if i == 0 || alerts[i-1].Feature != a.Feature {
			writeFeatureLine(&b, a.Feature, dt)
		}
		if dt == Slack {
			b.WriteString(indent4 + a.Kind.Text() + " error in " + a.Zone.Text() + "\n")
		} else {
			b.WriteString(indent8 + "Kind: " + a.Kind.Text() + "\n")
			b.WriteString(indent8 + "Zone: " + a.Zone.Text() + "\n")
		}
	}
	return b.String()
}

// DescribePSI renders the single PSI alert message for all drifting features.
// No alerts give "".
func DescribePSI(alerts []PSIAlert, dt DispatchType) string {
	if len(alerts) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("PSI Drift has been detected for the following features:\n")
	for _, a := range alerts {
		writeFeatureLine(&b, a.Feature, dt)
		if dt == Slack {
			b.WriteString(indent4)
		} else {
			b.WriteString(indent8)
		}
		b.WriteString("Drift Value: Feature '" + a.Feature + "' has experienced drift, with a current PSI score of " +
			FormatFloat(a.Drift) + " that exceeds the configured threshold of " + FormatFloat(a.Threshold) + ".\n")
	}
	return b.String()
}

func writeFeatureLine(b *strings.Builder, feature string, dt DispatchType) {
	if dt != Slack {
		b.WriteString(indent4)
	}
	b.WriteString(feature + ": \n")
}

// DescribeMetric renders one Custom or GenAI alert; the text is the same for
// every dispatch type.
func DescribeMetric(a MetricAlert) string {
	m := a.MetricName
	var head string
	switch {
	case a.AlertThreshold == Above && a.Delta != nil:
		head = "The " + m + " metric value has increased beyond the threshold (initial value + " + FormatFloat(*a.Delta) + ")"
	case a.AlertThreshold == Above:
		head = "The " + m + " metric value has increased beyond the initial value"
	case a.AlertThreshold == Outside && a.Delta != nil:
		head = "The " + m + " metric value has fallen outside the threshold (initial value ± " + FormatFloat(*a.Delta) + ")"
	case a.AlertThreshold == Outside:
		head = "The metric value has fallen outside the initial value for " + m
	case a.Delta != nil: // Below
		head = "The observed " + m + " metric value has dropped below the threshold (initial value - " + FormatFloat(*a.Delta) + ")"
	default:
		head = "The " + m + " metric value has dropped below the initial value"
	}
	return head + "\n" +
		"Initial Metric Value: " + FormatFloat(a.BaselineValue) + "\n" +
		"Current Metric Value: " + FormatFloat(a.ObservedValue) + "\n"
}
