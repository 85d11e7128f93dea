// Command memlens-pyroscope-receiver stands in for a Grafana Pyroscope server in memlens's tests (the server
// cannot be built here: its module is not served by the Go module proxy). It serves Pyroscope's push API,
// /push.v1.PusherService/Push, with the Connect handler generated from Pyroscope's own push.proto (module
// github.com/grafana/pyroscope/api), decodes every request with Pyroscope's protobuf types, parses each
// rawProfile with the pprof library, applies the checks Pyroscope's ingestion applies (see check.go), and
// appends what it received to OUT/requests.jsonl (each raw profile also goes to OUT/profile-N.pb.gz, for
// `go tool pprof`). A request that fails a check is refused with invalid_argument, as Pyroscope would.
//
// Usage: memlens-pyroscope-receiver -out DIR [-listen 127.0.0.1:0] [-delay 5s] [-fail-first N] [-refuse]
// The first line on stdout is "listening on HOST:PORT".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/google/pprof/profile"
	pushv1 "github.com/grafana/pyroscope/api/gen/proto/go/push/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/push/v1/pushv1connect"
)

type receivedSample struct {
	ID      string          `json:"id"`
	File    string          `json:"file"`
	Errors  []string        `json:"errors"`
	Profile *decodedProfile `json:"profile,omitempty"`
}

type receivedSeries struct {
	Labels  map[string]string `json:"labels"`
	Errors  []string          `json:"errors"`
	Samples []receivedSample  `json:"samples"`
}

type receivedRequest struct {
	N        int               `json:"n"`
	Headers  map[string]string `json:"headers"`
	Series   []receivedSeries  `json:"series"`
	Answered string            `json:"answered"`
}

type decodedSample struct {
	Stack  []string `json:"stack"`
	Values []int64  `json:"values"`
}

type decodedProfile struct {
	SampleTypes       []string        `json:"sampleTypes"`
	PeriodType        string          `json:"periodType"`
	Period            int64           `json:"period"`
	TimeNanos         int64           `json:"timeNanos"`
	DurationNanos     int64           `json:"durationNanos"`
	DefaultSampleType string          `json:"defaultSampleType"`
	Comments          []string        `json:"comments"`
	Samples           []decodedSample `json:"samples"`
}

type receiver struct {
	out       string
	delay     time.Duration
	failFirst int
	refuse    bool

	mu sync.Mutex
	n  int
}

func (r *receiver) Push(ctx context.Context, req *connect.Request[pushv1.PushRequest]) (*connect.Response[pushv1.PushResponse], error) {
	r.mu.Lock()
	r.n++
	n := r.n
	r.mu.Unlock()
	rec := receivedRequest{N: n, Headers: map[string]string{}}
	for _, h := range []string{"X-Scope-OrgID", "Authorization", "Content-Type", "Connect-Protocol-Version", "User-Agent", "Content-Encoding"} {
		if v := req.Header().Get(h); v != "" {
			rec.Headers[h] = v
		}
	}
	failed := false
	for si, series := range req.Msg.Series {
		s := receivedSeries{Labels: map[string]string{}}
		s.Errors = checkLabels(series.Labels)
		for _, l := range series.Labels {
			s.Labels[l.Name] = l.Value
		}
		failed = failed || len(s.Errors) > 0
		for pi, raw := range series.Samples {
			file := filepath.Join(r.out, fmt.Sprintf("profile-%d-%d-%d.pb.gz", n, si, pi))
			sample := receivedSample{ID: raw.ID, File: file}
			if err := os.WriteFile(file, raw.RawProfile, 0o644); err != nil {
				return nil, connect.NewError(connect.CodeInternal, err)
			}
			p, err := profile.ParseData(raw.RawProfile)
			if err != nil {
				sample.Errors = append(sample.Errors, "pprof: "+err.Error())
			} else {
				sample.Errors = append(sample.Errors, checkProfile(p)...)
				sample.Profile = decode(p)
			}
			failed = failed || len(sample.Errors) > 0
			s.Samples = append(s.Samples, sample)
		}
		rec.Series = append(rec.Series, s)
	}
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			rec.Answered = "cancelled by the client"
			r.record(rec)
			return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
		}
	}
	var answer error
	switch {
	case r.refuse:
		answer = connect.NewError(connect.CodePermissionDenied, errors.New("this receiver refuses every push (-refuse)"))
	case n <= r.failFirst:
		answer = connect.NewError(connect.CodeUnavailable, fmt.Errorf("failing the first %d pushes (-fail-first)", r.failFirst))
	case failed:
		answer = connect.NewError(connect.CodeInvalidArgument, errors.New("the push failed Pyroscope's checks (see requests.jsonl)"))
	}
	if answer != nil {
		rec.Answered = answer.Error()
	} else {
		rec.Answered = "ok"
	}
	r.record(rec)
	if answer != nil {
		return nil, answer
	}
	return connect.NewResponse(&pushv1.PushResponse{}), nil
}

func (r *receiver) record(rec receivedRequest) {
	line, _ := json.Marshal(rec)
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(r.out, "requests.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n'))
}

// decode: the profile as the test compares it, each sample's stack root first as "function file:line".
func decode(p *profile.Profile) *decodedProfile {
	d := &decodedProfile{Period: p.Period, TimeNanos: p.TimeNanos, DurationNanos: p.DurationNanos, DefaultSampleType: p.DefaultSampleType, Comments: p.Comments}
	for _, st := range p.SampleType {
		d.SampleTypes = append(d.SampleTypes, st.Type+"/"+st.Unit)
	}
	if p.PeriodType != nil {
		d.PeriodType = p.PeriodType.Type + "/" + p.PeriodType.Unit
	}
	for _, s := range p.Sample {
		var stack []string
		for i := len(s.Location) - 1; i >= 0; i-- {
			loc := s.Location[i]
			for j := len(loc.Line) - 1; j >= 0; j-- {
				line := loc.Line[j]
				name, file := "", ""
				if line.Function != nil {
					name, file = line.Function.Name, line.Function.Filename
				}
				stack = append(stack, fmt.Sprintf("%s %s:%d", name, file, line.Line))
			}
		}
		d.Samples = append(d.Samples, decodedSample{Stack: stack, Values: s.Value})
	}
	return d
}

func main() {
	out := flag.String("out", "", "directory for requests.jsonl and the raw profiles")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	delay := flag.Duration("delay", 0, "wait this long before answering each push (a slow backend)")
	failFirst := flag.Int("fail-first", 0, "answer the first N pushes with unavailable (a backend that recovers)")
	refuse := flag.Bool("refuse", false, "answer every push with permission_denied")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "memlens-pyroscope-receiver: -out DIR is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r := &receiver{out: *out, delay: *delay, failFirst: *failFirst, refuse: *refuse}
	mux := http.NewServeMux()
	mux.Handle(pushv1connect.NewPusherServiceHandler(r))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	srv := &http.Server{Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
