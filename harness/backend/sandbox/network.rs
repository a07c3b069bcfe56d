//! Where each fake lives inside the sandbox's private network namespace, and the names that
//! resolve to it there (through a private /etc/hosts). Fixed ports are safe: the namespace is ours.

pub use crate::fakes::pod_identity::AGENT_ADDR;

pub const S3_HOST: &str = "s3.authmatrix.test";
pub const S3_IP: &str = "127.0.0.1";
pub const S3_PORT: u16 = 9000;

/// MinIO, for `cloud.s3: minio` scenarios: `minio:9000` as Argo's quick-start Service names it,
/// on an address of its own (moto has 127.0.0.1:9000).
pub const MINIO_NAMES: &[&str] = &["minio", "minio.authmatrix.test"];
pub const MINIO_IP: &str = "127.0.0.10";
pub const MINIO_PORT: u16 = 9000;

pub const STS_IP: &str = "127.0.0.2";
pub const STS_NAMES: &[&str] = &["sts.amazonaws.com", "sts.us-east-1.amazonaws.com"];

/// Amazon ECR (private): the registry and its API.
pub const ECR_REGISTRY_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
pub const ECR_REGISTRY_IP: &str = "127.0.0.3";
pub const ECR_API_HOST: &str = "api.ecr.us-east-1.amazonaws.com";
pub const ECR_API_IP: &str = "127.0.0.4";

/// A private registry with htpasswd auth (distribution 2.8 personality).
pub const PRIVATE_REGISTRY_HOST: &str = "registry.example.internal";
pub const PRIVATE_REGISTRY_IP: &str = "127.0.0.5";

/// A registry with Docker token auth (its token server at `/token`), and ECR Public.
pub const TOKEN_REGISTRY_HOST: &str = "token-registry.example.internal";
pub const TOKEN_REGISTRY_IP: &str = "127.0.0.6";
pub const ECR_PUBLIC_HOST: &str = "public.ecr.aws";
pub const ECR_PUBLIC_IP: &str = "127.0.0.7";
pub const ECR_PUBLIC_API_IP: &str = "127.0.0.8";

/// The mutating webhook EKS runs for IRSA and Pod Identity (fakes::eks_webhook).
pub const EKS_WEBHOOK_HOST: &str = "eks-pod-identity-webhook.authmatrix.test";
pub const EKS_WEBHOOK_IP: &str = "127.0.0.9";

/// A cluster node's addresses inside the sandbox: the `kubernetes` Service's ClusterIP, where the
/// API server listens so that pods reach it with no kube-proxy, and the node's InternalIP (the
/// kubelet refuses a loopback one).
pub const API_SERVICE_IP: &str = "10.0.0.1";
pub const NODE_IP: &str = "10.10.0.2";

/// The registries' names, for a node's containerd (each trusts the run's CA).
pub fn registry_hosts() -> [&'static str; 4] {
    [
        ECR_REGISTRY_HOST,
        PRIVATE_REGISTRY_HOST,
        TOKEN_REGISTRY_HOST,
        ECR_PUBLIC_HOST,
    ]
}

/// Every HTTPS name in the sandbox: one certificate from the harness CA covers them all.
pub fn tls_names() -> Vec<&'static str> {
    let mut names = STS_NAMES.to_vec();
    names.extend([
        ECR_REGISTRY_HOST,
        ECR_API_HOST,
        PRIVATE_REGISTRY_HOST,
        TOKEN_REGISTRY_HOST,
        ECR_PUBLIC_HOST,
        EKS_WEBHOOK_HOST,
    ]);
    names
}

/// The /etc/hosts the sandbox mounts over the real one.
pub fn hosts_file() -> String {
    let mut s = String::from("127.0.0.1 localhost\n::1 localhost\n");
    s.push_str(&format!("{S3_IP} {S3_HOST}\n"));
    s.push_str(&format!("{MINIO_IP} {}\n", MINIO_NAMES.join(" ")));
    s.push_str(&format!("{STS_IP} {}\n", STS_NAMES.join(" ")));
    s.push_str(&format!(
        "{ECR_REGISTRY_IP} {ECR_REGISTRY_HOST}\n{ECR_API_IP} {ECR_API_HOST}\n"
    ));
    s.push_str(&format!("{PRIVATE_REGISTRY_IP} {PRIVATE_REGISTRY_HOST}\n"));
    s.push_str(&format!(
        "{TOKEN_REGISTRY_IP} {TOKEN_REGISTRY_HOST}\n{ECR_PUBLIC_IP} {ECR_PUBLIC_HOST}\n"
    ));
    s.push_str(&format!("{EKS_WEBHOOK_IP} {EKS_WEBHOOK_HOST}\n"));
    s
}

/// The fakes as another network namespace behind the sandbox sees them (kind's node and its pods,
/// routed through the sandbox): loopback addresses are not routed, so the sandbox maps this network
/// one to one onto 127.0.0.0/24 (`iptables … -j NETMAP`, with `route_localnet`), and the names
/// resolve to it there.
pub const OUTSIDE_NET: &str = "10.254.0.0/24";

/// `hosts_file()` with each fake's outside address (`OUTSIDE_NET`), without localhost.
pub fn outside_hosts() -> String {
    hosts_file()
        .lines()
        .filter_map(|line| {
            let (ip, names) = line.split_once(' ')?;
            let last = ip.strip_prefix("127.0.0.")?;
            (!names.split(' ').any(|n| n == "localhost"))
                .then(|| format!("10.254.0.{last} {names}\n"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fake_name_has_an_outside_address_in_the_mapped_network() {
        let outside = outside_hosts();
        for name in tls_names().into_iter().chain([S3_HOST]) {
            let line = outside
                .lines()
                .find(|l| l.split(' ').skip(1).any(|n| n == name))
                .unwrap_or_else(|| panic!("{name} in {outside}"));
            assert!(line.starts_with("10.254.0."), "{line}");
        }
        assert!(outside.contains(&format!("10.254.0.2 {}", STS_NAMES.join(" "))));
        assert!(!outside.contains("localhost"));
    }
}
