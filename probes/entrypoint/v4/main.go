// Command entrypoint (Argo 4.x) runs the workflow-controller's image entrypoint lookup: Argo's own
// workflow/controller/entrypoint index (config index → registry via k8schain), against a fake
// clientset holding the namespace's objects (the same Kubernetes objects the cluster backend
// creates), for the Workflow's first template, in the environment the controller pod has. A lookup
// error is wrapped with the format the controller of this very tag uses (lookupErrorFormat,
// generated at build time from the tag's workflow/controller/workflowpod.go).
//
// The same probe as ../main.go (Argo 3.x), through v4's API: module path /v4 and a logger in the
// ctx (the entrypoint cache index calls logging.RequireLoggerFromContext). From v4.0.0 the registry
// lookup asks for the controller's own platform (remote.WithPlatform{runtime.GOARCH, runtime.GOOS}),
// so this probe, built for the controller's platform, behaves as the controller does.
//
// With "mode": "ecr-helper" it calls the ECR credential helper alone (as k8schain embeds it, but
// logging to stderr), to show the real cause behind an anonymous 401.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/argoproj/argo-workflows/v4/config"
	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/controller/entrypoint"
	ecr "github.com/awslabs/amazon-ecr-credential-helper/ecr-login"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
)

type request struct {
	Mode      string `json:"mode"`
	Namespace string `json:"namespace"`
	// Objects are Kubernetes objects as JSON (ServiceAccounts, Secrets), with apiVersion and kind.
	Objects  []json.RawMessage       `json:"objects"`
	Workflow wfv1.Workflow           `json:"workflow"`
	Images   map[string]config.Image `json:"images"`
	// Registry is the host the ECR helper is asked about (mode ecr-helper).
	Registry string `json:"registry"`
}

type result struct {
	Stage      string   `json:"stage"`
	OK         bool     `json:"ok"`
	Error      string   `json:"error,omitempty"`
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
}

func run(path string) (res result) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return result{Stage: "decode", Error: err.Error()}
	}
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return result{Stage: "decode", Error: err.Error()}
	}
	// ecr-login panics when the AWS SDK cannot load its configuration. The controller's operator
	// recovers panics and marks the workflow Error with the panic value as its message
	// (workflow/controller/operator.go, operate: markWorkflowError(ctx, rerr) for an error value,
	// else markWorkflowError(ctx, fmt.Errorf("%v", r)) — the same text), so the probe reports
	// exactly that, at stage "panic" (the cluster backend shows the same message).
	defer func() {
		if p := recover(); p != nil {
			res = result{Stage: "panic", Error: fmt.Sprintf("%v", p)}
		}
	}()
	if req.Mode == "ecr-helper" {
		os.Setenv("AWS_ECR_DISABLE_CACHE", "1")
		user, _, err := ecr.NewECRHelper(ecr.WithLogger(os.Stderr)).Get(req.Registry)
		if err != nil {
			return result{Stage: "ecr-helper", Error: err.Error()}
		}
		return result{Stage: "ecr-helper", OK: true, Entrypoint: []string{"user=" + user}}
	}

	objects := []runtime.Object{}
	for _, raw := range req.Objects {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(raw, nil, nil)
		if err != nil {
			return result{Stage: "decode", Error: err.Error()}
		}
		objects = append(objects, obj)
	}
	if len(req.Workflow.Spec.Templates) == 0 || req.Workflow.Spec.Templates[0].Container == nil {
		return result{Stage: "decode", Error: "the workflow has no container template"}
	}
	image := req.Workflow.Spec.Templates[0].Container.Image
	// The controller passes the workflow-level service account and pull secrets (workflowpod.go).
	serviceAccountName := req.Workflow.Spec.ServiceAccountName
	pullSecrets := req.Workflow.Spec.ImagePullSecrets
	// The logger the controller's command puts in its context (cmd/workflow-controller/main.go:
	// cmdutil.CmdContextWithLogger with the defaults --loglevel info --log-format text, to stderr).
	ctx := logging.WithLogger(context.Background(), logging.NewSlogLogger(logging.Info, logging.Text))
	// As NewWorkflowController does: entrypoint.New(kubeclientset, wfc.Config.Images).
	index := entrypoint.New(fake.NewSimpleClientset(objects...), req.Images)
	img, err := index.Lookup(ctx, image, entrypoint.Options{
		Namespace: req.Namespace, ServiceAccountName: serviceAccountName, ImagePullSecrets: pullSecrets,
	})
	if err != nil {
		return result{Stage: "lookup", Error: fmt.Errorf(lookupErrorFormat, image, err).Error()}
	}
	return result{Stage: "lookup", OK: true, Entrypoint: img.Entrypoint, Cmd: img.Cmd}
}
