//! The WhatsApp link on the Channels page (issue 16), when `bridges.whatsapp`
//! is the linked device: while it is not linked (or WhatsApp ended it) a
//! "Link WhatsApp" form; pressing it starts the daemon's one link session
//! (`linked::pairing`, the code `steward whatsapp link` runs) and the page
//! shows the current QR as inline SVG drawn here on the server, replaced over
//! the event stream as WhatsApp rotates it (a plain reload shows the current
//! one), then the linked number, or the error with its fix. The reader picks
//! the new link up by itself: no restart.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::layout::{self, csrf_field};
use crate::bridges::whatsapp::linked::pairing::{Pairing, Started, View};
use crate::bridges::whatsapp::linked::session::Link;
use crate::bridges::whatsapp::linked::{qr, state};
use crate::http::AppState;

/// The live part's element id (`GET /events?parts=whatsapp-link`).
pub const PART: &str = "whatsapp-link";

/// Drawn size of the QR, in CSS pixels (a phone reads it from a screen).
const QR_PX: u32 = 264;

/// The section under the channels table; none unless the linked mode is configured.
pub fn section(state: &AppState, csrf: &str) -> Option<Markup> {
    let inner = live(state, csrf)?;
    Some(html! {
        h2 { "WhatsApp" }
        div id=(PART) data-live { (inner) }
    })
}

/// What the live part holds now.
pub fn live(state: &AppState, csrf: &str) -> Option<Markup> {
    let pairing = state.whatsapp_link.as_ref()?;
    Some(render(pairing, &state::load(state.home.root()), csrf))
}

fn render(pairing: &Pairing, st: &state::LinkState, csrf: &str) -> Markup {
    match pairing.view() {
        View::Starting => html! {
            p { "Waiting for WhatsApp's first code…" }
            noscript { p.muted { "Reload the page to see it." } }
        },
        View::Qr(code) => qr_part(&code),
        View::Code(code) => html! {
            p { "On your phone: WhatsApp > Settings > Linked devices > Link a device > Link with phone number instead, and type" }
            p.paircode { strong { (code) } }
        },
        View::Linked(l) => html! {
            p.ok.linked { "Linked as " (state::display_number(&l.number)) }
            p.muted { "Steward's WhatsApp reader connects with the new link now; no restart needed." }
        },
        failed @ (View::Failed(_) | View::Idle) => match (st.status, st.number.as_deref()) {
            (state::Status::Linked, Some(n)) => html! {
                p.ok.linked { "Linked as " (state::display_number(n)) }
            },
            _ => html! {
                @if let View::Failed(e) = &failed { p.bad.link-error role="alert" { (e) } }
                p { (not_linked(st)) }
                (form(csrf))
            },
        },
    }
}

fn not_linked(st: &state::LinkState) -> String {
    match st.status {
        state::Status::Unlinked | state::Status::Linked => {
            "WhatsApp is not linked: link your own number as a device.".into()
        }
        s => format!(
            "WhatsApp ended Steward's session ({}: {}): link again.",
            s.as_str(),
            st.ended.as_deref().unwrap_or("ended by WhatsApp")
        ),
    }
}

fn form(csrf: &str) -> Markup {
    html! {
        form.filters method="post" action="/channels/whatsapp/link" {
            (csrf_field(csrf))
            label { "Your number, for an 8-character code instead of a QR (optional) "
                input type="text" name="phone" inputmode="tel" placeholder="+15551234567" maxlength="32"; }
            " "
            button.primary type="submit" { "Link WhatsApp" }
        }
    }
}

fn qr_part(code: &str) -> Markup {
    match qr::svg(code, QR_PX) {
        Ok(svg) => html! {
            p { "Scan with WhatsApp on your phone: Settings > Linked devices > Link a device." }
            div.qr role="img" aria-label="WhatsApp link QR code" { (PreEscaped(svg)) }
            p.muted { "The code changes every 20 seconds; this page follows it (without JavaScript, reload the page)." }
        },
        Err(e) => html! { p.bad role="alert" { (e.to_string()) } },
    }
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    phone: String,
}

/// `POST /channels/whatsapp/link`: start the link session, or join the running one.
pub async fn start(State(state): State<AppState>, Form(form): Form<LinkForm>) -> Response {
    let Some(pairing) = state.whatsapp_link.as_ref() else {
        return layout::error(
            StatusCode::NOT_FOUND,
            "WhatsApp's linked device is not configured",
            "set `bridges: {whatsapp: {mode: linked}}` in steward.yaml and run `steward restart`",
        );
    };
    let st = state::load(state.home.root());
    if st.status == state::Status::Linked && !pairing.view().running() {
        return layout::error(
            StatusCode::CONFLICT,
            &format!(
                "WhatsApp is already linked to {}",
                state::display_number(st.number.as_deref().unwrap_or("a number"))
            ),
            "nothing was changed; to link another number run `steward stop`, `steward whatsapp unlink`, then `steward up`",
        );
    }
    let raw = form.phone.trim();
    let how = if raw.is_empty() {
        Link::Qr
    } else {
        let h = state.owner.canon().canonicalize(raw);
        if h.kind() != crate::memory::handle::Kind::Phone {
            return layout::error(
                StatusCode::BAD_REQUEST,
                &format!("{raw:?} is not a phone number with its country code"),
                "nothing was started; type it like +15551234567 on Channels, or leave it empty for a QR",
            );
        }
        Link::Code {
            phone: h.value().to_string(),
        }
    };
    if pairing.start(how) == Started::Joined {
        tracing::info!("Link WhatsApp pressed again: joined the running link session");
    }
    Redirect::to(&format!("/channels#{PART}")).into_response()
}
