//! Verifying issued tokens the way a resource server would: against JWKS.

use josekit::jwk::JwkSet;
use josekit::jws::{EdDSA, JwsVerifier, ES256, ES384, PS256, RS256};
use serde_json::Value;
use tessera_testkit::{jwt_part, TestApp};

/// Verifies `token`'s signature with the key its `kid` names in the
/// tenant's published JWKS; returns the claims.
pub async fn verify_with_jwks(app: &TestApp, tenant: &str, token: &str) -> Result<Value, String> {
    let jwks = app.get_json(&format!("/t/{tenant}/jwks.json")).await;
    assert_eq!(jwks.status, 200);
    verify_with_set(&jwks.body, token)
}

/// Verifies `token`'s signature with the key its `kid` names in `jwks`
/// (a JWK Set document); returns the claims.
pub fn verify_with_set(jwks: &Value, token: &str) -> Result<Value, String> {
    let set = JwkSet::from_bytes(jwks.to_string()).unwrap();
    let header = jwt_part(token, 0);
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let jwk = set.get(kid).into_iter().next().ok_or("kid not published")?;
    let verifier: Box<dyn JwsVerifier> = match header["alg"].as_str().unwrap() {
        "ES256" => Box::new(ES256.verifier_from_jwk(jwk).unwrap()),
        "ES384" => Box::new(ES384.verifier_from_jwk(jwk).unwrap()),
        "RS256" => Box::new(RS256.verifier_from_jwk(jwk).unwrap()),
        "PS256" => Box::new(PS256.verifier_from_jwk(jwk).unwrap()),
        "EdDSA" => Box::new(EdDSA.verifier_from_jwk(jwk).unwrap()),
        other => return Err(format!("unexpected alg {other}")),
    };
    let (payload, _) = josekit::jwt::decode_with_verifier(token, verifier.as_ref()).map_err(|e| e.to_string())?;
    Ok(Value::Object(payload.claims_set().clone()))
}
