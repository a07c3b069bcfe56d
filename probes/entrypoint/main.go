// Command entrypoint runs the workflow-controller's image entrypoint lookup: Argo's own
// workflow/controller/entrypoint index (config index → registry via k8schain), against a fake
// clientset holding the workflow's service account and pull secrets, in the environment the
// controller pod has. A lookup error is wrapped with the format the controller of this very tag uses
// (lookupErrorFormat, generated at build time from the tag's workflow/controller/workflowpod.go).
//
// With "mode": "ecr-helper" it calls the ECR credential helper alone (as k8schain embeds it, but
// logging to stderr), to show the real cause behind an anonymous 401.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/argoproj/argo-workflows/v3/config"
	"github.com/argoproj/argo-workflows/v3/workflow/controller/entrypoint"
	ecr "github.com/awslabs/amazon-ecr-credential-helper/ecr-login"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

type serviceAccount struct {
	Name             string   `json:"name"`
	ImagePullSecrets []string `json:"imagePullSecrets"`
}

type secret struct {
	Name string            `json:"name"`
	Type string            `json:"type"`
	Data map[string]string `json:"data"`
}

type request struct {
	Mode               string                  `json:"mode"`
	Image              string                  `json:"image"`
	Namespace          string                  `json:"namespace"`
	ServiceAccountName string                  `json:"serviceAccountName"`
	ImagePullSecrets   []string                `json:"imagePullSecrets"`
	ServiceAccounts    []serviceAccount        `json:"serviceAccounts"`
	Secrets            []secret                `json:"secrets"`
	Images             map[string]config.Image `json:"images"`
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
	// ecr-login panics when the AWS SDK cannot load its configuration; the controller's operator
	// recovers panics, so the probe reports one as an error rather than crashing.
	defer func() {
		if p := recover(); p != nil {
			res = result{Stage: req.Mode, Error: fmt.Sprintf("panic: %v", p)}
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
	for _, sa := range req.ServiceAccounts {
		obj := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa.Name, Namespace: req.Namespace}}
		for _, s := range sa.ImagePullSecrets {
			obj.ImagePullSecrets = append(obj.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		objects = append(objects, obj)
	}
	for _, s := range req.Secrets {
		data := map[string][]byte{}
		for k, v := range s.Data {
			data[k] = []byte(v)
		}
		objects = append(objects, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: req.Namespace}, Type: corev1.SecretType(s.Type), Data: data})
	}
	var pullSecrets []corev1.LocalObjectReference
	for _, s := range req.ImagePullSecrets {
		pullSecrets = append(pullSecrets, corev1.LocalObjectReference{Name: s})
	}
	// As NewWorkflowController does: entrypoint.New(kubeclientset, wfc.Config.Images).
	index := entrypoint.New(fake.NewSimpleClientset(objects...), req.Images)
	img, err := index.Lookup(context.Background(), req.Image, entrypoint.Options{
		Namespace: req.Namespace, ServiceAccountName: req.ServiceAccountName, ImagePullSecrets: pullSecrets,
	})
	if err != nil {
		return result{Stage: "lookup", Error: fmt.Errorf(lookupErrorFormat, req.Image, err).Error()}
	}
	return result{Stage: "lookup", OK: true, Entrypoint: img.Entrypoint, Cmd: img.Cmd}
}
