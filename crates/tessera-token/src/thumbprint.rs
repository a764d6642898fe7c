//! RFC 7638 JWK thumbprints (josekit has no helper).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// The SHA-256 thumbprint of a public JWK: the required members for its
/// `kty`, in lexicographic order, serialized without white space.
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let kty = jwk.get("kty")?.as_str()?;
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = Map::new();
    for m in members {
        canonical.insert((*m).to_owned(), Value::String(jwk.get(*m)?.as_str()?.to_owned()));
    }
    // serde_json's Map is a BTreeMap here (no `preserve_order`), so keys come
    // out sorted and the output has no white space: exactly RFC 7638 §3.
    let json = serde_json::to_string(&canonical).ok()?;
    Some(URL_SAFE_NO_PAD.encode(openssl::sha::sha256(json.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example() {
        let jwk: Map<String, Value> = serde_json::from_str(r#"{
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }"#).unwrap();
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn unknown_or_incomplete_keys_have_none() {
        let oct: Map<String, Value> = serde_json::from_str(r#"{"kty":"oct","k":"abc"}"#).unwrap();
        assert!(jwk_thumbprint(&oct).is_none());
        let ec: Map<String, Value> = serde_json::from_str(r#"{"kty":"EC","crv":"P-256","x":"a"}"#).unwrap();
        assert!(jwk_thumbprint(&ec).is_none());
    }
}
