//! `--wait` progress: a bar per mailbox and one overall on a terminal, plain
//! lines otherwise (logs, CI, pipes).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mailferry_core::state::UserStatus;
use mailferry_engine::sync::Progress;

pub fn for_terminal(users: u64) -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(Bars::new(users))
    } else {
        Box::new(Lines)
    }
}

/// One line per mailbox start and end, on stderr.
struct Lines;

impl Progress for Lines {
    fn user_started(&self, email: &str) {
        eprintln!("{email}: syncing");
    }

    fn user_finished(&self, email: &str, status: UserStatus, error: Option<&str>) {
        match error {
            Some(e) => eprintln!("{email}: {status}: {e}"),
            None => eprintln!("{email}: {status}"),
        }
    }
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    users: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new(users: u64) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(users));
        overall.set_style(
            ProgressStyle::with_template("{prefix:>12.bold} [{bar:30}] {pos}/{len} mailboxes  {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        overall.set_prefix("overall");
        Bars { multi, overall, users: Mutex::new(HashMap::new()) }
    }

    fn bar(&self, email: &str) -> ProgressBar {
        let mut users = self.users.lock().expect("not poisoned");
        users
            .entry(email.to_owned())
            .or_insert_with(|| {
                let bar = self.multi.insert_before(&self.overall, ProgressBar::new(0));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>32} [{bar:30}] {pos}/{len} msgs {bytes} {msg}")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                bar.set_prefix(email.to_owned());
                bar
            })
            .clone()
    }
}

impl Progress for Bars {
    fn user_started(&self, email: &str) {
        self.bar(email).set_message("connecting");
    }

    fn user_planned(&self, email: &str, messages: u64, _bytes: u64) {
        let bar = self.bar(email);
        bar.inc_length(messages);
        bar.set_message("");
    }

    fn messages_done(&self, email: &str, messages: u64, _bytes: u64) {
        self.bar(email).inc(messages);
    }

    fn user_finished(&self, email: &str, status: UserStatus, error: Option<&str>) {
        let bar = self.bar(email);
        bar.finish_with_message(match error {
            Some(e) => format!("{status}: {e}"),
            None => status.to_string(),
        });
        self.overall.inc(1);
    }
}
