//! Mints temporary credentials that the S3 server really accepts, by asking it (moto's STS,
//! signed with the fake cloud's admin key) to assume a role. The Pod Identity agent and the STS
//! emulator both end here, as the real agent ends at EKS Auth and STS at IAM.

use aws_credential_types::Credentials;
use aws_sdk_sts::config::{BehaviorVersion, Region};
use serde::{Deserialize, Serialize};

/// Temporary credentials as AWS returns them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TempCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// RFC 3339.
    pub expiration: String,
    pub assumed_role_arn: String,
}

#[derive(Clone)]
pub struct CredentialIssuer {
    client: aws_sdk_sts::Client,
    /// Every credential minted, so fakes that verify SigV4 themselves know their secrets.
    pub minted: super::sigv4::KeyStore,
}

/// A key pair of the fake cloud (never real AWS credentials).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl CredentialIssuer {
    /// `endpoint` is the S3/IAM/STS server (moto) and `admin` a key it accepts for sts:AssumeRole.
    pub fn new(endpoint: &str, admin: &AccessKey) -> Self {
        let creds = Credentials::new(
            &admin.access_key_id,
            &admin.secret_access_key,
            None,
            None,
            "authmatrix-admin",
        );
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .build();
        CredentialIssuer {
            client: aws_sdk_sts::Client::from_conf(config),
            minted: Default::default(),
        }
    }

    pub async fn assume_role(
        &self,
        role_arn: &str,
        session_name: &str,
        duration_secs: i32,
    ) -> Result<TempCredentials, String> {
        let out = self
            .client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .duration_seconds(duration_secs)
            .send()
            .await
            .map_err(|e| format!("{}", aws_sdk_sts::error::DisplayErrorContext(e)))?;
        let c = out
            .credentials()
            .ok_or("AssumeRole returned no credentials")?;
        let expiration = c
            .expiration()
            .fmt(aws_sdk_sts::primitives::DateTimeFormat::DateTime)
            .map_err(|e| e.to_string())?;
        self.minted.add(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token()),
        );
        Ok(TempCredentials {
            access_key_id: c.access_key_id().to_string(),
            secret_access_key: c.secret_access_key().to_string(),
            session_token: c.session_token().to_string(),
            expiration,
            assumed_role_arn: out
                .assumed_role_user()
                .map(|u| u.arn().to_string())
                .unwrap_or_default(),
        })
    }
}
