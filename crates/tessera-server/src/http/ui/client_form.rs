//! The client form, one variant per authentication method: create, edit,
//! and "Check", which shows what the server understood (key ids and
//! algorithms, the parsed DN, certificate thumbprints) without saving.

use super::credentials::{describe_certificates, describe_dn, describe_jwks, describe_keys, self_signed_jwks, Parsed};
use super::form::{FieldErrors, FormData};
use super::page::{redirect, render, Layout, UiError};
use super::session::{change, require_tenant, tenant_form};
use crate::cache::blocking;
use crate::service::SignedIn;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::{json, Map, Value};
use tessera_core::AuthMethod;

type Page = Result<HttpResponse, UiError>;

/// The RFC 8705 names a `tls_client_auth` client may be matched by.
pub const TLS_NAME_FIELDS: [(&str, &str); 5] = [
    ("tls_client_auth_subject_dn", "Subject DN"),
    ("tls_client_auth_san_dns", "SAN: DNS name"),
    ("tls_client_auth_san_uri", "SAN: URI"),
    ("tls_client_auth_san_ip", "SAN: IP address"),
    ("tls_client_auth_san_email", "SAN: e-mail address"),
];

/// The methods, in the order of the form's tabs.
pub const METHODS: [(&str, &str); 6] = [
    ("client_secret_basic", "Secret (HTTP Basic)"),
    ("client_secret_post", "Secret (form post)"),
    ("client_secret_jwt", "Secret-signed JWT"),
    ("private_key_jwt", "Private key JWT"),
    ("tls_client_auth", "Mutual TLS (CA-issued)"),
    ("self_signed_tls_client_auth", "Mutual TLS (self-signed)"),
];

const SIGNING_ALGS: [&str; 5] = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

/// The form's values, as typed (or as stored, for editing).
#[derive(Debug, Default, Clone)]
pub struct ClientForm {
    pub method: String,
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub bound: bool,
    pub jwks: String,
    pub jwks_uri: String,
    pub signing_alg: String,
    pub tls_name_field: String,
    pub tls_name_value: String,
    pub certificate_pem: String,
}

fn str_of(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

fn method_of(raw: &str) -> Option<AuthMethod> {
    raw.parse::<AuthMethod>()
        .ok()
        .filter(|m| AuthMethod::SUPPORTED.contains(m))
}

impl ClientForm {
    pub fn for_method(method: &str) -> Self {
        Self {
            method: method.to_owned(),
            tls_name_field: TLS_NAME_FIELDS[0].0.to_owned(),
            ..Self::default()
        }
    }

    pub fn from_form(f: &FormData, method: &str) -> Self {
        Self {
            method: method.to_owned(),
            client_id: f.text("client_id"),
            client_name: f.text("client_name"),
            scope: f.text("scope"),
            bound: f.checked("tls_client_certificate_bound_access_tokens"),
            jwks: f.get("jwks").trim().to_owned(),
            jwks_uri: f.text("jwks_uri"),
            signing_alg: f.text("token_endpoint_auth_signing_alg"),
            tls_name_field: f.text("tls_name_field"),
            tls_name_value: f.text("tls_name_value"),
            certificate_pem: f.get("certificate_pem").trim().to_owned(),
        }
    }

    /// The form filled from a client as the admin API shows it.
    pub fn from_client(c: &Value) -> Self {
        let mut form = Self::for_method(&str_of(c, "token_endpoint_auth_method"));
        form.client_id = str_of(c, "client_id");
        form.client_name = str_of(c, "client_name");
        form.scope = str_of(c, "scope");
        form.bound = c["tls_client_certificate_bound_access_tokens"] == Value::Bool(true);
        form.jwks_uri = str_of(c, "jwks_uri");
        form.signing_alg = str_of(c, "token_endpoint_auth_signing_alg");
        if let Some((field, _)) = TLS_NAME_FIELDS.iter().find(|(f, _)| c[*f].is_string()) {
            form.tls_name_field = (*field).to_owned();
            form.tls_name_value = str_of(c, field);
        }
        if !c["jwks"].is_null() {
            if form.method == "self_signed_tls_client_auth" {
                form.certificate_pem = tessera_clientauth::mtls::x5c_certificates(&c["jwks"])
                    .iter()
                    .filter_map(|der| openssl::x509::X509::from_der(der).ok())
                    .filter_map(|x| x.to_pem().ok())
                    .filter_map(|p| String::from_utf8(p).ok())
                    .collect();
            } else {
                form.jwks = serde_json::to_string_pretty(&c["jwks"]).unwrap_or_default();
            }
        }
        form
    }

    pub fn is(&self, method: &str) -> bool {
        self.method == method
    }

    pub fn uses_secret(&self) -> bool {
        self.method.starts_with("client_secret_")
    }

    /// The registration (or, with `creating` false, PATCH) body. Fields of
    /// the method that are left empty are cleared when editing.
    fn to_body(&self, creating: bool, errors: &mut FieldErrors) -> Value {
        let mut obj = Map::new();
        let clear = |obj: &mut Map<String, Value>, k: &str| {
            if !creating {
                obj.insert(k.into(), Value::Null);
            }
        };
        if creating {
            obj.insert("token_endpoint_auth_method".into(), json!(self.method));
            if !self.client_id.is_empty() {
                obj.insert("client_id".into(), json!(self.client_id));
            }
        }
        for (k, v) in [("client_name", &self.client_name), ("scope", &self.scope)] {
            if v.is_empty() {
                clear(&mut obj, k);
            } else {
                obj.insert(k.into(), json!(v));
            }
        }
        obj.insert("tls_client_certificate_bound_access_tokens".into(), json!(self.bound));
        match self.method.as_str() {
            "private_key_jwt" => {
                if self.jwks.is_empty() {
                    clear(&mut obj, "jwks");
                } else {
                    match serde_json::from_str::<Value>(&self.jwks) {
                        Ok(v) => {
                            obj.insert("jwks".into(), v);
                        }
                        Err(e) => errors.add(
                            "jwks",
                            format!("not valid JSON (line {}, column {})", e.line(), e.column()),
                        ),
                    }
                }
                if self.jwks_uri.is_empty() {
                    clear(&mut obj, "jwks_uri");
                } else {
                    obj.insert("jwks_uri".into(), json!(self.jwks_uri));
                }
                if self.signing_alg.is_empty() {
                    clear(&mut obj, "token_endpoint_auth_signing_alg");
                } else {
                    obj.insert("token_endpoint_auth_signing_alg".into(), json!(self.signing_alg));
                }
            }
            "tls_client_auth" => {
                if !TLS_NAME_FIELDS.iter().any(|(f, _)| *f == self.tls_name_field) {
                    errors.add("tls_name_field", "choose the subject DN or one SAN type");
                }
                for (f, _) in TLS_NAME_FIELDS {
                    if f == self.tls_name_field {
                        obj.insert(f.into(), json!(self.tls_name_value));
                    } else {
                        clear(&mut obj, f);
                    }
                }
            }
            "self_signed_tls_client_auth" => match self_signed_jwks(&self.certificate_pem) {
                Ok(jwks) => {
                    obj.insert("jwks".into(), jwks);
                }
                Err(m) => errors.add("certificate_pem", m),
            },
            _ => {}
        }
        Value::Object(obj)
    }

    /// What the credential fields parse to, or the field errors.
    async fn check(&self, state: &AppState, tenant: &str, errors: &mut FieldErrors) -> Parsed {
        let mut parsed = Parsed::default();
        match self.method.as_str() {
            "private_key_jwt" => {
                let keys = if !self.jwks.is_empty() {
                    describe_jwks(&self.jwks).map_err(|m| ("jwks", m))
                } else if !self.jwks_uri.is_empty() {
                    match tessera_core::metadata::check_https_uri(&self.jwks_uri) {
                        Err(m) => Err(("jwks_uri", m)),
                        Ok(()) => state
                            .jwks
                            .keys(&format!("admin-ui-check/{tenant}"), &self.jwks_uri, None)
                            .await
                            .map(|k| describe_keys(&k))
                            .map_err(|e| ("jwks_uri", e.to_string())),
                    }
                } else {
                    Err(("jwks", "paste a JWK Set or give a jwks_uri".to_owned()))
                };
                match keys {
                    Ok(keys) => parsed.keys = keys,
                    Err((field, m)) => errors.add(field, m),
                }
            }
            "tls_client_auth" => {
                let field = self.tls_name_field.as_str();
                match tessera_clientauth::mtls::CertificateMatch::from_metadata(field, &self.tls_name_value) {
                    Err(m) => errors.add("tls_name_value", m),
                    Ok(_) if field == "tls_client_auth_subject_dn" => parsed.dn = describe_dn(&self.tls_name_value),
                    Ok(_) => parsed.san = self.tls_name_value.clone(),
                }
            }
            "self_signed_tls_client_auth" => match describe_certificates(&self.certificate_pem) {
                Ok(certs) => parsed.certs = certs,
                Err(m) => errors.add("certificate_pem", m),
            },
            _ => {}
        }
        parsed
    }

    /// What the detail page shows of the stored credentials (no fetching).
    pub fn parsed_stored(&self) -> Parsed {
        let mut parsed = Parsed::default();
        match self.method.as_str() {
            "private_key_jwt" if !self.jwks.is_empty() => parsed.keys = describe_jwks(&self.jwks).unwrap_or_default(),
            "tls_client_auth" if self.tls_name_field == "tls_client_auth_subject_dn" => {
                parsed.dn = describe_dn(&self.tls_name_value)
            }
            "self_signed_tls_client_auth" => {
                parsed.certs = describe_certificates(&self.certificate_pem).unwrap_or_default()
            }
            _ => {}
        }
        parsed
    }
}

#[derive(Template)]
#[template(path = "admin/client_new.html")]
struct NewClientPage {
    layout: Layout,
    tenant: String,
    form: ClientForm,
    methods: [(&'static str, &'static str); 6],
    tls_fields: [(&'static str, &'static str); 5],
    signing_algs: [&'static str; 5],
    errors: FieldErrors,
    other_errors: Vec<String>,
    parsed: Parsed,
    checked: bool,
}

const FORM_FIELDS: [&str; 11] = [
    "client_id",
    "client_name",
    "scope",
    "tls_client_certificate_bound_access_tokens",
    "jwks",
    "jwks_uri",
    "token_endpoint_auth_signing_alg",
    "tls_name_field",
    "tls_name_value",
    "certificate_pem",
    "token_endpoint_auth_method",
];

/// The RFC 8705 field names the service reports errors under are shown at
/// the form's one name field.
fn map_tls_errors(errors: FieldErrors) -> FieldErrors {
    let mut mapped = FieldErrors::default();
    for m in errors.others(&[]) {
        let (field, message) = m.split_once(": ").unwrap_or(("", m.as_str()));
        let field = if field.starts_with("tls_client_auth_") {
            "tls_name_value"
        } else if field == "jwks" && !message.is_empty() {
            "jwks"
        } else {
            field
        };
        mapped.add(field, message);
    }
    mapped
}

fn new_page_for(
    user: &SignedIn,
    tenant: String,
    form: ClientForm,
    errors: FieldErrors,
    parsed: Parsed,
    checked: bool,
) -> Page {
    let errors = map_tls_errors(errors);
    let mut other_errors = errors.others(&FORM_FIELDS);
    if form.method == "self_signed_tls_client_auth" {
        // The JWK Set is built from the certificate: its errors belong there.
        other_errors.retain(|m| !m.starts_with("jwks:"));
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    render(
        status,
        &NewClientPage {
            layout: Layout::new(user, "New client", Some(&tenant), "clients"),
            tenant,
            form,
            methods: METHODS,
            tls_fields: TLS_NAME_FIELDS,
            signing_algs: SIGNING_ALGS,
            errors,
            other_errors,
            parsed,
            checked,
        },
    )
}

pub async fn new_page(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Page {
    let t = path.into_inner();
    let user = require_tenant(&req, &state, &t).await?;
    let method = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "method")
        .map(|(_, v)| v.into_owned())
        .filter(|m| method_of(m).is_some())
        .unwrap_or_else(|| "client_secret_basic".into());
    new_page_for(
        &user,
        t,
        ClientForm::for_method(&method),
        FieldErrors::default(),
        Parsed::default(),
        false,
    )
}

pub async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Page {
    let t = path.into_inner();
    let (user, f) = tenant_form(&req, payload, &state, &t).await?;
    let method = f.text("token_endpoint_auth_method");
    if method_of(&method).is_none() {
        return Err(UiError::BadRequest(
            "token_endpoint_auth_method: not a supported method".into(),
        ));
    }
    let form = ClientForm::from_form(&f, &method);
    let mut errors = FieldErrors::default();
    if f.get("action") == "check" {
        let parsed = form.check(&state, &t, &mut errors).await;
        return new_page_for(&user, t, form, errors, parsed, true);
    }
    let body = form.to_body(true, &mut errors);
    if !errors.is_empty() {
        return new_page_for(&user, t, form, errors, Parsed::default(), false);
    }
    let t2 = t.clone();
    match change(&req, &state, &user, &t, move |s, a| s.create_client(&t2, &body, a)).await {
        Err(e) => new_page_for(&user, t, form, FieldErrors::from_service(e)?, Parsed::default(), false),
        Ok(made) => {
            let client_id = str_of(&made.client, "client_id");
            match made.secret {
                Some(secret) => super::clients::show_secret_once(&state, &user, &t, &client_id, secret, false).await,
                None => Ok(redirect(&format!(
                    "/admin/tenants/{t}/clients/{client_id}?notice=created"
                ))),
            }
        }
    }
}

/// `POST .../clients/{c}`: saves the edit form (the method stays).
pub async fn edit(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Page {
    let (t, c) = path.into_inner();
    let (user, f) = tenant_form(&req, payload, &state, &t).await?;
    let (services, t2, c2) = (state.services.clone(), t.clone(), c.clone());
    let stored = blocking(move || services.get_client(&t2, &c2)).await?;
    let mut form = ClientForm::from_form(&f, &str_of(&stored, "token_endpoint_auth_method"));
    form.client_id = c.clone();
    let mut errors = FieldErrors::default();
    let body = form.to_body(false, &mut errors);
    if errors.is_empty() {
        let (t2, c2) = (t.clone(), c.clone());
        match change(&req, &state, &user, &t, move |s, a| s.patch_client(&t2, &c2, &body, a)).await {
            Ok(_) => return Ok(redirect(&format!("/admin/tenants/{t}/clients/{c}?notice=saved"))),
            Err(e) => errors = map_tls_errors(FieldErrors::from_service(e)?),
        }
    }
    super::clients::detail_page(&user, &t, stored, Some((form, errors)), None).await
}
