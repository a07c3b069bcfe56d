// Command s3 (Argo 4.x) runs the code argoexec's init container runs to load an S3 input artifact:
// Argo's own driver factory (workflow/artifacts.NewDriver, which wraps the S3 driver in Argo's
// logging driver) and the driver's Load. The same probe as ../main.go (Argo 3.x), through v4's API:
// module path /v4, package `artifacts`, Load takes a ctx, and every call needs a logger in the ctx.
//
// JSON in (the path given as first argument), JSON out (the path given as second argument).
// stdout and stderr are left to Argo's own loggers: the harness keeps them as evidence.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/artifacts"
)

type request struct {
	// Artifact is the workflow's input artifact, in Argo's own schema.
	Artifact wfv1.Artifact `json:"artifact"`
	// Secrets stands in for the Kubernetes secrets the executor would read: name -> key -> value.
	Secrets map[string]map[string]string `json:"secrets"`
	// WorkDir is where the artifact is loaded to.
	WorkDir string `json:"workDir"`
}

type result struct {
	// Stage is where the probe stopped: "decode", "driver" (NewDriver) or "load" (Load).
	Stage  string `json:"stage"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	Bytes  int    `json:"bytes,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// secrets implements Argo's resource.Interface the way the executor's Kubernetes-backed one does:
// a missing secret or key is an error.
type secrets map[string]map[string]string

func (s secrets) GetSecret(_ context.Context, name, key string) (string, error) {
	data, ok := s[name]
	if !ok {
		return "", fmt.Errorf("secrets %q not found", name)
	}
	v, ok := data[key]
	if !ok {
		return "", fmt.Errorf("secret '%s' does not have the key '%s'", name, key)
	}
	return v, nil
}

func (s secrets) GetConfigMapKey(_ context.Context, name, _ string) (string, error) {
	return "", fmt.Errorf("configmaps %q not found", name)
}

func run(requestPath string) result {
	raw, err := os.ReadFile(requestPath)
	if err != nil {
		return result{Stage: "decode", Error: err.Error()}
	}
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return result{Stage: "decode", Error: err.Error()}
	}
	// The logger argoexec's root command puts in its context (cmd/argoexec/commands/root.go:
	// cmdutil.CmdContextWithLogger with the defaults --loglevel info --log-format text, which writes
	// to stderr, then WithField("argo", true)). Without one, Argo's calls panic with
	// "logger not found in context".
	logger := logging.NewSlogLogger(logging.Info, logging.Text).WithField("argo", true)
	ctx := logging.WithLogger(context.Background(), logger)
	drv, err := artifacts.NewDriver(ctx, &req.Artifact, secrets(req.Secrets))
	if err != nil {
		return result{Stage: "driver", Error: err.Error()}
	}
	dest := filepath.Join(req.WorkDir, "artifact")
	if err := drv.Load(ctx, &req.Artifact, dest); err != nil {
		return result{Stage: "load", Error: err.Error()}
	}
	body, err := os.ReadFile(dest)
	if err != nil {
		return result{Stage: "load", Error: "artifact loaded but not readable: " + err.Error()}
	}
	sum := sha256.Sum256(body)
	return result{Stage: "load", OK: true, Bytes: len(body), SHA256: hex.EncodeToString(sum[:])}
}
