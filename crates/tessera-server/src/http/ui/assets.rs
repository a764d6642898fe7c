//! Stylesheet and script, embedded in the binary (no build step, no CDN).

use super::page::UiError;
use actix_web::http::header;
use actix_web::{web, HttpResponse};

const CSS: &str = include_str!("../../../static/admin.css");
const JS: &str = include_str!("../../../static/admin.js");

pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, UiError> {
    let (body, content_type) = match path.as_str() {
        "admin.css" => (CSS, "text/css; charset=utf-8"),
        "admin.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return Err(UiError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body))
}
