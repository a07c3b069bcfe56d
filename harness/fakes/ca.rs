//! The harness CA: one per run. Fake AWS endpoints serve certificates it issues; probes trust it
//! through `SSL_CERT_FILE`, exactly as a pod would trust a corporate CA bundle.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A certificate and its private key, both PEM.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PemPair {
    pub cert_pem: String,
    pub key_pem: String,
}

pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    cert_pem: String,
}

impl Ca {
    pub fn new() -> Result<Self, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(
            DnType::CommonName,
            "authmatrix test CA (never trust outside a test)",
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert_pem = params.self_signed(&key)?.pem();
        Ok(Ca {
            params,
            key,
            cert_pem,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A server certificate for these DNS names, signed by this CA.
    pub fn issue(&self, names: &[&str]) -> Result<PemPair, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("authmatrix"),
        );
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(PemPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
