package main

// The "profilefile" exporter: every batch of profiles the collector hands it becomes one JSON line in
// `path`, with two parts:
//   - "otlp": the batch as the collector's own pdata marshals it to OTLP JSON (what was received, verbatim);
//   - "profiles": the same batch resolved through pdata's accessors (each sample's stack as
//     "function file:line" strings, root first, with its values; the resource attributes), so that a test
//     compares what the collector understood, not its own decoding of the indices.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/exporter/xexporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pprofile"
)

type profileFileConfig struct {
	Path string `mapstructure:"path"`
}

func newProfileFileFactory() exporter.Factory {
	return xexporter.NewFactory(
		component.MustNewType("profilefile"),
		func() component.Config { return &profileFileConfig{} },
		xexporter.WithProfiles(createProfileFile, component.StabilityLevelDevelopment),
	)
}

func createProfileFile(ctx context.Context, set exporter.Settings, cfg component.Config) (xexporter.Profiles, error) {
	c := cfg.(*profileFileConfig)
	if c.Path == "" {
		return nil, fmt.Errorf("profilefile: path is required")
	}
	w := &profileFileWriter{path: c.Path}
	return xexporterhelper.NewProfiles(ctx, set, cfg, w.write)
}

type profileFileWriter struct {
	mu   sync.Mutex
	path string
}

type resolvedSample struct {
	Stack  []string `json:"stack"`
	Values []int64  `json:"values"`
}

type resolvedProfile struct {
	Resource     map[string]any   `json:"resource"`
	Scope        string           `json:"scope"`
	SampleType   string           `json:"sampleType"`
	SampleUnit   string           `json:"sampleUnit"`
	PeriodType   string           `json:"periodType"`
	PeriodUnit   string           `json:"periodUnit"`
	Period       int64            `json:"period"`
	TimeUnixNano uint64           `json:"timeUnixNano"`
	DurationNano uint64           `json:"durationNano"`
	Samples      []resolvedSample `json:"samples"`
}

func str(strings pcommon.StringSlice, i int32) string {
	if i < 0 || int(i) >= strings.Len() {
		return fmt.Sprintf("<bad string index %d>", i)
	}
	return strings.At(int(i))
}

func resolve(pd pprofile.Profiles) []resolvedProfile {
	dict := pd.Dictionary()
	strings := dict.StringTable()
	var out []resolvedProfile
	for i := 0; i < pd.ResourceProfiles().Len(); i++ {
		rp := pd.ResourceProfiles().At(i)
		resource := rp.Resource().Attributes().AsRaw()
		for j := 0; j < rp.ScopeProfiles().Len(); j++ {
			sp := rp.ScopeProfiles().At(j)
			for k := 0; k < sp.Profiles().Len(); k++ {
				p := sp.Profiles().At(k)
				r := resolvedProfile{
					Resource:     resource,
					Scope:        sp.Scope().Name(),
					SampleType:   str(strings, p.SampleType().TypeStrindex()),
					SampleUnit:   str(strings, p.SampleType().UnitStrindex()),
					PeriodType:   str(strings, p.PeriodType().TypeStrindex()),
					PeriodUnit:   str(strings, p.PeriodType().UnitStrindex()),
					Period:       p.Period(),
					TimeUnixNano: uint64(p.Time()),
					DurationNano: p.DurationNano(),
				}
				for s := 0; s < p.Samples().Len(); s++ {
					sample := p.Samples().At(s)
					var frames []string
					if si := int(sample.StackIndex()); si >= 0 && si < dict.StackTable().Len() {
						locs := dict.StackTable().At(si).LocationIndices()
						// Leaf first in OTLP; root first here.
						for l := locs.Len() - 1; l >= 0; l-- {
							li := int(locs.At(l))
							if li < 0 || li >= dict.LocationTable().Len() {
								frames = append(frames, fmt.Sprintf("<bad location index %d>", li))
								continue
							}
							lines := dict.LocationTable().At(li).Lines()
							for n := lines.Len() - 1; n >= 0; n-- {
								line := lines.At(n)
								fi := int(line.FunctionIndex())
								if fi < 0 || fi >= dict.FunctionTable().Len() {
									frames = append(frames, fmt.Sprintf("<bad function index %d>", fi))
									continue
								}
								fn := dict.FunctionTable().At(fi)
								frames = append(frames, fmt.Sprintf("%s %s:%d", str(strings, fn.NameStrindex()), str(strings, fn.FilenameStrindex()), line.Line()))
							}
						}
					} else {
						frames = append(frames, fmt.Sprintf("<bad stack index %d>", si))
					}
					r.Samples = append(r.Samples, resolvedSample{Stack: frames, Values: sample.Values().AsRaw()})
				}
				out = append(out, r)
			}
		}
	}
	return out
}

func (w *profileFileWriter) write(_ context.Context, pd pprofile.Profiles) error {
	// Resolved first: the marshaler interns attribute strings into the dictionary, in place.
	resolved := resolve(pd)
	raw, err := (&pprofile.JSONMarshaler{}).MarshalProfiles(pd)
	if err != nil {
		return err
	}
	line, err := json.Marshal(map[string]any{"otlp": json.RawMessage(raw), "profiles": resolved})
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(line, '\n'))
	return err
}
