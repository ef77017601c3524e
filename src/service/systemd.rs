//! The systemd user unit (`systemctl --user`).

use super::{OCR_THREADS, SERVICE_PATH, ServiceSpec};

/// Quote one ExecStart argument: systemd takes C-style double quotes, and `%`
/// starts a specifier and `$` a variable unless doubled.
fn quote(arg: &str) -> String {
    let mut out = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn unit(spec: &ServiceSpec) -> String {
    let exec: Vec<String> = spec.args().iter().map(|a| quote(a)).collect();
    format!(
        "[Unit]\n\
         Description=Steward personal assistant daemon\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={exec}\n\
         Restart=always\n\
         RestartSec=10\n\
         Environment=PATH={SERVICE_PATH}\n\
         Environment={omp}={threads}\n\
         UMask=0077\n\
         TimeoutStopSec=20\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        exec = exec.join(" "),
        omp = OCR_THREADS.0,
        threads = OCR_THREADS.1,
    )
}

/// What to run after the unit file is written.
pub const ENABLE_HELP: &str = "Start it now and at every login:\n  \
     systemctl --user daemon-reload\n  \
     systemctl --user enable --now steward.service\n\
     Keep it running while you are logged out:\n  \
     loginctl enable-linger \"$USER\"\n\
     Logs: journalctl --user -u steward.service";

/// What to run after `uninstall` removed the unit and its enable link.
pub const DISABLE_HELP: &str = "Stop the running service and let systemd forget it:\n  \
     systemctl --user stop steward.service\n  \
     systemctl --user daemon-reload";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_arguments_are_quoted_for_systemd() {
        assert_eq!(quote("/a b/c"), "\"/a b/c\"");
        assert_eq!(quote("100%\"$x\\"), "\"100%%\\\"$$x\\\\\"");
    }
}
