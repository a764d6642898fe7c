//! The admin API (INTERFACE.md §7): JSON over the service layer.

pub mod auth;
mod handlers;
pub mod openapi;

pub(crate) use handlers::audit_filter;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use handlers::*;
    cfg.route("/openapi.json", web::get().to(openapi_json))
        .route("/tenants", web::post().to(create_tenant))
        .route("/tenants", web::get().to(list_tenants))
        .route("/tenants/{t}", web::get().to(get_tenant))
        .route("/tenants/{t}", web::patch().to(patch_tenant))
        .route("/tenants/{t}", web::delete().to(delete_tenant))
        .route("/tenants/{t}/clients", web::post().to(create_client))
        .route("/tenants/{t}/clients", web::get().to(list_clients))
        .route("/tenants/{t}/clients/{c}", web::get().to(get_client))
        .route("/tenants/{t}/clients/{c}", web::put().to(replace_client))
        .route("/tenants/{t}/clients/{c}", web::patch().to(patch_client))
        .route("/tenants/{t}/clients/{c}", web::delete().to(delete_client))
        .route("/tenants/{t}/clients/{c}/secret", web::post().to(rotate_secret))
        .route("/tenants/{t}/keys", web::get().to(list_keys))
        .route("/tenants/{t}/keys/rotate", web::post().to(rotate_keys))
        .route("/tenants/{t}/audit", web::get().to(list_audit))
        .route("/tenants/{t}/trust-anchors", web::get().to(list_trust_anchors))
        .route("/tenants/{t}/trust-anchors", web::post().to(add_trust_anchor))
        .route("/tenants/{t}/trust-anchors/{id}", web::delete().to(delete_trust_anchor))
        .route("/tenants/{t}/trust-anchors/{id}", web::patch().to(set_trust_anchor_crl));
}

/// The OpenAPI document: public (it describes the API, it grants nothing).
async fn openapi_json() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi::document())
}
