//! Target `token_request`: the strict form parser (tessera-core `form.rs`)
//! and the extraction of credentials from the `Authorization` header and the
//! form (tessera-clientauth `credentials.rs`).
//!
//! Input: `<Authorization header value>\n<form body>`; without a `\n` the
//! whole input is the body and there is no header.

use crate::{assert_wire_error, split_line};
use std::collections::HashSet;
use tessera_clientauth::assertion::JWT_BEARER_TYPE;
use tessera_clientauth::{AssertionCredentials, PresentedCredentials, SecretCredentials};
use tessera_core::form::Form;
use tessera_core::AuthMethod;

pub fn token_request(data: &[u8]) {
    let (authorization, body) = split_line(data);
    let Some(form) = parse_form(body) else {
        return;
    };
    for has_certificate in [false, true] {
        match PresentedCredentials::extract_with_certificate(authorization, &form, has_certificate) {
            Ok(credentials) => check_credentials(&credentials, authorization, &form, has_certificate),
            Err(e) => assert_wire_error(&e),
        }
    }
}

/// `Form::parse` against a model: accepted exactly when there are at most
/// `MAX_PARAMS` pairs and no name repeats; then every pair reads back, an
/// empty value as absent.
fn parse_form(body: &[u8]) -> Option<Form> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    let mut names = HashSet::new();
    let unique = pairs.iter().all(|(n, _)| names.insert(n.as_str()));
    let expected_ok = unique && pairs.len() <= Form::MAX_PARAMS;
    match Form::parse(body) {
        Ok(form) => {
            assert!(expected_ok, "accepted a form with repeated or too many parameters");
            for (name, value) in &pairs {
                let want = (!value.is_empty()).then_some(value.as_str());
                assert_eq!(form.get(name), want, "parameter {name:?}");
                assert_eq!(form.contains(name), want.is_some());
            }
            Some(form)
        }
        Err(e) => {
            assert!(!expected_ok, "refused a well-formed form: {e:?}");
            assert_eq!(e.status(), 400);
            assert_wire_error(&e);
            None
        }
    }
}

fn check_credentials(c: &PresentedCredentials, authorization: Option<&[u8]>, form: &Form, has_certificate: bool) {
    match c {
        PresentedCredentials::Secret(s) => {
            assert!(!s.client_id.is_empty() && !s.secret.is_empty());
            assert!(!form.contains("client_assertion") && !form.contains("client_assertion_type"));
            match s.method {
                AuthMethod::ClientSecretBasic => {
                    assert!(authorization.is_some() && !form.contains("client_secret"));
                    assert!(form.get("client_id").is_none_or(|id| id == s.client_id));
                    assert!(c.is_basic());
                }
                AuthMethod::ClientSecretPost => {
                    assert!(authorization.is_none());
                    assert_eq!(form.get("client_secret"), Some(s.secret.as_str()));
                    assert_eq!(form.get("client_id"), Some(s.client_id.as_str()));
                }
                other => panic!("a secret presented by {other:?}"),
            }
            // Debug output never shows the secret: it does not depend on it.
            let blank = SecretCredentials {
                secret: String::new().into(),
                ..s.clone()
            };
            assert_eq!(format!("{s:?}"), format!("{blank:?}"));
        }
        PresentedCredentials::Assertion(a) => {
            assert!(authorization.is_none() && !form.contains("client_secret"));
            assert_eq!(form.get("client_assertion_type"), Some(JWT_BEARER_TYPE));
            assert_eq!(form.get("client_assertion"), Some(a.assertion.as_str()));
            assert_eq!(a.client_id.as_deref(), form.get("client_id"));
            let blank = AssertionCredentials {
                assertion: String::new(),
                ..a.clone()
            };
            assert_eq!(format!("{a:?}"), format!("{blank:?}"));
        }
        PresentedCredentials::Certificate { client_id } => {
            assert!(has_certificate && authorization.is_none());
            assert!(!form.contains("client_secret") && !form.contains("client_assertion"));
            assert_eq!(form.get("client_id"), Some(client_id.as_str()));
        }
    }
}
