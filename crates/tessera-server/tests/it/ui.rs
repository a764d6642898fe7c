//! The admin UI over HTTP: sign-in, sessions (shared by instances, idle and
//! absolute expiry, ended by sign-out and password resets), CSRF on every
//! change, sign-in throttling, tenant confinement, and the client forms.

use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use tessera_server::service::{session_id_hash, Services};
use tessera_store::{AdminSession, AuditEntry};
use tessera_testkit::{Backend, TestApp, TestDb};

pub(crate) const PASSWORD: &str = "correct horse battery staple";
const INVALID: &str = "Invalid username or password.";
const THROTTLED: &str = "Too many failed sign-ins. Try again later.";

/// A browser stand-in: no redirects followed, the session cookie kept by hand.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    pub(crate) session: Option<String>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The value of the first `<input name="NAME" ... value="...">`.
    pub(crate) fn input(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).unwrap_or_else(|| panic!("no input {name}")) + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

fn cookie_value<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<(&'a str, &'a str)> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| {
            let value = c[name.len() + 1..].split(';').next().unwrap();
            (value, c)
        })
}

impl Browser {
    pub(crate) fn new(app: &TestApp) -> Self {
        Self::at(&app.base_url)
    }

    /// A browser for the server at `base` (e.g. `http://127.0.0.1:PORT`).
    pub(crate) fn at(base: &str) -> Self {
        Self {
            http: tessera_testkit::https_client_no_redirects(),
            base: base.to_owned(),
            session: None,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        extra_cookie: Option<String>,
    ) -> Page {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        let mut cookies: Vec<String> = Vec::new();
        if let Some(s) = &self.session {
            cookies.push(format!("tessera_admin={s}"));
        }
        cookies.extend(extra_cookie);
        if !cookies.is_empty() {
            req = req.header("cookie", cookies.join("; "));
        }
        if let Some(form) = form {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(tessera_testkit::encode_form(form));
        }
        let res = req.send().await.unwrap();
        Page {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Page {
        self.send(Method::GET, path, None, None).await
    }

    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form), None).await
    }

    /// Signs in through the login form; returns the answer to the POST.
    pub(crate) async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        self.session = None;
        let form = self.get("/admin/login").await;
        assert_eq!(form.status, 200);
        let (login_cookie, _) = cookie_value(&form.headers, "tessera_login").expect("login cookie");
        let token = form.input("login_token");
        let page = self
            .send(
                Method::POST,
                "/admin/login",
                Some(&[("login_token", &token), ("username", username), ("password", password)]),
                Some(format!("tessera_login={login_cookie}")),
            )
            .await;
        if let Some((value, _)) = cookie_value(&page.headers, "tessera_admin") {
            tessera_testkit::logs::register_secret(value);
            self.session = Some(value.to_owned());
        }
        page
    }

    /// The CSRF token of the signed-in session (from any page's sign-out form).
    pub(crate) async fn csrf(&self, path: &str) -> String {
        self.get(path).await.input("csrf_token")
    }
}

/// The service layer on the app's database (as the CLI would open it).
fn services(app: &TestApp) -> Services {
    tessera_server::app::open_services(&app.config).unwrap()
}

pub(crate) fn add_user(app: &TestApp, name: &str, tenant: Option<&str>) {
    services(app)
        .create_admin_user(name, tenant, PASSWORD, &AuditEntry::new("test", None))
        .unwrap();
}

async fn sign_in_sessions_and_sign_out(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    add_user(&app, "root", None);
    let mut b = Browser::new(&app);

    // Not signed in: every page sends the browser to the sign-in form.
    for path in ["/admin/", "/admin/tenants", "/admin/tenants/acme/clients"] {
        let p = b.get(path).await;
        assert_eq!((p.status.as_u16(), p.location()), (303, "/admin/login"), "{path}");
    }
    // A sign-in POST that did not come from the form (no login token) is refused.
    let p = b
        .post("/admin/login", &[("username", "root"), ("password", PASSWORD)])
        .await;
    assert_eq!(p.status, 403);

    // A wrong password and an unknown account get the same answer.
    let wrong = b.sign_in("root", "wrong password!!").await;
    let unknown = b.sign_in("nobody", PASSWORD).await;
    for p in [&wrong, &unknown] {
        assert_eq!(p.status, 401);
        assert!(p.body.contains(INVALID), "{}", p.body);
        assert!(cookie_value(&p.headers, "tessera_admin").is_none());
    }
    assert!(b.session.is_none());

    let ok = b.sign_in("Root", PASSWORD).await;
    assert_eq!((ok.status.as_u16(), ok.location()), (303, "/admin/"));
    let (_, cookie) = cookie_value(&ok.headers, "tessera_admin").unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let home = b.get("/admin/").await;
    assert_eq!(home.location(), "/admin/tenants");
    let tenants = b.get("/admin/tenants").await;
    assert_eq!(tenants.status, 200);
    assert!(tenants.body.contains("data-tenant-id=\"acme\""));
    let csp = tenants.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(tenants.headers["x-frame-options"], "DENY");
    assert_eq!(tenants.headers["cache-control"], "no-store");

    // The session lives in the database: a second instance honours it.
    let other = TestApp::spawn_on(app.db.clone(), |_| {}).await;
    let mut b2 = Browser::new(&other);
    b2.session = b.session.clone();
    assert_eq!(b2.get("/admin/tenants").await.status, 200);

    // Sign-out needs the CSRF token, then ends the session everywhere.
    let p = b.post("/admin/logout", &[]).await;
    assert_eq!(p.status, 403);
    assert_eq!(b.get("/admin/tenants").await.status, 200);
    let csrf = b.csrf("/admin/tenants").await;
    let p = b.post("/admin/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/admin/login"));
    let (value, removal) = cookie_value(&p.headers, "tessera_admin").unwrap();
    assert!(value.is_empty() && removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(b.get("/admin/tenants").await.location(), "/admin/login");
    assert_eq!(b2.get("/admin/tenants").await.location(), "/admin/login");
    let hash = session_id_hash(b.session.as_deref().unwrap());
    assert!(services(&app).store.get_admin_session(&hash).unwrap().is_none());
    other.stop().await;
}

async fn sessions_expire_and_password_resets_end_them(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let app = TestApp::spawn_on(db, |c| {
        c.admin.session_idle_timeout_secs = 600;
        c.admin.session_max_lifetime_secs = 3600;
    })
    .await;
    add_user(&app, "root", None);
    let s = services(&app);
    let now = tessera_core::time::now_secs();

    // Idle longer than the idle timeout: ended (and deleted).
    let mut b = Browser::new(&app);
    b.sign_in("root", PASSWORD).await;
    let hash = session_id_hash(b.session.as_deref().unwrap());
    s.store.touch_admin_session(&hash, now - 599).unwrap();
    assert_eq!(b.get("/admin/tenants").await.status, 200, "within the idle timeout");
    s.store.touch_admin_session(&hash, now - 601).unwrap();
    assert_eq!(b.get("/admin/tenants").await.location(), "/admin/login");
    assert!(s.store.get_admin_session(&hash).unwrap().is_none());

    // Older than the absolute lifetime, however recently used: ended.
    for (age, alive) in [(3590, true), (3610, false)] {
        let cookie = format!("absolute-{age}-cookie-value");
        s.store
            .create_admin_session(&AdminSession {
                id_hash: session_id_hash(&cookie),
                username: "root".into(),
                csrf_token: "t".into(),
                created_at: now - age,
                last_seen_at: now,
                source: None,
                pending_secret: None,
            })
            .unwrap();
        let mut old = Browser::new(&app);
        old.session = Some(cookie);
        let p = old.get("/admin/tenants").await;
        assert_eq!(p.status == 200, alive, "age {age}: {}", p.status);
    }

    // A password reset signs the account out.
    let mut b = Browser::new(&app);
    b.sign_in("root", PASSWORD).await;
    assert_eq!(b.get("/admin/tenants").await.status, 200);
    s.reset_admin_password("root", "another long password", &AuditEntry::new("test", None))
        .unwrap();
    assert_eq!(b.get("/admin/tenants").await.location(), "/admin/login");
    assert_eq!(b.sign_in("root", PASSWORD).await.status, 401);
    assert_eq!(b.sign_in("root", "another long password").await.status, 303);
    app.stop().await;
}

fn create_form(csrf: &str) -> Vec<(&str, &str)> {
    vec![
        ("csrf_token", csrf),
        ("token_endpoint_auth_method", "client_secret_basic"),
        ("client_id", "ui-client"),
        ("scope", "orders:read"),
        ("action", "create"),
    ]
}

async fn every_change_needs_the_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    add_user(&app, "alice", Some("acme"));
    let mut b = Browser::new(&app);
    b.sign_in("alice", PASSWORD).await;
    let csrf = b.csrf("/admin/tenants/acme/clients").await;
    // Without the token, or with another session's token: 403, nothing made.
    let mut other = Browser::new(&app);
    other.sign_in("alice", PASSWORD).await;
    let foreign = other.csrf("/admin/tenants/acme").await;
    assert_ne!(foreign, csrf);
    for form in [create_form(""), create_form(&foreign), create_form("x")] {
        let p = b.post("/admin/tenants/acme/clients", &form).await;
        assert_eq!(p.status, 403);
        assert!(p.body.contains("<h1>Forbidden</h1>"));
    }
    let paths = [
        "/admin/tenants/acme/keys/rotate",
        "/admin/tenants/acme/settings",
        "/admin/tenants/acme/trust-anchors",
        "/admin/logout",
    ];
    for path in paths {
        assert_eq!(b.post(path, &[]).await.status, 403, "{path}");
    }
    let audit = app.admin(Method::GET, "/tenants/acme/audit", None).await;
    assert!(
        audit.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] != "user:alice"),
        "{}",
        audit.body
    );
    assert_eq!(
        app.admin(Method::GET, "/tenants/acme/clients/ui-client", None)
            .await
            .status,
        404
    );

    // With it: created, then (POST, redirect, GET) the secret shown once and working.
    let p = b.post("/admin/tenants/acme/clients", &create_form(&csrf)).await;
    assert_eq!(
        (p.status.as_u16(), p.location()),
        (303, "/admin/tenants/acme/clients/ui-client/secret"),
        "{}",
        p.body
    );
    let p = b.get("/admin/tenants/acme/clients/ui-client/secret").await;
    assert_eq!(p.status, 200);
    assert_eq!(p.headers["cache-control"], "no-store");
    let start = p.body.find("id=\"client-secret\" class=\"secret\">").unwrap() + 34;
    let secret = p.body[start..].split('<').next().unwrap().to_owned();
    assert_eq!(secret.len(), 43, "{secret}");
    let token = app
        .token_basic("acme", "ui-client", &secret, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(token.status, 200, "{:?}", token.body);
    // Reloading the secret page shows nothing and repeats nothing.
    let again = b.get("/admin/tenants/acme/clients/ui-client/secret").await;
    assert_eq!(
        again.location(),
        "/admin/tenants/acme/clients/ui-client?notice=secret-gone"
    );
    let detail = b.get(again.location()).await;
    assert!(!detail.body.contains(&secret), "the secret is shown only once");
    assert!(detail.body.contains("shown only once and is not kept"));
    // Another session of the same account never sees it either.
    assert!(!other
        .get("/admin/tenants/acme/clients/ui-client/secret")
        .await
        .body
        .contains(&secret));

    // A rotation works the same way; the old secret stops working.
    let p = b
        .post(
            "/admin/tenants/acme/clients/ui-client/secret",
            &[("csrf_token", &csrf), ("grace_period_secs", "0")],
        )
        .await;
    assert_eq!(p.location(), "/admin/tenants/acme/clients/ui-client/secret");
    let p = b.get(p.location()).await;
    let start = p.body.find("id=\"client-secret\" class=\"secret\">").unwrap() + 34;
    let rotated = p.body[start..].split('<').next().unwrap().to_owned();
    assert_ne!(rotated, secret);
    let form = [("grant_type", "client_credentials")];
    assert_eq!(app.token_basic("acme", "ui-client", &secret, &form).await.status, 401);
    assert_eq!(app.token_basic("acme", "ui-client", &rotated, &form).await.status, 200);
    let audit = app
        .admin(Method::GET, "/tenants/acme/audit?action=client.rotate_secret", None)
        .await;
    assert_eq!(
        audit.body["entries"].as_array().unwrap().len(),
        1,
        "reloads did not rotate again"
    );

    // Audited with the account and the source address; no secret in the trail.
    let audit = app
        .admin(Method::GET, "/tenants/acme/audit?action=client.create", None)
        .await;
    let entries = audit.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", audit.body);
    assert_eq!(entries[0]["actor"], "user:alice");
    assert_eq!(entries[0]["target"], "ui-client");
    assert_eq!(entries[0]["source"], "127.0.0.1");
    assert!(!audit.body.to_string().contains(&secret));
}

async fn tenant_admins_are_confined_to_their_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    app.create_tenant("globex", json!({})).await;
    app.create_secret_client("globex", json!({"client_id": "theirs"})).await;
    add_user(&app, "alice", Some("acme"));
    let mut b = Browser::new(&app);
    b.sign_in("alice", PASSWORD).await;
    assert_eq!(b.get("/admin/").await.location(), "/admin/tenants/acme");
    assert_eq!(b.get("/admin/tenants/acme").await.status, 200);
    let missing = b.get("/admin/tenants/no-such-tenant").await;
    assert_eq!(missing.status, 404);
    for path in [
        "/admin/tenants",
        "/admin/tenants/globex",
        "/admin/tenants/globex/clients",
        "/admin/tenants/globex/clients/theirs",
        "/admin/tenants/globex/audit",
        "/admin/tenants/globex/keys",
        "/admin/tenants/globex/settings",
        "/admin/tenants/globex/trust-anchors",
        "/admin/tenants/system",
    ] {
        let p = b.get(path).await;
        assert_eq!(p.status, 404, "{path}");
        // The same page as for a tenant that does not exist.
        assert_eq!(p.body, missing.body, "{path}");
    }
    // Changes aimed at the other tenant, even with a valid CSRF token: 404, nothing changed.
    let csrf = b.csrf("/admin/tenants/acme").await;
    for (path, form) in [
        (
            "/admin/tenants/globex/clients/theirs/delete",
            vec![("csrf_token", csrf.as_str())],
        ),
        (
            "/admin/tenants/globex/clients/theirs/disable",
            vec![("csrf_token", csrf.as_str())],
        ),
        ("/admin/tenants/globex/keys/rotate", vec![("csrf_token", csrf.as_str())]),
        (
            "/admin/tenants/globex/clients",
            vec![
                ("csrf_token", csrf.as_str()),
                ("token_endpoint_auth_method", "client_secret_basic"),
                ("client_id", "planted"),
            ],
        ),
        (
            "/admin/tenants",
            vec![("csrf_token", csrf.as_str()), ("id", "made-by-alice")],
        ),
    ] {
        assert_eq!(b.post(path, &form).await.status, 404, "{path}");
    }
    let theirs = app.admin(Method::GET, "/tenants/globex/clients/theirs", None).await;
    assert_eq!((theirs.status.as_u16(), &theirs.body["disabled"]), (200, &json!(false)));
    assert_eq!(
        app.admin(Method::GET, "/tenants/globex/clients/planted", None)
            .await
            .status,
        404
    );
    assert_eq!(app.admin(Method::GET, "/tenants/made-by-alice", None).await.status, 404);
    let audit = app
        .admin(Method::GET, "/tenants/globex/audit?actor=user:alice", None)
        .await;
    assert_eq!(audit.body["entries"], json!([]));
}

async fn sign_in_is_throttled_per_account_and_per_address(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let app = TestApp::spawn_on(db, |c| {
        c.admin.login_max_failures_per_account = 3;
        c.admin.login_max_failures_per_address = 8;
    })
    .await;
    add_user(&app, "alice", None);
    add_user(&app, "bob", None);
    let mut b = Browser::new(&app);
    // Below the limit, the right password still works (and clears the count).
    assert_eq!(b.sign_in("alice", "not the password").await.status, 401);
    assert_eq!(b.sign_in("alice", PASSWORD).await.status, 303);
    for _ in 0..3 {
        assert_eq!(b.sign_in("alice", "not the password").await.status, 401);
    }
    // Alice's account is now refused even with the right password...
    let p = b.sign_in("alice", PASSWORD).await;
    assert_eq!(p.status, 429);
    assert!(p.body.contains(THROTTLED));
    assert_eq!(p.headers["retry-after"], "900");
    assert!(cookie_value(&p.headers, "tessera_admin").is_none());
    // ...and an unknown account is refused the same way (no enumeration).
    for _ in 0..3 {
        assert_eq!(b.sign_in("ghost", "not the password").await.status, 401);
    }
    let ghost = b.sign_in("ghost", PASSWORD).await;
    assert_eq!(ghost.status, 429);
    assert!(ghost.body.contains(THROTTLED));
    // The address has 7 failures (4 for alice, 3 for ghost); one of bob's
    // makes 8: now bob, with the right password and an account below its
    // limit, waits too.
    assert_eq!(b.sign_in("bob", "not the password").await.status, 401);
    let bob = b.sign_in("bob", PASSWORD).await;
    assert_eq!(bob.status, 429);

    // From another address bob signs in; alice's account stays throttled
    // there, and on every instance (the counts live in the database).
    let mut elsewhere = Browser::new(&app);
    elsewhere.http = tessera_testkit::https_client_no_redirects_from(Some("127.0.0.2".parse().unwrap()));
    assert_eq!(elsewhere.sign_in("bob", PASSWORD).await.status, 303);
    assert_eq!(elsewhere.sign_in("alice", PASSWORD).await.status, 429);
    let app2 = TestApp::spawn_on(app.db.clone(), |c| c.admin.login_max_failures_per_account = 3).await;
    assert_eq!(Browser::new(&app2).sign_in("alice", PASSWORD).await.status, 429);
    app2.stop().await;
}

async fn client_forms_check_keep_input_and_show_field_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    add_user(&app, "alice", Some("acme"));
    let mut b = Browser::new(&app);
    b.sign_in("alice", PASSWORD).await;
    let csrf = b.csrf("/admin/tenants/acme/clients/new?method=private_key_jwt").await;

    // Broken JSON: a field error at the JWK Set, the text kept, nothing saved.
    let broken = "{\"keys\": [";
    let p = b
        .post(
            "/admin/tenants/acme/clients",
            &[
                ("csrf_token", &csrf),
                ("token_endpoint_auth_method", "private_key_jwt"),
                ("client_id", "pk"),
                ("client_name", "Partner <One>"),
                ("jwks", broken),
                ("action", "create"),
            ],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(
        p.body.contains("class=\"field-error\" data-field=\"jwks\""),
        "{}",
        p.body
    );
    assert!(
        p.body.contains("{&#34;keys&#34;: [") || p.body.contains("{&quot;keys&quot;: ["),
        "input kept, escaped"
    );
    assert!(
        p.body.contains("Partner &#60;One&#62;") || p.body.contains("Partner &lt;One&gt;"),
        "escaped"
    );
    assert_eq!(
        app.admin(Method::GET, "/tenants/acme/clients/pk", None).await.status,
        404
    );

    // Check shows the key ids and algorithms, and saves nothing.
    let jwks = json!({"keys": [crate::assertions::partner_key("ES256", "partner-key-1").jwk]}).to_string();
    let p = b
        .post(
            "/admin/tenants/acme/clients",
            &[
                ("csrf_token", &csrf),
                ("token_endpoint_auth_method", "private_key_jwt"),
                ("client_id", "pk"),
                ("jwks", &jwks),
                ("action", "check"),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("id=\"parsed-keys\"") && p.body.contains("partner-key-1") && p.body.contains("ES256"));
    assert_eq!(
        app.admin(Method::GET, "/tenants/acme/clients/pk", None).await.status,
        404
    );

    // A DN is parsed and shown back; a malformed one is a field error.
    let tls = |dn: &'static str, action: &'static str| {
        vec![
            ("token_endpoint_auth_method", "tls_client_auth"),
            ("tls_name_field", "tls_client_auth_subject_dn"),
            ("tls_name_value", dn),
            ("action", action),
        ]
    };
    let mut form = tls("CN=Partner-1,  O=Example\\, Inc.", "check");
    form.push(("csrf_token", &csrf));
    let p = b.post("/admin/tenants/acme/clients", &form).await;
    assert!(p.body.contains("id=\"parsed-dn\""), "{}", p.body);
    assert!(
        p.body.contains("CN = partner-1") && p.body.contains("O = example, inc."),
        "{}",
        p.body
    );
    let mut form = tls("not a DN", "create");
    form.push(("csrf_token", &csrf));
    let p = b.post("/admin/tenants/acme/clients", &form).await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("data-field=\"tls_name_value\""), "{}", p.body);

    // Created for real: the stored client has the key, and the detail page shows it.
    let p = b
        .post(
            "/admin/tenants/acme/clients",
            &[
                ("csrf_token", &csrf),
                ("token_endpoint_auth_method", "private_key_jwt"),
                ("client_id", "pk"),
                ("jwks", &jwks),
                ("action", "create"),
            ],
        )
        .await;
    assert_eq!(
        (p.status.as_u16(), p.location()),
        (303, "/admin/tenants/acme/clients/pk?notice=created")
    );
    let stored = app.admin(Method::GET, "/tenants/acme/clients/pk", None).await;
    assert_eq!(stored.body["jwks"]["keys"][0]["kid"], "partner-key-1");
    let detail = b.get("/admin/tenants/acme/clients/pk").await;
    assert!(detail.body.contains("partner-key-1"));
}

backend_tests!(
    sign_in_sessions_and_sign_out,
    sessions_expire_and_password_resets_end_them,
    every_change_needs_the_csrf_token,
    tenant_admins_are_confined_to_their_tenant,
    sign_in_is_throttled_per_account_and_per_address,
    client_forms_check_keep_input_and_show_field_errors,
);
