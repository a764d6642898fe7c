//! The admin UI: server-rendered HTML (askama) under `/admin/`, over the
//! same service layer as the admin API. Sessions live in the database,
//! every state-changing form carries the session's CSRF token, and a tenant
//! admin asking for another tenant gets the same 404 as for a tenant that
//! does not exist.

mod anchors;
mod assets;
mod client_form;
mod clients;
mod credentials;
mod form;
mod login;
mod page;
mod session;
mod tenants;

use actix_web::web;

pub use session::policy_from_config;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(tenants::home))
        .route("/admin/", web::get().to(tenants::home))
        .route("/admin/static/{file}", web::get().to(assets::asset))
        .route("/admin/login", web::get().to(login::login_page))
        .route("/admin/login", web::post().to(login::login_submit))
        .route("/admin/logout", web::post().to(login::logout))
        .route("/admin/tenants", web::get().to(tenants::list))
        .route("/admin/tenants", web::post().to(tenants::create))
        .route("/admin/tenants/{t}", web::get().to(tenants::dashboard))
        .route("/admin/tenants/{t}/settings", web::get().to(tenants::settings_page))
        .route("/admin/tenants/{t}/settings", web::post().to(tenants::settings_submit))
        .route("/admin/tenants/{t}/audit", web::get().to(tenants::audit_log))
        .route("/admin/tenants/{t}/keys", web::get().to(anchors::keys))
        .route("/admin/tenants/{t}/keys/rotate", web::post().to(anchors::rotate_keys))
        .route("/admin/tenants/{t}/trust-anchors", web::get().to(anchors::anchors))
        .route("/admin/tenants/{t}/trust-anchors", web::post().to(anchors::add_anchor))
        .route(
            "/admin/tenants/{t}/trust-anchors/{id}/delete",
            web::post().to(anchors::delete_anchor),
        )
        .route("/admin/tenants/{t}/clients", web::get().to(clients::list))
        .route("/admin/tenants/{t}/clients", web::post().to(client_form::create))
        .route("/admin/tenants/{t}/clients/new", web::get().to(client_form::new_page))
        .route("/admin/tenants/{t}/clients/{c}", web::get().to(clients::detail))
        .route("/admin/tenants/{t}/clients/{c}", web::post().to(client_form::edit))
        .route(
            "/admin/tenants/{t}/clients/{c}/disable",
            web::post().to(clients::disable),
        )
        .route("/admin/tenants/{t}/clients/{c}/enable", web::post().to(clients::enable))
        .route(
            "/admin/tenants/{t}/clients/{c}/secret",
            web::post().to(clients::rotate_secret),
        )
        .route(
            "/admin/tenants/{t}/clients/{c}/secret",
            web::get().to(clients::secret_page),
        )
        .route(
            "/admin/tenants/{t}/clients/{c}/delete",
            web::get().to(clients::delete_page),
        )
        .route("/admin/tenants/{t}/clients/{c}/delete", web::post().to(clients::delete));
}
