package main

// The checks Grafana Pyroscope's distributor applies to a pushed series and its profiles, with its default
// limits (pkg/validation of grafana/pyroscope: label count, lengths and names, service_name, sample types,
// ids, string table, UTF-8, profile size and sample count). Written from those rules, not copied: a push
// that passes here is one Pyroscope's defaults accept.

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/google/pprof/profile"
	typesv1 "github.com/grafana/pyroscope/api/gen/proto/go/types/v1"
)

const (
	maxLabelNamesPerSeries = 30
	maxLabelNameLength     = 1024
	maxLabelValueLength    = 2048
	maxProfileSizeBytes    = 4 << 20 // uncompressed
	maxProfileSamples      = 16000
)

var (
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
)

func checkLabels(ls []*typesv1.LabelPair) []string {
	var errs []string
	if len(ls) == 0 {
		return []string{"no labels"}
	}
	if len(ls) > maxLabelNamesPerSeries {
		errs = append(errs, fmt.Sprintf("%d label names, limit %d", len(ls), maxLabelNamesPerSeries))
	}
	names := map[string]string{}
	for _, l := range ls {
		if _, dup := names[l.Name]; dup {
			errs = append(errs, "duplicate label name "+l.Name)
		}
		names[l.Name] = l.Value
		if len(l.Name) > maxLabelNameLength {
			errs = append(errs, "label name too long: "+l.Name)
		}
		if len(l.Value) > maxLabelValueLength {
			errs = append(errs, "label value too long for "+l.Name)
		}
		if !labelName.MatchString(l.Name) {
			errs = append(errs, fmt.Sprintf("invalid label name %q", l.Name))
		}
		if !utf8.ValidString(l.Value) {
			errs = append(errs, "invalid UTF-8 in the value of "+l.Name)
		}
	}
	if !metricName.MatchString(names["__name__"]) {
		errs = append(errs, fmt.Sprintf("invalid metric name (__name__) %q", names["__name__"]))
	}
	if names["service_name"] == "" {
		errs = append(errs, "service name is not provided")
	}
	sort.Strings(errs)
	return errs
}

func checkProfile(p *profile.Profile) []string {
	var errs []string
	if len(p.SampleType) == 0 {
		errs = append(errs, "empty profile (no sample types)")
	}
	// The uncompressed size, as Pyroscope limits it.
	if size := len(encode(p)); size > maxProfileSizeBytes {
		errs = append(errs, fmt.Sprintf("profile of %d bytes uncompressed, limit %d", size, maxProfileSizeBytes))
	}
	if len(p.Sample) > maxProfileSamples {
		errs = append(errs, fmt.Sprintf("%d samples, limit %d", len(p.Sample), maxProfileSamples))
	}
	for _, st := range p.SampleType {
		if strings.Contains(st.Type, "-") {
			errs = append(errs, "sample type contains -: "+st.Type)
		}
	}
	for _, s := range p.Sample {
		if len(s.Value) != len(p.SampleType) {
			errs = append(errs, "sample value length mismatch")
			break
		}
	}
	for _, l := range p.Location {
		if l.ID == 0 {
			errs = append(errs, "location id is 0")
		}
	}
	for _, f := range p.Function {
		if f.ID == 0 {
			errs = append(errs, "function id is 0")
		}
		for _, s := range []string{f.Name, f.Filename, f.SystemName} {
			if !utf8.ValidString(s) {
				errs = append(errs, "invalid UTF-8 in a function name or file")
			}
		}
	}
	// The pprof library has already refused a string table whose first entry is not "" and any index out of
	// range (profile.ParseData); CheckValid adds the cross-references (ids, sample lengths).
	if err := p.CheckValid(); err != nil {
		errs = append(errs, "pprof CheckValid: "+err.Error())
	}
	return errs
}

// encode: the protobuf without gzip, whose length is what Pyroscope limits.
func encode(p *profile.Profile) []byte {
	var b bytes.Buffer
	_ = p.WriteUncompressed(&b)
	return b.Bytes()
}
