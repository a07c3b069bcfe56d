//! What a backend learnt about one Argo version when it prepared it: toolchain and the versions of
//! the modules that explain the auth behaviour.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Modules whose versions explain the auth behaviour; the report shows them per tag.
pub const KEY_MODULES: &[&str] = &[
    "github.com/aws/aws-sdk-go",
    "github.com/aws/aws-sdk-go-v2",
    "github.com/aws/aws-sdk-go-v2/config",
    "github.com/minio/minio-go/v7",
    "github.com/argoproj/pkg",
    "github.com/google/go-containerregistry",
    "github.com/google/go-containerregistry/pkg/authn/k8schain",
    "github.com/awslabs/amazon-ecr-credential-helper/ecr-login",
    "github.com/aws/aws-sdk-go-v2/service/ecr",
];

/// What a backend knows about one Argo version after preparing it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagInfo {
    pub go_version: String,
    pub checksums: String,
    pub required: BTreeMap<String, String>,
    pub linked: BTreeMap<String, String>,
    /// Set when the version could not be prepared: every cell of it is an infra error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TagInfo {
    /// A key module's version as the reports show it: the version Argo's module graph selects,
    /// marked when the probe does not link it, or a dash when absent.
    pub fn module_version(&self, module: &str) -> String {
        match (self.required.get(module), self.linked.contains_key(module)) {
            (Some(v), true) => v.clone(),
            (Some(v), false) => format!("{v} (not linked)"),
            (None, _) => "—".into(),
        }
    }
}
