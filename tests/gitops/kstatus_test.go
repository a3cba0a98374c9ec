package gitops

import (
	"context"
	"strings"
	"testing"

	fluxreaders "github.com/fluxcd/cli-utils/pkg/kstatus/polling/statusreaders"
	fluxstatus "github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// kstatus' generic rules on every captured object: InProgress from the operator's first write
// until the verdict (Reconciling=True) and while a generation is not observed; Current after a
// pass; Failed after any other verdict (Stalled=True); Terminating once deleted.
func TestKstatusCompute(t *testing.T) {
	for _, w := range table {
		t.Run(w.file, func(t *testing.T) {
			u := load(t, w.file)
			res, err := status.Compute(u)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Status) != w.kstatus {
				t.Fatalf("kstatus %s (%q), want %s", res.Status, res.Message, w.kstatus)
			}
			// the message a Flux or kpt user sees is readygate's own where kstatus takes one
			switch res.Status {
			case status.InProgressStatus:
				if u.GetGeneration() != observedGeneration(u) {
					if !strings.Contains(res.Message, "latest observed generation is") {
						t.Errorf("message %q", res.Message)
					}
				} else if want := condition(u, "Reconciling")["message"]; res.Message != want {
					t.Errorf("message %q, want the Reconciling message %q", res.Message, want)
				}
			case status.FailedStatus:
				if want := condition(u, "Stalled")["message"]; res.Message != want {
					t.Errorf("message %q, want the Stalled message %q", res.Message, want)
				}
			}
		})
	}
}

// Plain kstatus reads an object nobody wrote a status into as Current: the early window of
// `wait: true` (and `healthChecks`), between the apply and readygate's first status write.
func TestKstatusCallsNoStatusCurrent(t *testing.T) {
	u := load(t, "no-status")
	res, err := status.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != status.CurrentStatus {
		t.Fatalf("kstatus %s: the known early window is gone, update docs/gating.md", res.Status)
	}
}

// Flux's `wait: true` and `healthChecks` do not call sigs.k8s.io/cli-utils but its fork,
// github.com/fluxcd/cli-utils, through the poller's default status reader (a generic reader
// around status.Compute; ReadinessCheck has no reader of its own). It must agree everywhere.
func TestFluxWaitDefaultStatusReader(t *testing.T) {
	reader := fluxreaders.NewGenericStatusReader(meta.NewDefaultRESTMapper(nil), fluxstatus.Compute)
	for _, w := range table {
		t.Run(w.file, func(t *testing.T) {
			rs, err := reader.ReadStatusForObject(context.Background(), nil, load(t, w.file))
			if err != nil {
				t.Fatal(err)
			}
			if rs.Error != nil {
				t.Fatalf("status reader error: %v", rs.Error)
			}
			if string(rs.Status) != w.kstatus {
				t.Fatalf("flux wait reads %s (%q), want %s", rs.Status, rs.Message, w.kstatus)
			}
		})
	}
}

func observedGeneration(u interface{ UnstructuredContent() map[string]any }) int64 {
	status, _ := u.UnstructuredContent()["status"].(map[string]any)
	g, _ := status["observedGeneration"].(int64)
	return g
}
