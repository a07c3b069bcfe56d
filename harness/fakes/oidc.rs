//! The cluster's service-account token issuer (the EKS OIDC provider) and the checks AWS applies to
//! its tokens. Projected tokens for IRSA (audience `sts.amazonaws.com`) and EKS Pod Identity
//! (audience `pods.eks.amazonaws.com`) are both minted here.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

pub const IRSA_AUDIENCE: &str = "sts.amazonaws.com";
pub const POD_IDENTITY_AUDIENCE: &str = "pods.eks.amazonaws.com";
pub const ISSUER: &str =
    "https://oidc.eks.us-east-1.amazonaws.com/id/AUTHMATRIX0000000000000000000000";

/// The claims of a Kubernetes projected service-account token that AWS looks at.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: Vec<String>,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
}

/// Signing and verification keys of the fake cluster, as PEM so they can cross a process boundary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OidcKeys {
    pub private_pem: String,
    pub public_pem: String,
}

impl OidcKeys {
    pub fn generate() -> Result<Self, rcgen::Error> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        Ok(OidcKeys {
            private_pem: key.serialize_pem(),
            public_pem: key.public_key_pem(),
        })
    }

    /// Mints a token as the kubelet would project it for `namespace/service_account`.
    pub fn mint(
        &self,
        namespace: &str,
        service_account: &str,
        audience: &str,
        not_before: i64,
        expires: i64,
    ) -> String {
        let claims = Claims {
            iss: ISSUER.to_string(),
            sub: format!("system:serviceaccount:{namespace}:{service_account}"),
            aud: vec![audience.to_string()],
            exp: expires,
            nbf: not_before,
            iat: now().min(not_before),
        };
        let key = EncodingKey::from_ec_pem(self.private_pem.as_bytes())
            .expect("the OIDC key was generated as PEM");
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &key)
            .expect("ES256 signing cannot fail")
    }

    /// Full verification as the AWS side (STS, EKS Auth) does it: signature, issuer, audience, time.
    pub fn verify(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<Claims, jsonwebtoken::errors::Error> {
        let key = DecodingKey::from_ec_pem(self.public_pem.as_bytes())?;
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&[audience]);
        v.set_issuer(&[ISSUER]);
        v.validate_nbf = true;
        v.leeway = 0;
        Ok(jsonwebtoken::decode::<Claims>(token, &key, &v)?.claims)
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
