//! jsonwebtoken's crypto backed by `ring`, which rustls already links: the two algorithms the
//! admin API signs and accepts (EdDSA, ES256) and nothing else. jsonwebtoken's own backends
//! would add a second crypto library to the binary (aws-lc-rs: about 1.9 MB, or RustCrypto
//! with RSA), for algorithms vigia refuses anyway.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, UnparsedPublicKey,
};

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ec_pub_components_from_private_key: ec_public_from_private,
        ed_pub_components_from_private_key: ed_public_from_private,
        compute_digest,
    },
};

/// Makes this the process's JWT crypto; call before any `encode` or `decode`. Cheap after the
/// first call, and harmless if a provider is already installed.
pub fn install() {
    let _ = PROVIDER.install_default();
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    match (algorithm, key.family()) {
        (Algorithm::EdDSA, AlgorithmFamily::Ed) => Ok(Box::new(EdDsaSigner(
            Ed25519KeyPair::from_pkcs8(key.as_bytes()).map_err(|_| ErrorKind::InvalidEddsaKey)?,
        ))),
        (Algorithm::ES256, AlgorithmFamily::Ec) => Ok(Box::new(Es256Signer(
            EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                key.as_bytes(),
                &SystemRandom::new(),
            )
            .map_err(|_| ErrorKind::InvalidEcdsaKey)?,
        ))),
        (Algorithm::EdDSA | Algorithm::ES256, _) => Err(ErrorKind::InvalidKeyFormat.into()),
        _ => Err(ErrorKind::UnsupportedAlgorithm.into()),
    }
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let public = key.try_get_as_bytes()?.to_vec();
    match (algorithm, key.family()) {
        (Algorithm::EdDSA, AlgorithmFamily::Ed) => Ok(Box::new(PublicKey {
            algorithm: Algorithm::EdDSA,
            public,
        })),
        (Algorithm::ES256, AlgorithmFamily::Ec) => Ok(Box::new(PublicKey {
            algorithm: Algorithm::ES256,
            public,
        })),
        (Algorithm::EdDSA | Algorithm::ES256, _) => Err(ErrorKind::InvalidKeyFormat.into()),
        _ => Err(ErrorKind::UnsupportedAlgorithm.into()),
    }
}

struct EdDsaSigner(Ed25519KeyPair);

impl Signer<Vec<u8>> for EdDsaSigner {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(message).as_ref().to_vec())
    }
}

impl JwtSigner for EdDsaSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct Es256Signer(EcdsaKeyPair);

impl Signer<Vec<u8>> for Es256Signer {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let signature = self
            .0
            .sign(&SystemRandom::new(), message)
            .map_err(|_| signature::Error::new())?;
        Ok(signature.as_ref().to_vec())
    }
}

impl JwtSigner for Es256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }
}

/// An Ed25519 public key (32 bytes) or a P-256 point (0x04, x, y).
struct PublicKey {
    algorithm: Algorithm,
    public: Vec<u8>,
}

impl Verifier<Vec<u8>> for PublicKey {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), signature::Error> {
        let verified = match self.algorithm {
            Algorithm::EdDSA => {
                UnparsedPublicKey::new(&ED25519, &self.public).verify(message, signature)
            }
            _ => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.public)
                .verify(message, signature),
        };
        verified.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for PublicKey {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn ec_public_from_private(
    der: &[u8],
    algorithm: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    if algorithm != Algorithm::ES256 {
        return Err(ErrorKind::UnsupportedAlgorithm.into());
    }
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
            .map_err(|_| ErrorKind::InvalidEcdsaKey)?;
    let (x, y) = pair.public_key().as_ref()[1..].split_at(32);
    Ok((EllipticCurve::P256, x.to_vec(), y.to_vec()))
}

fn ed_public_from_private(der: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(ErrorKind::UnsupportedAlgorithm.into());
    }
    let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(pair.public_key().as_ref().to_vec())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    Ok(ring::digest::digest(algorithm, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Header, Validation};

    fn keys(algorithm: Algorithm) -> (EncodingKey, DecodingKey) {
        let rng = SystemRandom::new();
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        if algorithm == Algorithm::EdDSA {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
            let public = DecodingKey::from_ed_components(&b64(pair.public_key().as_ref()));
            (EncodingKey::from_ed_der(pkcs8.as_ref()), public.unwrap())
        } else {
            let signing = &ECDSA_P256_SHA256_FIXED_SIGNING;
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).unwrap();
            let (x, y) = pair.public_key().as_ref()[1..].split_at(32);
            let public = DecodingKey::from_ec_components(&b64(x), &b64(y)).unwrap();
            (EncodingKey::from_ec_der(pkcs8.as_ref()), public)
        }
    }

    #[test]
    fn eddsa_and_es256_tokens_verify_and_a_changed_byte_does_not() {
        install();
        let claims = serde_json::json!({"sub": "prometheus", "scope": "metrics:read"});
        for algorithm in [Algorithm::EdDSA, Algorithm::ES256] {
            let (signing, public) = keys(algorithm);
            let token = jsonwebtoken::encode(&Header::new(algorithm), &claims, &signing).unwrap();
            let mut validation = Validation::new(algorithm);
            validation.required_spec_claims.clear();
            validation.validate_exp = false;
            let decoded = jsonwebtoken::decode::<serde_json::Value>(&token, &public, &validation);
            assert_eq!(decoded.unwrap().claims, claims, "{algorithm:?}");

            let (signed, signature) = token.rsplit_once('.').unwrap();
            let mut forged = URL_SAFE_NO_PAD.decode(signature).unwrap();
            forged[7] ^= 1;
            let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(forged));
            let refused = jsonwebtoken::decode::<serde_json::Value>(&forged, &public, &validation);
            assert_eq!(
                refused.unwrap_err().kind(),
                &ErrorKind::InvalidSignature,
                "{algorithm:?}"
            );
            // Another key of the same algorithm does not verify it either.
            let (_, stranger) = keys(algorithm);
            assert!(
                jsonwebtoken::decode::<serde_json::Value>(&token, &stranger, &validation).is_err()
            );
        }
    }

    #[test]
    fn hmac_and_rsa_are_not_offered() {
        install();
        let key = EncodingKey::from_secret(b"a shared secret").unwrap();
        let refused = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &"{}", &key);
        assert_eq!(
            refused.unwrap_err().kind(),
            &ErrorKind::UnsupportedAlgorithm
        );
        let key = EncodingKey::from_rsa_der(b"not looked at");
        let refused = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &"{}", &key);
        assert_eq!(
            refused.unwrap_err().kind(),
            &ErrorKind::UnsupportedAlgorithm
        );
    }
}
