//! Tenants: the list (global admins), creation, a tenant's dashboard, its
//! settings, and its audit log.

use super::form::{FieldErrors, FormData};
use super::page::{format_time, redirect, render, Layout, UiError};
use super::session::{change, check_csrf, require_tenant, require_user, tenant_form};
use crate::cache::blocking;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::{json, Map, Value};
use tessera_core::SigningAlg;

type Page = Result<HttpResponse, UiError>;

fn s(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> Page {
    let user = require_user(&req, &state).await?;
    Ok(match &user.tenant {
        Some(t) => redirect(&format!("/admin/tenants/{t}")),
        None => redirect("/admin/tenants"),
    })
}

pub struct TenantRow {
    pub id: String,
    pub display_name: String,
    pub issuer: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin/tenants.html")]
struct TenantsPage {
    layout: Layout,
    tenants: Vec<TenantRow>,
    new_id: String,
    new_name: String,
    errors: FieldErrors,
    other_errors: Vec<String>,
}

async fn tenants_page(state: &AppState, layout: Layout, new_id: String, new_name: String, errors: FieldErrors) -> Page {
    let services = state.services.clone();
    let list = blocking(move || services.list_tenants(None)).await?;
    let tenants = list
        .iter()
        .map(|t| TenantRow {
            id: s(t, "id"),
            display_name: s(t, "display_name"),
            issuer: s(t, "issuer"),
            created: format_time(t["created_at"].as_i64().unwrap_or(0)),
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let other_errors = errors.others(&["id", "display_name"]);
    render(
        status,
        &TenantsPage {
            layout,
            tenants,
            new_id,
            new_name,
            errors,
            other_errors,
        },
    )
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Page {
    let user = require_user(&req, &state).await?;
    if user.tenant.is_some() {
        return Err(UiError::NotFound);
    }
    let layout = Layout::new(&user, "Tenants", None, "tenants").with_notice(req.query_string());
    tenants_page(&state, layout, String::new(), String::new(), FieldErrors::default()).await
}

pub async fn create(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Page {
    let user = require_user(&req, &state).await?;
    if user.tenant.is_some() {
        return Err(UiError::NotFound);
    }
    let form = FormData::read(&req, payload).await?;
    check_csrf(&user, &form)?;
    let (id, name) = (form.text("id"), form.text("display_name"));
    let mut body = json!({ "id": id });
    if !name.is_empty() {
        body["display_name"] = Value::String(name.clone());
    }
    match change(&req, &state, &user, &id, move |s, a| s.create_tenant(&body, a)).await {
        Ok(_) => Ok(redirect(&format!("/admin/tenants/{id}?notice=created"))),
        Err(e) => {
            let errors = FieldErrors::from_service(e)?;
            let layout = Layout::new(&user, "Tenants", None, "tenants");
            tenants_page(&state, layout, id, name, errors).await
        }
    }
}

pub struct MethodCount {
    pub method: String,
    pub count: usize,
}

pub struct KeySummary {
    pub kid: String,
    pub alg: String,
    pub state: String,
}

pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub source: String,
    pub detail: String,
}

impl AuditRow {
    fn from_record(r: &tessera_store::AuditRecord) -> Self {
        Self {
            at: format_time(r.at),
            actor: r.actor.clone(),
            action: r.action.clone(),
            target: r.target.clone().unwrap_or_default(),
            source: r.source.clone().unwrap_or_default(),
            detail: r.detail.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    tenant: String,
    display_name: String,
    issuer: String,
    token_endpoint: String,
    total_clients: usize,
    disabled_clients: usize,
    by_method: Vec<MethodCount>,
    keys: Vec<KeySummary>,
    anchors: usize,
    anchors_expiring: usize,
    recent: Vec<AuditRow>,
}

/// Trust anchors expiring within this many seconds get a warning.
pub const EXPIRY_WARNING_SECS: i64 = 30 * 24 * 3600;

pub async fn dashboard(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Page {
    let t = path.into_inner();
    let user = require_tenant(&req, &state, &t).await?;
    let services = state.services.clone();
    let t2 = t.clone();
    let (tenant, clients, keys, anchors, recent) = blocking(move || {
        Ok((
            services.get_tenant(&t2)?,
            services.list_clients(&t2)?,
            services.list_keys(&t2)?,
            services.list_trust_anchors(&t2)?,
            services.list_audit(&t2, &tessera_store::AuditFilter::default())?,
        ))
    })
    .await?;
    let mut by_method: Vec<MethodCount> = Vec::new();
    for c in &clients {
        let m = s(c, "token_endpoint_auth_method");
        match by_method.iter_mut().find(|x| x.method == m) {
            Some(x) => x.count += 1,
            None => by_method.push(MethodCount { method: m, count: 1 }),
        }
    }
    by_method.sort_by(|a, b| a.method.cmp(&b.method));
    let now = tessera_core::time::now_secs();
    let page = DashboardPage {
        layout: Layout::new(&user, format!("Tenant {t}"), Some(&t), "dashboard").with_notice(req.query_string()),
        display_name: s(&tenant, "display_name"),
        issuer: s(&tenant, "issuer"),
        token_endpoint: format!("{}/oauth2/token", s(&tenant, "issuer")),
        total_clients: clients.len(),
        disabled_clients: clients.iter().filter(|c| c["disabled"] == Value::Bool(true)).count(),
        by_method,
        keys: keys
            .iter()
            .map(|k| KeySummary {
                kid: s(k, "kid"),
                alg: s(k, "alg"),
                state: s(k, "state"),
            })
            .collect(),
        anchors: anchors.len(),
        anchors_expiring: anchors
            .iter()
            .filter(|a| a["not_after"].as_i64().unwrap_or(0) - now < EXPIRY_WARNING_SECS)
            .count(),
        recent: recent.iter().take(10).map(AuditRow::from_record).collect(),
        tenant: t,
    };
    render(StatusCode::OK, &page)
}

/// The settings form's values, as typed.
#[derive(Debug, Default)]
pub struct SettingsForm {
    pub display_name: String,
    pub access_token_ttl_secs: String,
    pub signing_alg: String,
    pub assertion_algs: Vec<String>,
    pub assertion_max_lifetime_secs: String,
    pub clock_skew_secs: String,
    pub strict_assertion_audience: bool,
    pub default_audience: String,
    pub resources: String,
    pub require_bound_tokens: bool,
    /// Rate limits: empty means the server's default.
    pub rate_limits: [String; 4],
}

/// Rate-limit settings, in the order of `SettingsForm::rate_limits`; an
/// empty field is `null` (the server's `[ratelimit]` default).
pub const RATE_LIMIT_FIELDS: [&str; 4] = [
    "rate_limit_client_requests",
    "rate_limit_address_requests",
    "rate_limit_address_failures",
    "rate_limit_window_secs",
];

const NUMBER_FIELDS: [&str; 3] = [
    "access_token_ttl_secs",
    "assertion_max_lifetime_secs",
    "clock_skew_secs",
];

impl SettingsForm {
    fn from_tenant(t: &Value) -> Self {
        let list = |k: &str| -> Vec<String> {
            t[k].as_array()
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        Self {
            display_name: s(t, "display_name"),
            access_token_ttl_secs: s(t, "access_token_ttl_secs"),
            signing_alg: s(t, "signing_alg"),
            assertion_algs: list("assertion_algs"),
            assertion_max_lifetime_secs: s(t, "assertion_max_lifetime_secs"),
            clock_skew_secs: s(t, "clock_skew_secs"),
            strict_assertion_audience: t["strict_assertion_audience"] == Value::Bool(true),
            default_audience: s(t, "default_audience"),
            resources: list("resources").join("\n"),
            require_bound_tokens: t["require_bound_tokens"] == Value::Bool(true),
            rate_limits: RATE_LIMIT_FIELDS.map(|k| t[k].as_u64().map(|n| n.to_string()).unwrap_or_default()),
        }
    }

    fn from_form(f: &FormData) -> Self {
        Self {
            display_name: f.text("display_name"),
            access_token_ttl_secs: f.text("access_token_ttl_secs"),
            signing_alg: f.text("signing_alg"),
            assertion_algs: f.all("assertion_algs"),
            assertion_max_lifetime_secs: f.text("assertion_max_lifetime_secs"),
            clock_skew_secs: f.text("clock_skew_secs"),
            strict_assertion_audience: f.checked("strict_assertion_audience"),
            default_audience: f.text("default_audience"),
            resources: f.get("resources").to_owned(),
            require_bound_tokens: f.checked("require_bound_tokens"),
            rate_limits: RATE_LIMIT_FIELDS.map(|k| f.text(k)),
        }
    }

    /// The PATCH body; numbers that are not numbers are field errors.
    fn to_patch(&self, errors: &mut FieldErrors) -> Value {
        let mut obj = Map::new();
        obj.insert("display_name".into(), json!(self.display_name));
        for (field, raw) in NUMBER_FIELDS.iter().zip([
            &self.access_token_ttl_secs,
            &self.assertion_max_lifetime_secs,
            &self.clock_skew_secs,
        ]) {
            match raw.parse::<u64>() {
                Ok(n) => {
                    obj.insert((*field).into(), json!(n));
                }
                Err(_) => errors.add(field, "must be a whole number of seconds"),
            }
        }
        obj.insert("signing_alg".into(), json!(self.signing_alg));
        obj.insert("assertion_algs".into(), json!(self.assertion_algs));
        obj.insert(
            "strict_assertion_audience".into(),
            json!(self.strict_assertion_audience),
        );
        obj.insert(
            "default_audience".into(),
            if self.default_audience.is_empty() {
                Value::Null
            } else {
                json!(self.default_audience)
            },
        );
        let resources: Vec<&str> = self
            .resources
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        obj.insert(
            "resources".into(),
            if resources.is_empty() {
                Value::Null
            } else {
                json!(resources)
            },
        );
        obj.insert("require_bound_tokens".into(), json!(self.require_bound_tokens));
        for (field, raw) in RATE_LIMIT_FIELDS.iter().zip(&self.rate_limits) {
            let raw = raw.trim();
            if raw.is_empty() {
                obj.insert((*field).into(), Value::Null);
            } else {
                match raw.parse::<u64>() {
                    Ok(n) => {
                        obj.insert((*field).into(), json!(n));
                    }
                    Err(_) => errors.add(field, "must be a whole number, or empty for the server's default"),
                }
            }
        }
        Value::Object(obj)
    }

    /// The typed value of rate-limit field `i` (see `RATE_LIMIT_FIELDS`).
    pub fn rate_limit(&self, i: &usize) -> &str {
        self.rate_limits.get(*i).map_or("", String::as_str)
    }

    pub fn has_alg(&self, alg: &&str) -> bool {
        self.assertion_algs.iter().any(|a| a == alg)
    }
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    layout: Layout,
    tenant: String,
    form: SettingsForm,
    algs: Vec<&'static str>,
    /// (index in the form, field name, label).
    rate_limit_fields: [(usize, &'static str, &'static str); 4],
    errors: FieldErrors,
    other_errors: Vec<String>,
}

const RATE_LIMIT_LABELS: [&str; 4] = [
    "Successful token requests per client",
    "Token requests per source address",
    "Failed client authentications per source address",
    "Window (seconds)",
];

const SETTINGS_FIELDS: [&str; 14] = [
    "display_name",
    "access_token_ttl_secs",
    "signing_alg",
    "assertion_algs",
    "assertion_max_lifetime_secs",
    "clock_skew_secs",
    "strict_assertion_audience",
    "default_audience",
    "resources",
    "require_bound_tokens",
    "rate_limit_client_requests",
    "rate_limit_address_requests",
    "rate_limit_address_failures",
    "rate_limit_window_secs",
];

fn settings_page_for(layout: Layout, tenant: String, form: SettingsForm, errors: FieldErrors) -> Page {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let other_errors = errors.others(&SETTINGS_FIELDS);
    render(
        status,
        &SettingsPage {
            layout,
            tenant,
            form,
            algs: SigningAlg::ALL.iter().map(|a| a.as_str()).collect(),
            rate_limit_fields: std::array::from_fn(|i| (i, RATE_LIMIT_FIELDS[i], RATE_LIMIT_LABELS[i])),
            errors,
            other_errors,
        },
    )
}

pub async fn settings_page(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Page {
    let t = path.into_inner();
    let user = require_tenant(&req, &state, &t).await?;
    let (services, t2) = (state.services.clone(), t.clone());
    let tenant = blocking(move || services.get_tenant(&t2)).await?;
    let layout = Layout::new(&user, "Settings", Some(&t), "settings").with_notice(req.query_string());
    settings_page_for(layout, t, SettingsForm::from_tenant(&tenant), FieldErrors::default())
}

pub async fn settings_submit(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Page {
    let t = path.into_inner();
    let (user, f) = tenant_form(&req, payload, &state, &t).await?;
    let form = SettingsForm::from_form(&f);
    let mut errors = FieldErrors::default();
    let patch = form.to_patch(&mut errors);
    let layout = Layout::new(&user, "Settings", Some(&t), "settings");
    if !errors.is_empty() {
        return settings_page_for(layout, t, form, errors);
    }
    let t2 = t.clone();
    match change(&req, &state, &user, &t, move |s, a| s.patch_tenant(&t2, &patch, a)).await {
        Ok(_) => Ok(redirect(&format!("/admin/tenants/{t}/settings?notice=saved"))),
        Err(e) => settings_page_for(layout, t, form, FieldErrors::from_service(e)?),
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    tenant: String,
    actor: String,
    action: String,
    target: String,
    entries: Vec<AuditRow>,
}

pub async fn audit_log(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Page {
    let t = path.into_inner();
    let user = require_tenant(&req, &state, &t).await?;
    let filter = crate::http::admin::audit_filter(req.query_string());
    let shown = filter.clone();
    let (services, t2) = (state.services.clone(), t.clone());
    let records = blocking(move || services.list_audit(&t2, &filter)).await?;
    render(
        StatusCode::OK,
        &AuditPage {
            layout: Layout::new(&user, "Audit log", Some(&t), "audit"),
            tenant: t,
            actor: shown.actor.unwrap_or_default(),
            action: shown.action.unwrap_or_default(),
            target: shown.target.unwrap_or_default(),
            entries: records.iter().map(AuditRow::from_record).collect(),
        },
    )
}
