package gitops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/aggregator"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/engine"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/event"
	kstatus "github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/runtime/cel"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// The healthCheckExprs of the shipped recipe, exactly as a Kustomization carries them.
func shippedExprs(t *testing.T) []kustomize.CustomHealthCheck {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(flux, "checks-healthcheckexprs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var k struct {
			Kind     string
			Metadata struct{ Name string }
			Spec     struct {
				HealthCheckExprs []kustomize.CustomHealthCheck `json:"healthCheckExprs"`
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &k); err != nil {
			t.Fatal(err)
		}
		if k.Kind == "Kustomization" && k.Metadata.Name == "shop-checks" {
			if len(k.Spec.HealthCheckExprs) != 1 {
				t.Fatalf("shop-checks has %d healthCheckExprs", len(k.Spec.HealthCheckExprs))
			}
			return k.Spec.HealthCheckExprs
		}
	}
	t.Fatal("no shop-checks Kustomization in checks-healthcheckexprs.yaml")
	return nil
}

// The status reader kustomize-controller puts in front of the poller's default readers: it
// calls cel.NewStatusReader(obj.Spec.HealthCheckExprs) and adds readerCtor(mapper) to the
// poller's CustomStatusReaders, which are asked before the built-in ones.
func exprsReader(t *testing.T) engine.StatusReader {
	t.Helper()
	ctor, err := cel.NewStatusReader(shippedExprs(t))
	if err != nil {
		t.Fatalf("Flux rejects the expressions: %v", err)
	}
	reader := ctor(meta.NewDefaultRESTMapper(nil))
	if gk := (schema.GroupKind{Group: "readygate.io", Kind: "ReadinessCheck"}); !reader.Supports(gk) {
		t.Fatalf("the CEL reader does not take %s", gk)
	}
	return reader
}

// The recipe on every captured object: InProgress from the first write to the verdict and
// for an unobserved generation, Current after a pass, Failed after any other verdict, and
// never Current before readygate wrote a status.
func TestFluxHealthCheckExprs(t *testing.T) {
	reader := exprsReader(t)
	for _, w := range table {
		t.Run(w.file, func(t *testing.T) {
			rs, err := reader.ReadStatusForObject(context.Background(), nil, load(t, w.file))
			if err != nil {
				t.Fatal(err)
			}
			if string(rs.Status) != w.exprs {
				t.Fatalf("healthCheckExprs read %s (error %v), want %s", rs.Status, rs.Error, w.exprs)
			}
			if (rs.Status == kstatus.UnknownStatus) != (rs.Error != nil) {
				t.Fatalf("status %s with error %v", rs.Status, rs.Error)
			}
		})
	}
}

// The early window `wait: true` leaves open is closed by the recipe. Before readygate's first
// write the expressions cannot be evaluated (the object has no `status` variable), so the
// reader reports Unknown with the evaluation error; kustomize-controller's wait
// (fluxcd/pkg/ssa WaitForSetWithContext) stops only when the aggregate is Current or every
// object is Current or Failed, so it keeps polling until the first write turns the check
// InProgress. Plain kstatus reads the same object as Current (TestKstatusCallsNoStatusCurrent).
func TestFluxHealthCheckExprsCloseTheEarlyWindow(t *testing.T) {
	reader := exprsReader(t)
	ctx := context.Background()
	var seen []*event.ResourceStatus
	for _, file := range []string{"no-status", "first-write", "verifying", "passed"} {
		rs, err := reader.ReadStatusForObject(ctx, nil, load(t, file))
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, rs)
	}
	noStatus := seen[0]
	if noStatus.Status == kstatus.CurrentStatus || noStatus.Status == kstatus.FailedStatus {
		t.Fatalf("no status: %s, Flux would stop waiting", noStatus.Status)
	}
	if noStatus.Error == nil || !strings.Contains(noStatus.Error.Error(), "status") {
		t.Fatalf("no status: want the evaluation error naming `status`, got %v", noStatus.Error)
	}
	// what the wait loop aggregates (desired Current) at each moment of one check's life
	for i, want := range []kstatus.Status{kstatus.UnknownStatus, kstatus.InProgressStatus,
		kstatus.InProgressStatus, kstatus.CurrentStatus} {
		if got := aggregator.AggregateStatus(seen[i:i+1], kstatus.CurrentStatus); got != want {
			t.Errorf("aggregate of %s: %s, want %s", []string{"no-status", "first-write",
				"verifying", "passed"}[i], got, want)
		}
	}

	// The evaluator alone, as RFC 0009 orders it: the built-in generation check first, then
	// inProgress, failed, current.
	exprs := shippedExprs(t)[0].HealthCheckExpressions
	ev, err := cel.NewStatusEvaluator(&exprs)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := ev.Evaluate(ctx, load(t, "no-status")); err == nil {
		t.Fatalf("no status evaluated to %s; the docs say it cannot be evaluated", res.Status)
	}
	res, err := ev.Evaluate(ctx, load(t, "generation-not-observed"))
	if err != nil || res.Status != kstatus.InProgressStatus {
		t.Fatalf("generation not observed (stale Ready=True): %v %v", res, err)
	}
}
