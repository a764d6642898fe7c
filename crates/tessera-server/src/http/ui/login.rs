//! Sign-in and sign-out. Error messages never tell whether an account
//! exists; throttling applies per account and per source address.

use super::form::FormData;
use super::page::{redirect, render, Layout, UiError};
use super::session::{check_csrf, cleared_session_cookie, current_user, require_user, session_cookie};
use crate::cache::blocking;
use crate::service::LoginOutcome;
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Login CSRF (double submit): the form's token must equal this cookie's.
const LOGIN_COOKIE: &str = "tessera_login";
const INVALID: &str = "Invalid username or password.";
const THROTTLED: &str = "Too many failed sign-ins. Try again later.";

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    layout: Layout,
    login_token: String,
    username: String,
    error: Option<&'static str>,
}

fn new_login_token() -> Result<String, UiError> {
    let mut b = [0u8; 32];
    openssl::rand::rand_bytes(&mut b).map_err(|_| UiError::Internal)?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

fn login_cookie(value: String) -> Cookie<'static> {
    Cookie::build(LOGIN_COOKIE, value)
        .path("/admin/login")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .finish()
}

fn login_form(status: StatusCode, username: String, error: Option<&'static str>) -> Result<HttpResponse, UiError> {
    let token = new_login_token()?;
    let page = LoginPage {
        layout: Layout {
            title: "Sign in".into(),
            ..Layout::default()
        },
        login_token: token.clone(),
        username,
        error,
    };
    let mut res = render(status, &page)?;
    res.add_cookie(&login_cookie(token)).map_err(|_| UiError::Internal)?;
    Ok(res)
}

pub async fn login_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, UiError> {
    if current_user(&req, &state).await?.is_some() {
        return Ok(redirect("/admin/"));
    }
    login_form(StatusCode::OK, String::new(), None)
}

pub async fn login_submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::read(&req, payload).await?;
    let expected = req
        .cookie(LOGIN_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty() || !crate::http::same_secret(form.get("login_token"), &expected) {
        return Err(UiError::Csrf);
    }
    let username = form.text("username");
    let password = form.get("password").to_owned();
    let source =
        crate::http::client_cert::source_address(&req, state.proxy.as_ref(), state.client_ip_header.as_deref())
            .map_or_else(|| "unknown".into(), |ip| ip.to_string());
    let (services, policy) = (state.services.clone(), state.ui_policy);
    let (name, src) = (username.clone(), source.clone());
    let outcome = blocking(move || services.login(&name, &password, &src, &policy)).await?;
    // What was typed is shown back only as far as it could be a username.
    let shown: String = username.chars().take(64).collect();
    match outcome {
        LoginOutcome::Success { cookie, user } => {
            tracing::info!(user = %user.username, %source, "admin UI: signed in");
            let mut res = redirect("/admin/");
            res.add_cookie(&session_cookie(cookie)).map_err(|_| UiError::Internal)?;
            let mut gone = login_cookie(String::new());
            gone.make_removal();
            res.add_cookie(&gone).map_err(|_| UiError::Internal)?;
            Ok(res)
        }
        LoginOutcome::Invalid => {
            tracing::warn!(%source, "admin UI: sign-in refused");
            login_form(StatusCode::UNAUTHORIZED, shown, Some(INVALID))
        }
        LoginOutcome::Throttled => {
            tracing::warn!(%source, "admin UI: sign-in throttled");
            let mut res = login_form(StatusCode::TOO_MANY_REQUESTS, shown, Some(THROTTLED))?;
            res.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(state.ui_policy.throttle_window_secs),
            );
            Ok(res)
        }
    }
}

pub async fn logout(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UiError> {
    let user = require_user(&req, &state).await?;
    let form = FormData::read(&req, payload).await?;
    check_csrf(&user, &form)?;
    let services = state.services.clone();
    let id = user.session_id_hash.clone();
    blocking(move || services.logout(&id)).await?;
    tracing::info!(user = %user.username, "admin UI: signed out");
    let mut res = redirect("/admin/login");
    res.add_cookie(&cleared_session_cookie())
        .map_err(|_| UiError::Internal)?;
    Ok(res)
}
