// One binary for every Kubernetes program both cluster providers run, chosen by the name it is
// called by (argv[0], as busybox: /usr/bin/kubelet -> kube) or else by its first argument
// (`kube kube-apiserver …`, as hyperkube once was): kube-apiserver, kube-controller-manager,
// kube-scheduler, kubelet and kube-proxy for local-up; kubeadm, kubelet and kubectl on the kind node
// and the control plane in its component images. Linking seven 100+ MB binaries separately costs
// many minutes on two cores; one link is shared, and one build serves both providers.
// Each branch is exactly the component's own main (k8s.io/kubernetes/cmd/<component>).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata"

	"github.com/spf13/cobra"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubeadm "k8s.io/kubernetes/cmd/kubeadm/app"
	kubeadmerrors "k8s.io/kubernetes/cmd/kubeadm/app/util/errors"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

var components = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
	"kube-proxy":              proxy.NewProxyCommand,
}

func run(name string) bool {
	switch name {
	case "kubeadm": // cmd/kubeadm/kubeadm.go
		kubeadmerrors.HandleError(kubeadm.Run())
		return true
	case "kubectl": // cmd/kubectl/kubectl.go
		logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args)) // nolint:errcheck
		command := kubectlcmd.NewDefaultKubectlCommand()
		if err := cli.RunNoErrOutput(command); err != nil {
			kubectlutil.CheckErr(err)
		}
		return true
	}
	if component := components[name]; component != nil {
		os.Exit(cli.Run(component()))
	}
	return false
}

func main() {
	if run(filepath.Base(os.Args[0])) {
		return
	}
	if len(os.Args) > 1 {
		// `kube kubelet --flags`: the programs see themselves called by their own name.
		os.Args = os.Args[1:]
		if run(os.Args[0]) {
			return
		}
	}
	fmt.Fprintln(os.Stderr, "usage: kube kubeadm|kubelet|kubectl|kube-apiserver|kube-controller-manager|kube-scheduler|kube-proxy [args] (or call it by one of those names)")
	os.Exit(2)
}
