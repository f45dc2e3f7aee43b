//! Single sign-on through an OpenID provider (the `openidconnect` crate): the authorization code
//! flow with PKCE, `state` and `nonce`; discovery and the provider's keys fetched on first use
//! and kept for an hour, fetched again when an ID token is signed by a key not among them (key
//! rotation, at most every 30 s); ID tokens checked for signature, issuer, audience, expiry and
//! nonce. Which role a user gets from their claims is `dsc_core::pull::policy::role_from_claim`.
//!
//! No request of the provider happens at start: a provider that is down makes sign-in fail
//! with a message, never the server.

use crate::config::OidcSettings;
use base64::Engine as _;
use dsc_core::pull::policy::Role;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LogoutRequest, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope, TokenResponse,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long discovery and keys are reused.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The soonest the keys are fetched again after an unknown key.
const MIN_REFRESH: Duration = Duration::from_secs(30);
/// The largest answer read from the provider.
const MAX_ANSWER: usize = 1024 * 1024;
/// How long one request to the provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why single sign-on failed; the message is shown to the user and logged.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered something unusable.
    #[error("the identity provider: {0}")]
    Provider(String),
    /// The ID token or the code was refused.
    #[error("the sign-in was refused: {0}")]
    Refused(String),
}

/// An HTTP failure talking to the provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// What a sign-in starts with: where to send the browser, and what the callback must match.
pub struct Begin {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The provider's stable id of the user.
    pub subject: String,
    /// `preferred_username`, else `email`, else the subject.
    pub display: String,
    /// The role claim's value, if the ID token has it.
    pub role_claim: Option<serde_json::Value>,
}

impl Identity {
    /// The traek account name of this user: `sso:` (no local name has a colon), a readable
    /// part, and a digest of issuer and subject, so that a reused user name at the provider
    /// never inherits another user's account.
    pub fn account_name(&self, issuer: &str) -> String {
        let readable: String = self
            .display
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
            .take(64)
            .collect();
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("{issuer}\0{}", self.subject).as_bytes());
        let digest = dsc_core::text::upper_hex(&digest[..4]).to_ascii_lowercase();
        format!("sso:{readable}:{digest}")
    }
}

/// The provider, its settings and the cached discovery document.
pub struct Oidc {
    pub settings: OidcSettings,
    redirect: String,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<Option<(Arc<ProviderMetadataWithLogout>, Instant)>>,
}

async fn send(
    http: reqwest::Client,
    req: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    let (parts, body) = req.into_parts();
    let err = |e: reqwest::Error| HttpError(e.to_string());
    let mut resp = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(err)?;
    let mut out = hyper::Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(err)? {
        if bytes.len() + chunk.len() > MAX_ANSWER {
            return Err(HttpError("the answer is larger than 1 MiB".into()));
        }
        bytes.extend_from_slice(&chunk);
    }
    out.body(bytes).map_err(|e| HttpError(e.to_string()))
}

impl Oidc {
    /// The provider of `settings`, answering on `public_url/ui/oidc/callback`.
    pub fn new(settings: OidcSettings, public_url: &str) -> Result<Oidc, String> {
        let http = reqwest::Client::builder()
            // The provider's answers are used as they come: no redirect is followed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| format!("single sign-on: {e}"))?;
        Ok(Oidc {
            settings,
            redirect: format!("{public_url}/ui/oidc/callback"),
            http,
            cache: tokio::sync::Mutex::new(None),
        })
    }

    /// The discovery document and keys: cached, or fetched when `refresh` (and not fetched in
    /// the last [`MIN_REFRESH`]) or older than [`METADATA_TTL`].
    async fn metadata(&self, refresh: bool) -> Result<Arc<ProviderMetadataWithLogout>, OidcError> {
        let mut cache = self.cache.lock().await;
        if let Some((m, at)) = cache.as_ref() {
            let age = at.elapsed();
            if age < METADATA_TTL && (!refresh || age < MIN_REFRESH) {
                return Ok(Arc::clone(m));
            }
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        let http = |req| send(self.http.clone(), req);
        let fetched = ProviderMetadataWithLogout::discover_async(issuer, &http)
            .await
            .map_err(|e| OidcError::Provider(format!("discovery failed: {}", chain(&e))))?;
        let fetched = Arc::new(fetched);
        *cache = Some((Arc::clone(&fetched), Instant::now()));
        Ok(fetched)
    }

    fn client(&self, m: &ProviderMetadataWithLogout) -> Result<ClientFor, OidcError> {
        let redirect = RedirectUrl::new(self.redirect.clone())
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            m.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the provider's authorization URL with a fresh state, nonce and PKCE
    /// challenge.
    pub async fn begin(&self) -> Result<Begin, OidcError> {
        let m = self.metadata(false).await?;
        let client = self.client(&m)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(Begin {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a sign-in: exchanges the code (with the PKCE verifier) and checks the ID
    /// token, fetching the provider's keys again once if it names a key not among them.
    pub async fn finish(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Identity, OidcError> {
        let m = self.metadata(false).await?;
        let client = self.client(&m)?;
        let http = |req| send(self.http.clone(), req);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&http)
            .await
            .map_err(|e| OidcError::Refused(format!("the code was not accepted: {}", chain(&e))))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| OidcError::Refused("the provider sent no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_string());
        match check_id_token(
            id_token,
            &self.verifier(&m),
            &nonce,
            &self.settings.role_claim,
        ) {
            Err(OidcError::Refused(why)) if why.starts_with(SIGNATURE) => {
                let m = self.metadata(true).await?;
                check_id_token(
                    id_token,
                    &self.verifier(&m),
                    &nonce,
                    &self.settings.role_claim,
                )
            }
            other => other,
        }
    }

    fn verifier<'a>(&'a self, m: &ProviderMetadataWithLogout) -> CoreIdTokenVerifier<'a> {
        verifier(&self.settings, m.jwks().clone())
    }

    /// Where to send the browser to end the provider's session too (RP-initiated logout),
    /// when the provider offers it; `after` is where the provider sends it back.
    pub async fn logout_url(&self, after: &str) -> Option<String> {
        let m = self.metadata(false).await.ok()?;
        let endpoint = m.additional_metadata().end_session_endpoint.clone()?;
        let mut request = LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.settings.client_id.clone()));
        if let Ok(after) = PostLogoutRedirectUrl::new(after.to_string()) {
            request = request.set_post_logout_redirect_uri(after);
        }
        Some(request.http_get_url().to_string())
    }

    /// The role a user gets from their role claim; `None`: refused.
    pub fn role_of(&self, identity: &Identity) -> Option<Role> {
        dsc_core::pull::policy::role_from_claim(identity.role_claim.as_ref(), &self.settings.roles)
    }
}

type ClientFor = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The start of the refusal message of a bad signature (the one that fetches keys again).
const SIGNATURE: &str = "signature:";

/// The ID token verifier for the settings' client and issuer with the provider's keys.
pub fn verifier(settings: &OidcSettings, jwks: CoreJsonWebKeySet) -> CoreIdTokenVerifier<'static> {
    CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(settings.client_id.clone()),
        ClientSecret::new(settings.client_secret.clone()),
        IssuerUrl::new(settings.issuer.clone())
            .unwrap_or_else(|_| IssuerUrl::from_url(url_placeholder())),
        jwks,
    )
}

fn url_placeholder() -> openidconnect::url::Url {
    // The issuer was checked at start; an issuer that does not parse matches no token.
    openidconnect::url::Url::parse("https://invalid.invalid/")
        .unwrap_or_else(|_| unreachable!("a valid URL"))
}

/// Checks an ID token (signature, issuer, audience, expiry, nonce) and reads who it names and
/// its role claim.
pub fn check_id_token(
    token: &CoreIdToken,
    verifier: &CoreIdTokenVerifier<'_>,
    nonce: &Nonce,
    role_claim: &str,
) -> Result<Identity, OidcError> {
    let claims = token.claims(verifier, nonce).map_err(|e| {
        let why = match &e {
            openidconnect::ClaimsVerificationError::SignatureVerification(s) => {
                format!("{SIGNATURE} {s}")
            }
            other => other.to_string(),
        };
        OidcError::Refused(format!("the ID token: {why}"))
    })?;
    let subject = claims.subject().to_string();
    let display = claims
        .preferred_username()
        .map(|u| u.to_string())
        .or_else(|| claims.email().map(|e| e.to_string()))
        .unwrap_or_else(|| subject.clone());
    // The signature is verified: the payload can be read for the role claim as it is.
    let payload = token
        .to_string()
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok());
    let role_claim = payload.and_then(|p| p.get(role_claim).cloned());
    Ok(Identity {
        subject,
        display,
        role_claim,
    })
}

/// An error and its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use openidconnect::core::{
        CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
    };
    use openidconnect::{
        Audience, EmptyAdditionalClaims, JsonWebKeyId, PrivateSigningKey, StandardClaims,
        SubjectIdentifier,
    };

    const KEY: &str = include_str!("../tests/oidc/test-signing-key.pem");
    const ISSUER: &str = "https://idp.example.com";

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: ISSUER.into(),
            client_id: "traek".into(),
            client_secret: "secret".into(),
            scopes: vec![],
            role_claim: "groups".into(),
            roles: vec![("admins".into(), Role::Admin)],
        }
    }

    /// An ID token signed by the test key, for `aud`, from `iss`, expiring in `ttl` seconds.
    fn token(
        key: &CoreRsaPrivateSigningKey,
        iss: &str,
        aud: &str,
        ttl: i64,
        nonce: &str,
    ) -> CoreIdToken {
        let now = chrono::Utc::now();
        let claims = CoreIdTokenClaims::new(
            IssuerUrl::new(iss.into()).unwrap(),
            vec![Audience::new(aud.into())],
            now + chrono::Duration::seconds(ttl),
            now - chrono::Duration::seconds(5),
            StandardClaims::new(SubjectIdentifier::new("alice-id".into())),
            EmptyAdditionalClaims {},
        )
        .set_nonce(Some(Nonce::new(nonce.into())));
        CoreIdToken::new(
            claims,
            key,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
        .unwrap()
    }

    fn refusal(result: Result<Identity, OidcError>) -> String {
        match result {
            Err(OidcError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn id_tokens_for_another_audience_issuer_nonce_or_key_or_expired_are_refused() {
        let key =
            CoreRsaPrivateSigningKey::from_pem(KEY, Some(JsonWebKeyId::new("k1".into()))).unwrap();
        let jwks = CoreJsonWebKeySet::new(vec![key.as_verification_key()]);
        let s = settings();
        let v = verifier(&s, jwks);
        let nonce = Nonce::new("n-1".into());
        let good = token(&key, ISSUER, "traek", 300, "n-1");
        let who = check_id_token(&good, &v, &nonce, "groups").unwrap();
        assert_eq!(who.subject, "alice-id");

        let other_app = token(&key, ISSUER, "other-app", 300, "n-1");
        assert!(refusal(check_id_token(&other_app, &v, &nonce, "groups")).contains("audience"));
        let other_issuer = token(&key, "https://evil.example.com", "traek", 300, "n-1");
        assert!(refusal(check_id_token(&other_issuer, &v, &nonce, "groups")).contains("issuer"));
        let expired = token(&key, ISSUER, "traek", -120, "n-1");
        assert!(refusal(check_id_token(&expired, &v, &nonce, "groups")).contains("Expired"));
        let replayed = token(&key, ISSUER, "traek", 300, "n-0");
        assert!(refusal(check_id_token(&replayed, &v, &nonce, "groups")).contains("nonce"));
        // Signed by a key the provider does not publish: a signature refusal (which makes
        // `finish` fetch the keys again once, for rotation).
        let rotated_jwks = CoreJsonWebKeySet::new(vec![]);
        let stale = verifier(&s, rotated_jwks);
        assert!(refusal(check_id_token(&good, &stale, &nonce, "groups")).contains(SIGNATURE));
    }

    #[test]
    fn sso_account_names_are_readable_and_tied_to_the_subject() {
        let id = |sub: &str, display: &str| Identity {
            subject: sub.into(),
            display: display.into(),
            role_claim: None,
        };
        let a = id("1", "Alice Smith <a@x>").account_name(ISSUER);
        assert!(a.starts_with("sso:AliceSmitha@x:"), "{a}");
        assert_ne!(a, id("2", "Alice Smith <a@x>").account_name(ISSUER));
        assert_ne!(
            a,
            id("1", "Alice Smith <a@x>").account_name("https://other")
        );
    }
}
