//! Assertions several scenarios share, phrased as what a person sees.

use super::app::{App, FetchAnswer, TokenAnswer};
use super::error::Result;
use super::scenario::Scenario;
use super::wait;

/// Every MFE shows data its own API accepted, with a token whose `aud` is that API: the data
/// card names the API's audience, the token card shows the token's audience, and the API's
/// verdict quotes the `aud` claim it validated. Returns the token expiry (`data-exp`) of each
/// MFE whose page holds tokens; a fetch-only MFE shows that the shell made the call instead.
pub async fn each_mfe_served_by_its_own_api(s: &Scenario, app: &App) -> Result<Vec<(String, i64)>> {
    let mut expiries = Vec::new();
    for mfe in app.mfes() {
        let audience = s.audience_of(mfe.name());
        let data = mfe
            .wait_for_with("api-data", &["data-api-audience"], wait::UI)
            .await?;
        assert_eq!(
            data.attr("data-api-audience"),
            Some(audience),
            "{} shows data from another API",
            mfe.name()
        );
        let token_aud = mfe.wait_for("token-aud", wait::UI).await?;
        assert_eq!(token_aud.text, audience, "{}: token audience", mfe.name());
        let verified = mfe.wait_for("api-verified", wait::UI).await?;
        assert!(
            verified.text.ends_with(audience),
            "{}: the API saw aud {:?}, expected {audience}",
            mfe.name(),
            verified.text
        );
        if s.is_fetch_only(mfe.name()) {
            // The shell made the call: the page shows that, and no token or expiry of one.
            mfe.wait_for("fetch-only", wait::UI).await?;
            assert!(
                !mfe.exists("token-exp").await?,
                "{}: a fetch-only page shows a token",
                mfe.name()
            );
            continue;
        }
        let exp = mfe
            .wait_for_with("token-exp", &["data-exp"], wait::UI)
            .await?;
        let exp = exp
            .attr("data-exp")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or_default();
        assert!(exp > now_ms(), "{}: shows an expired token", mfe.name());
        expiries.push((mfe.name().to_owned(), exp));
    }
    Ok(expiries)
}

/// Nothing gets through for any MFE any more: `getToken` and, for a fetch-only MFE, its native
/// fetch are refused with `login_required`.
pub async fn each_mfe_refused_login_required(s: &Scenario, app: &App) -> Result<()> {
    for mfe in app.mfes() {
        let audience = s.audience_of(mfe.name());
        if s.is_fetch_only(mfe.name()) {
            let url = s
                .api_url(audience)
                .map(|u| format!("{u}data"))
                .unwrap_or_default();
            match mfe.fetch(&url).await? {
                FetchAnswer::Refused { kind, .. } => {
                    assert_eq!(kind, "login_required", "{}", mfe.name())
                }
                answered => panic!("{} still fetches: {answered:?}", mfe.name()),
            }
            continue;
        }
        match mfe.get_token(audience).await? {
            TokenAnswer::Refused { kind, .. } => {
                assert_eq!(kind, "login_required", "{}", mfe.name())
            }
            granted => panic!("{} still gets tokens: {granted:?}", mfe.name()),
        }
    }
    Ok(())
}

/// Every MFE shows its signed-out card.
pub async fn each_mfe_signed_out(app: &App) -> Result<()> {
    for mfe in app.mfes() {
        mfe.wait_for("signed-out", wait::UI).await?;
    }
    Ok(())
}

/// Sign out from the chrome's account menu, as a person does, and wait until every MFE shows
/// its signed-out card and the chrome offers to sign in again.
pub async fn sign_out_from_the_chrome(app: &App) -> Result<()> {
    app.chrome().click("account-menu").await?;
    app.chrome().click("sign-out").await?;
    each_mfe_signed_out(app).await?;
    app.chrome().wait_for("sign-in", wait::UI).await?;
    Ok(())
}

/// Milliseconds since the Unix epoch (the unit of `data-exp`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
