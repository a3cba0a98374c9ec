// Command promopcfg renders the Prometheus configuration that the Prometheus Operator generates
// for a Prometheus resource and the ServiceMonitors it selects, with the operator's own code:
// pkg/prometheus (promcfg.go), ConfigGenerator.GenerateServerConfiguration, called the way
// pkg/prometheus/server/operator.go (createOrUpdateConfigurationSecret) calls it.
//
//	promopcfg PROMETHEUS.yaml SERVICEMONITOR.yaml...
//
// prints the generated prometheus.yaml (what the operator stores, gzipped, in the Secret
// prometheus-<name>). Each file holds one object as a user would apply it; no cluster is
// contacted. tests/e2e/promoperator.py builds and runs it (tests/e2e/test_servicemonitor.py).
package main

import (
	"fmt"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus-operator/prometheus-operator/pkg/assets"
	prompkg "github.com/prometheus-operator/prometheus-operator/pkg/prometheus"
	"sigs.k8s.io/yaml"
)

func load(path string, into any) {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		fail(fmt.Errorf("%s: %w", path, err))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "promopcfg:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 3 {
		fail(fmt.Errorf("usage: promopcfg PROMETHEUS.yaml SERVICEMONITOR.yaml..."))
	}
	prom := &monitoringv1.Prometheus{}
	load(os.Args[1], prom)
	sMons := map[string]*monitoringv1.ServiceMonitor{}
	for _, path := range os.Args[2:] {
		sm := &monitoringv1.ServiceMonitor{}
		load(path, sm)
		sMons[sm.Namespace+"/"+sm.Name] = sm
	}
	// The operator passes WithEndpointSliceSupport() only when it was told to use
	// EndpointSlices; with the default serviceDiscoveryRole (Endpoints) the role is the same.
	cg, err := prompkg.NewConfigGenerator(nil, prom)
	if err != nil {
		fail(err)
	}
	conf, err := cg.GenerateServerConfiguration(
		prom, sMons, nil, nil, nil, assets.NewTestStoreBuilder(), nil, nil, nil, nil)
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(conf)
}
