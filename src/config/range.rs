//! Range checks for the numbers in `steward.yaml`, run while parsing.
//!
//! They are `deserialize_with` functions rather than a pass after parsing so
//! that serde-saphyr puts the file:line:column of the offending value on the
//! error, as it does for every other bad value. A number outside its range is an
//! error, never clamped: `maxCostUsdPerDay: -5` once became a silent $0 cap.

use serde::{Deserialize, Deserializer, de::Error};

/// Largest daily cap, in US$ (the pipeline's `Usd` holds up to this).
pub const MAX_DOLLARS: f64 = 1_000_000.0;
/// Largest model price, in US$ per million tokens.
pub const MAX_PRICE: f64 = 10_000.0;
/// Longest a confirmation may wait: a week.
pub const MAX_TTL_MINUTES: u64 = 7 * 24 * 60;

fn int_in<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
    d: D,
    key: &str,
    (lo, hi): (u64, u64),
    unit: &str,
) -> Result<T, D::Error> {
    let v = u64::deserialize(d)?;
    if !(lo..=hi).contains(&v) {
        return Err(D::Error::custom(format!(
            "{key} must be {lo} to {hi} {unit}, not {v}"
        )));
    }
    T::try_from(v).map_err(|_| D::Error::custom(format!("{key}: {v} is too large")))
}

fn money_in<'de, D: Deserializer<'de>>(
    d: D,
    key: &str,
    hi: f64,
    unit: &str,
) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if !v.is_finite() || !(0.0..=hi).contains(&v) {
        return Err(D::Error::custom(format!(
            "{key} must be a number from 0 to {hi} ({unit}), not {v}"
        )));
    }
    Ok(v)
}

/// One `deserialize_with` function per key, so the error names the key.
macro_rules! int_key {
    ($(#[$doc:meta])* $name:ident: $t:ty, $key:literal, $range:expr, $unit:literal) => {
        $(#[$doc])*
        pub fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
            int_in(d, $key, $range, $unit)
        }
    };
}

int_key!(
    /// A minute to a week: a zero TTL would expire every draft unseen.
    ttl_minutes: u32, "confirm.ttlMinutes", (1, MAX_TTL_MINUTES), "minutes"
);
int_key!(
    /// Zero would spin the poll loop.
    imessage_poll_seconds: u64, "bridges.imessage.pollSeconds", (1, 3600), "seconds"
);
int_key!(provider_timeout_seconds: u64, "models.providers.*.timeoutSeconds", (1, 3600), "seconds");
int_key!(runtime_heavy_tokens: u64, "runtime.heavyTokens", (1, 10_000_000), "tokens");
int_key!(runtime_deadline_seconds: u64, "runtime.deadlineSeconds", (1, 86_400), "seconds");
int_key!(runtime_poll_millis: u64, "runtime.pollMillis", (10, 60_000), "milliseconds");

/// The largest output cap: above any current model's output limit.
pub const MAX_OUTPUT_TOKENS: u64 = 200_000;

/// `models.limits.*.maxOutputTokens`.
pub fn max_output_tokens<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    int_in(
        d,
        "models.limits.*.maxOutputTokens",
        (1, MAX_OUTPUT_TOKENS),
        "tokens",
    )
    .map(Some)
}

/// `models.limits.*.deadlineSeconds`.
pub fn deadline_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    int_in(d, "models.limits.*.deadlineSeconds", (1, 3600), "seconds").map(Some)
}

/// `models.limits.*.stop`: 1-4 non-blank strings, as both protocols accept.
pub fn stop_sequences<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    if v.len() > 4 || v.iter().any(|s| s.trim().is_empty()) {
        return Err(D::Error::custom(
            "models.limits.*.stop must be at most 4 strings, none of them blank",
        ));
    }
    Ok(Some(v))
}

/// `budget.maxCostUsdPerDay`.
pub fn daily_cap<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    money_in(d, "budget.maxCostUsdPerDay", MAX_DOLLARS, "US$")
}

/// `models.prices.*.in`.
pub fn price_in<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    money_in(d, "models.prices.*.in", MAX_PRICE, "US$ per million tokens")
}

/// `models.prices.*.out`.
pub fn price_out<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    money_in(
        d,
        "models.prices.*.out",
        MAX_PRICE,
        "US$ per million tokens",
    )
}

/// `models.prices.*.cachedIn` (optional).
pub fn price_cached_in<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    money_in(
        d,
        "models.prices.*.cachedIn",
        MAX_PRICE,
        "US$ per million tokens",
    )
    .map(Some)
}

/// The channels an owner may be reached on.
pub const OWNER_CHANNELS: &[&str] = &["imessage", "whatsapp", "telegram", "email", "console"];

/// `owner.channels`: known channel names, each once.
pub fn owner_channels<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    for (i, c) in v.iter().enumerate() {
        if !OWNER_CHANNELS.contains(&c.as_str()) {
            return Err(D::Error::custom(format!(
                "owner.channels: unknown channel {c:?}; use any of {}",
                OWNER_CHANNELS.join(", ")
            )));
        }
        if v[..i].contains(c) {
            return Err(D::Error::custom(format!(
                "owner.channels: {c:?} is listed twice"
            )));
        }
    }
    Ok(v)
}

/// `bridges.whatsapp.maxSendsPerHour`: 1-200 contact sends an hour.
pub fn whatsapp_sends_per_hour<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    int_in(
        d,
        "bridges.whatsapp.maxSendsPerHour",
        (1, 200),
        "sends an hour",
    )
    .map(Some)
}

/// `owner.channels: [whatsapp]` needs the linked mode: the Cloud API sends
/// from a business number, which may write to the owner's own number only
/// within 24 hours of the owner writing to it, so a nudge or an approval
/// could not be relied on to arrive. `None`: fine.
pub fn owner_on_whatsapp(config: &super::Config) -> Option<String> {
    let listed = config.owner.channels.iter().any(|c| c == "whatsapp");
    let linked = config
        .bridges
        .whatsapp
        .as_ref()
        .is_some_and(|w| w.linked().is_some());
    (listed && !linked).then(|| {
        "owner.channels: whatsapp can reach you only as a linked device on your own number: set bridges.whatsapp (mode: linked, the default) and run `steward whatsapp link`; the Cloud API (mode: cloud) may message your own number only within 24 hours of your last message to the business number. Otherwise list imessage or console".to_string()
    })
}

/// `bridges.telegram.ownerUserId`: a Telegram user id (positive, at most 2^52).
pub fn telegram_user_id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    int_in(
        d,
        "ownerUserId",
        (1, 1 << 52),
        "(your numeric Telegram user id)",
    )
}

/// `bridges.telegram.pollSeconds`: Telegram holds a getUpdates call up to 50 s.
pub fn telegram_poll_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int_in(d, "pollSeconds", (1, 50), "seconds")
}

/// `bridges.email.accounts[].pollSeconds`: 1 s to an hour.
pub fn mail_poll_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int_in(d, "pollSeconds", (1, 3600), "seconds")
}
