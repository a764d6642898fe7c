//! Clients: the searchable list, the detail page (edit, disable/enable,
//! rotate secret), and deletion behind a confirmation page.

use super::client_form::{ClientForm, TLS_NAME_FIELDS};
use super::credentials::Parsed;
use super::form::FieldErrors;
use super::page::{format_time, redirect, render, Layout, UiError};
use super::session::{change, require_tenant, tenant_form};
use crate::cache::blocking;
use crate::service::{OneTimeSecret, RotateSecret, SignedIn};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::{json, Value};

type Page = Result<HttpResponse, UiError>;
type ClientPath = web::Path<(String, String)>;

pub struct ClientRow {
    pub client_id: String,
    pub client_name: String,
    pub method: String,
    pub scope: String,
    pub disabled: bool,
    pub bound: bool,
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ClientsPage {
    layout: Layout,
    tenant: String,
    q: String,
    clients: Vec<ClientRow>,
    total: usize,
}

fn str_of(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

pub async fn list(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Page {
    let t = path.into_inner();
    let user = require_tenant(&req, &state, &t).await?;
    let q: String = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.trim().chars().take(200).collect())
        .unwrap_or_default();
    let (services, t2) = (state.services.clone(), t.clone());
    let all = blocking(move || services.list_clients(&t2)).await?;
    let needle = q.to_lowercase();
    let clients: Vec<ClientRow> = all
        .iter()
        .map(|c| ClientRow {
            client_id: str_of(c, "client_id"),
            client_name: str_of(c, "client_name"),
            method: str_of(c, "token_endpoint_auth_method"),
            scope: str_of(c, "scope"),
            disabled: c["disabled"] == Value::Bool(true),
            bound: c["tls_client_certificate_bound_access_tokens"] == Value::Bool(true),
        })
        .filter(|c| {
            needle.is_empty()
                || c.client_id.to_lowercase().contains(&needle)
                || c.client_name.to_lowercase().contains(&needle)
                || c.method.contains(&needle)
        })
        .collect();
    render(
        StatusCode::OK,
        &ClientsPage {
            layout: Layout::new(&user, "Clients", Some(&t), "clients").with_notice(req.query_string()),
            tenant: t,
            q,
            total: all.len(),
            clients,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/client.html")]
struct ClientPage {
    layout: Layout,
    tenant: String,
    client_id: String,
    method: String,
    disabled: bool,
    issued: String,
    form: ClientForm,
    tls_fields: [(&'static str, &'static str); 5],
    signing_algs: [&'static str; 5],
    errors: FieldErrors,
    other_errors: Vec<String>,
    parsed: Parsed,
}

/// The detail page; `edited` re-shows a refused edit with its errors.
pub async fn detail_page(
    user: &SignedIn,
    tenant: &str,
    stored: Value,
    edited: Option<(ClientForm, FieldErrors)>,
    notice_query: Option<&str>,
) -> Page {
    let stored_form = ClientForm::from_client(&stored);
    let parsed = stored_form.parsed_stored();
    let (form, errors) = edited.unwrap_or((stored_form, FieldErrors::default()));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let other_errors = errors.others(&[
        "client_name",
        "scope",
        "jwks",
        "jwks_uri",
        "token_endpoint_auth_signing_alg",
        "tls_name_field",
        "tls_name_value",
        "certificate_pem",
    ]);
    let client_id = str_of(&stored, "client_id");
    let mut layout = Layout::new(user, format!("Client {client_id}"), Some(tenant), "clients");
    if let Some(q) = notice_query {
        layout = layout.with_notice(q);
    }
    render(
        status,
        &ClientPage {
            layout,
            tenant: tenant.to_owned(),
            method: str_of(&stored, "token_endpoint_auth_method"),
            disabled: stored["disabled"] == Value::Bool(true),
            issued: format_time(stored["client_id_issued_at"].as_i64().unwrap_or(0)),
            client_id,
            form,
            tls_fields: TLS_NAME_FIELDS,
            signing_algs: ["RS256", "PS256", "ES256", "ES384", "EdDSA"],
            errors,
            other_errors,
            parsed,
        },
    )
}

pub async fn detail(req: HttpRequest, path: ClientPath, state: web::Data<AppState>) -> Page {
    let (t, c) = path.into_inner();
    let user = require_tenant(&req, &state, &t).await?;
    let (services, t2) = (state.services.clone(), t.clone());
    let stored = blocking(move || services.get_client(&t2, &c)).await?;
    detail_page(&user, &t, stored, None, Some(req.query_string())).await
}

async fn set_disabled(
    req: HttpRequest,
    path: ClientPath,
    payload: web::Payload,
    state: web::Data<AppState>,
    disabled: bool,
) -> Page {
    let (t, c) = path.into_inner();
    let (user, _) = tenant_form(&req, payload, &state, &t).await?;
    let (t2, c2) = (t.clone(), c.clone());
    change(&req, &state, &user, &t, move |s, a| {
        s.patch_client(&t2, &c2, &json!({ "disabled": disabled }), a)
    })
    .await?;
    let notice = if disabled { "disabled" } else { "enabled" };
    Ok(redirect(&format!("/admin/tenants/{t}/clients/{c}?notice={notice}")))
}

pub async fn disable(req: HttpRequest, path: ClientPath, payload: web::Payload, state: web::Data<AppState>) -> Page {
    set_disabled(req, path, payload, state, true).await
}

pub async fn enable(req: HttpRequest, path: ClientPath, payload: web::Payload, state: web::Data<AppState>) -> Page {
    set_disabled(req, path, payload, state, false).await
}

pub async fn rotate_secret(
    req: HttpRequest,
    path: ClientPath,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Page {
    let (t, c) = path.into_inner();
    let (user, form) = tenant_form(&req, payload, &state, &t).await?;
    let grace = form.text("grace_period_secs");
    let grace_period_secs = if grace.is_empty() {
        0
    } else {
        grace
            .parse::<u32>()
            .map_err(|_| UiError::BadRequest("grace_period_secs: must be a whole number of seconds".into()))?
    };
    let (t2, c2) = (t.clone(), c.clone());
    let rotated = change(&req, &state, &user, &t, move |s, a| {
        s.rotate_secret(&t2, &c2, RotateSecret { grace_period_secs }, a)
    })
    .await?;
    show_secret_once(&state, &user, &t, &c, rotated.secret.unwrap_or_default(), true).await
}

#[derive(Template)]
#[template(path = "admin/client_secret.html")]
struct SecretPage {
    layout: Layout,
    tenant: String,
    client_id: String,
    secret: String,
    token_endpoint: String,
    rotated: bool,
}

/// After a change that generated a secret: keep it with the session and
/// send the browser to the page that shows it, once (POST, redirect, GET,
/// so that reloading never repeats the change).
pub async fn show_secret_once(
    state: &AppState,
    user: &SignedIn,
    tenant: &str,
    client_id: &str,
    secret: String,
    rotated: bool,
) -> Page {
    let stash = OneTimeSecret {
        tenant: tenant.to_owned(),
        client_id: client_id.to_owned(),
        secret,
        rotated,
    };
    let (services, session) = (state.services.clone(), user.session_id_hash.clone());
    blocking(move || services.stash_secret(&session, &stash)).await?;
    Ok(redirect(&format!("/admin/tenants/{tenant}/clients/{client_id}/secret")))
}

/// `GET .../clients/{c}/secret`: the secret just generated, or, on any
/// later visit, the client's page saying it is gone.
pub async fn secret_page(req: HttpRequest, path: ClientPath, state: web::Data<AppState>) -> Page {
    let (t, c) = path.into_inner();
    let user = require_tenant(&req, &state, &t).await?;
    let (services, session) = (state.services.clone(), user.session_id_hash.clone());
    let stashed = blocking(move || services.take_secret(&session)).await?;
    match stashed {
        Some(s) if s.tenant == t && s.client_id == c => render(
            StatusCode::OK,
            &SecretPage {
                layout: Layout::new(&user, "Client secret", Some(&t), "clients"),
                token_endpoint: format!("{}/oauth2/token", state.services.issuer(&t)),
                tenant: t,
                client_id: c,
                secret: s.secret,
                rotated: s.rotated,
            },
        ),
        _ => Ok(redirect(&format!("/admin/tenants/{t}/clients/{c}?notice=secret-gone"))),
    }
}

#[derive(Template)]
#[template(path = "admin/client_delete.html")]
struct DeletePage {
    layout: Layout,
    tenant: String,
    client_id: String,
    client_name: String,
}

pub async fn delete_page(req: HttpRequest, path: ClientPath, state: web::Data<AppState>) -> Page {
    let (t, c) = path.into_inner();
    let user = require_tenant(&req, &state, &t).await?;
    let (services, t2) = (state.services.clone(), t.clone());
    let stored = blocking(move || services.get_client(&t2, &c)).await?;
    render(
        StatusCode::OK,
        &DeletePage {
            layout: Layout::new(&user, "Delete client", Some(&t), "clients"),
            tenant: t,
            client_id: str_of(&stored, "client_id"),
            client_name: str_of(&stored, "client_name"),
        },
    )
}

pub async fn delete(req: HttpRequest, path: ClientPath, payload: web::Payload, state: web::Data<AppState>) -> Page {
    let (t, c) = path.into_inner();
    let (user, _) = tenant_form(&req, payload, &state, &t).await?;
    let t2 = t.clone();
    change(&req, &state, &user, &t, move |s, a| s.delete_client(&t2, &c, a)).await?;
    Ok(redirect(&format!("/admin/tenants/{t}/clients?notice=deleted")))
}
