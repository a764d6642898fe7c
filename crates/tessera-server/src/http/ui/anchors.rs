//! Trust anchors (upload, list with expiry warnings, delete) and signing
//! keys (list, rotate).

use super::form::FieldErrors;
use super::page::{format_time, redirect, render, Layout, UiError};
use super::session::{change, require_tenant, tenant_form};
use super::tenants::EXPIRY_WARNING_SECS;
use crate::cache::blocking;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::{json, Value};

type Page = Result<HttpResponse, UiError>;

pub struct AnchorRow {
    pub id: String,
    pub subject: String,
    pub expires: String,
    pub expiring: bool,
    pub expired: bool,
    pub has_crl: bool,
}

#[derive(Template)]
#[template(path = "admin/anchors.html")]
struct AnchorsPage {
    layout: Layout,
    tenant: String,
    anchors: Vec<AnchorRow>,
    pem: String,
    errors: FieldErrors,
    other_errors: Vec<String>,
}

async fn anchors_page(state: &AppState, layout: Layout, tenant: String, pem: String, errors: FieldErrors) -> Page {
    let (services, t2) = (state.services.clone(), tenant.clone());
    let list = blocking(move || services.list_trust_anchors(&t2)).await?;
    let now = tessera_core::time::now_secs();
    let anchors = list
        .iter()
        .map(|a| {
            let not_after = a["not_after"].as_i64().unwrap_or(0);
            AnchorRow {
                id: a["id"].as_str().unwrap_or_default().to_owned(),
                subject: a["subject"].as_str().unwrap_or_default().to_owned(),
                expires: format_time(not_after),
                expiring: not_after - now < EXPIRY_WARNING_SECS,
                expired: not_after <= now,
                has_crl: !a["crl_pem"].is_null(),
            }
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let other_errors = errors.others(&["pem"]);
    render(
        status,
        &AnchorsPage {
            layout,
            tenant,
            anchors,
            pem,
            errors,
            other_errors,
        },
    )
}

pub async fn anchors(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Page {
    let t = path.into_inner();
    let user = require_tenant(&req, &state, &t).await?;
    let layout = Layout::new(&user, "Trust anchors", Some(&t), "anchors").with_notice(req.query_string());
    anchors_page(&state, layout, t, String::new(), FieldErrors::default()).await
}

pub async fn add_anchor(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Page {
    let t = path.into_inner();
    let (user, form) = tenant_form(&req, payload, &state, &t).await?;
    let pem = form.get("pem").trim().to_owned();
    let body = json!({ "pem": pem });
    let t2 = t.clone();
    match change(&req, &state, &user, &t, move |s, a| s.add_trust_anchor(&t2, &body, a)).await {
        Ok(_) => Ok(redirect(&format!(
            "/admin/tenants/{t}/trust-anchors?notice=anchor-added"
        ))),
        Err(e) => {
            let layout = Layout::new(&user, "Trust anchors", Some(&t), "anchors");
            anchors_page(&state, layout, t, pem, FieldErrors::from_service(e)?).await
        }
    }
}

pub async fn delete_anchor(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Page {
    let (t, id) = path.into_inner();
    let (user, _) = tenant_form(&req, payload, &state, &t).await?;
    let t2 = t.clone();
    change(&req, &state, &user, &t, move |s, a| s.delete_trust_anchor(&t2, &id, a)).await?;
    Ok(redirect(&format!(
        "/admin/tenants/{t}/trust-anchors?notice=anchor-deleted"
    )))
}

pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub state: String,
    pub created: String,
    pub activated: String,
    pub publish_until: String,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct KeysPage {
    layout: Layout,
    tenant: String,
    jwks_uri: String,
    keys: Vec<KeyRow>,
}

fn time_or_dash(v: &Value) -> String {
    v.as_i64().map_or_else(|| "—".to_owned(), format_time)
}

pub async fn keys(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Page {
    let t = path.into_inner();
    let user = require_tenant(&req, &state, &t).await?;
    let (services, t2) = (state.services.clone(), t.clone());
    let list = blocking(move || services.list_keys(&t2)).await?;
    let keys = list
        .iter()
        .map(|k| KeyRow {
            kid: k["kid"].as_str().unwrap_or_default().to_owned(),
            alg: k["alg"].as_str().unwrap_or_default().to_owned(),
            state: k["state"].as_str().unwrap_or_default().to_owned(),
            created: time_or_dash(&k["created_at"]),
            activated: time_or_dash(&k["activated_at"]),
            publish_until: time_or_dash(&k["publish_until"]),
        })
        .collect();
    render(
        StatusCode::OK,
        &KeysPage {
            layout: Layout::new(&user, "Signing keys", Some(&t), "keys").with_notice(req.query_string()),
            jwks_uri: format!("{}/jwks.json", state.services.issuer(&t)),
            tenant: t,
            keys,
        },
    )
}

pub async fn rotate_keys(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Page {
    let t = path.into_inner();
    let (user, _) = tenant_form(&req, payload, &state, &t).await?;
    let t2 = t.clone();
    change(&req, &state, &user, &t, move |s, a| s.rotate_keys(&t2, a)).await?;
    Ok(redirect(&format!("/admin/tenants/{t}/keys?notice=rotated")))
}
