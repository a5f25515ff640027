//! Deterministic mailboxes for tests and benchmarks: seeded sizes, folders,
//! flags, keywords and dates, with the awkward cases a migration must carry
//! unchanged (8-bit headers, bare LF, no Message-ID, two different messages
//! sharing one Message-ID, non-ASCII and `&` folder names, old dates).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A small, fast, seeded generator (xorshift64*), so a corpus is the same
/// on every run without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// A log-normal-ish size: `median * e^(sigma * N(0,1))`, clamped.
    pub fn lognormal(&mut self, median: f64, sigma: f64, max: u64) -> u64 {
        // Box–Muller from two uniforms.
        let u1 = ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        ((median * (sigma * z).exp()) as u64).clamp(200, max)
    }
}

/// One message of a corpus.
#[derive(Debug, Clone)]
pub struct CorpusMessage {
    /// Folder path with `/` between levels, UTF-8 (`"INBOX"`, `"Archive/2019"`).
    pub folder: String,
    /// The message as stored on the source (LF or CRLF line ends).
    pub bytes: Vec<u8>,
    /// System flags as Maildir letters: D draft, F flagged, R answered, S seen.
    pub flags: String,
    /// Keywords (custom flags) of the message.
    pub keywords: Vec<String>,
    pub internal_date: SystemTime,
}

#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// Every folder, parents before children, `/`-separated, UTF-8.
    pub folders: Vec<String>,
    pub messages: Vec<CorpusMessage>,
}

impl Corpus {
    pub fn total_bytes(&self) -> u64 {
        self.messages.iter().map(|m| m.bytes.len() as u64).sum()
    }
}

/// Folders of the fidelity corpus: nested, non-ASCII, `&` and spaces.
pub const FIDELITY_FOLDERS: &[&str] = &[
    "INBOX",
    "Archive",
    "Archive/2019",
    "Archive/2019/Q1",
    "Entwürfe alt",
    "Projekte & Pläne",
    "Projekte & Pläne/Über uns",
    "日本語",
    "Sent",
    "Drafts",
    "Trash",
    "With Spaces",
];

const KEYWORDS: &[&str] = &["$Forwarded", "$Label1", "ProjectX", "$MDNSent", "NonJunk"];

/// A corpus of `n` messages over [`FIDELITY_FOLDERS`] covering every
/// fidelity case of SPEC section 4. Same `seed`, same corpus.
pub fn fidelity_corpus(n: usize, seed: u64) -> Corpus {
    let mut rng = Rng::new(seed);
    let folders: Vec<String> = FIDELITY_FOLDERS.iter().map(|s| s.to_string()).collect();
    let mut messages = Vec::with_capacity(n);
    let shared_id = format!("<shared-{seed}@example.test>");
    for i in 0..n {
        let folder = folders[if i < folders.len() { i } else { rng.below(folders.len() as u64) as usize }].clone();
        let size = rng.lognormal(3_000.0, 1.0, 200_000) as usize;
        let case = i % 10;
        let message_id = match case {
            3 => None,                       // no Message-ID at all
            5 | 6 if i < 20 => Some(shared_id.clone()), // different messages, same Message-ID
            _ => Some(format!("<m{i}.{seed}@example.test>")),
        };
        let eight_bit = case == 4;
        let crlf = case == 7;
        let bytes = make_message(&mut rng, i, size, message_id.as_deref(), eight_bit, crlf);
        let mut flags = String::new();
        for (letter, p) in [('S', 0.7), ('F', 0.1), ('R', 0.15), ('D', 0.02)] {
            if rng.chance(p) {
                flags.push(letter);
            }
        }
        let keywords = KEYWORDS.iter().filter(|_| rng.chance(0.08)).map(|k| k.to_string()).collect();
        // Dates from 1996 to 2025; one in five before 2005.
        let secs = if rng.chance(0.2) {
            820_454_400 + rng.below(283_996_800)
        } else {
            1_104_537_600 + rng.below(631_152_000)
        };
        messages.push(CorpusMessage {
            folder,
            bytes,
            flags,
            keywords,
            internal_date: UNIX_EPOCH + Duration::from_secs(secs),
        });
    }
    Corpus { folders, messages }
}

/// A benchmark corpus (issue 6): `n` messages over `folders` folders, sizes
/// log-normal around `median` bytes with a few multi-megabyte attachments.
pub fn bench_corpus(n: usize, folders: usize, median: f64, seed: u64) -> Corpus {
    let mut rng = Rng::new(seed);
    let mut names = vec!["INBOX".to_string()];
    for f in 1..folders {
        names.push(if f % 4 == 0 { format!("Archive/{}", 2000 + f) } else { format!("Folder {f}") });
    }
    if folders > 4 {
        names.insert(1, "Archive".into());
        names.truncate(folders);
    }
    let mut messages = Vec::with_capacity(n);
    for i in 0..n {
        let folder = names[rng.below(names.len() as u64) as usize].clone();
        let size = if rng.chance(0.002) { 2_000_000 + rng.below(4_000_000) as usize } else { rng.lognormal(median, 1.1, 1_000_000) as usize };
        let bytes = make_message(&mut rng, i, size, Some(&format!("<b{i}.{seed}@bench.test>")), false, false);
        let flags = if rng.chance(0.7) { "S".to_string() } else { String::new() };
        messages.push(CorpusMessage {
            folder,
            bytes,
            flags,
            keywords: Vec::new(),
            internal_date: UNIX_EPOCH + Duration::from_secs(1_400_000_000 + rng.below(300_000_000)),
        });
    }
    let mut all = names.clone();
    all.sort();
    all.dedup();
    // Parents before children.
    let mut folders_out = Vec::new();
    for f in &all {
        let mut acc = String::new();
        for part in f.split('/') {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            if !folders_out.contains(&acc) {
                folders_out.push(acc.clone());
            }
        }
    }
    Corpus { folders: folders_out, messages }
}

fn make_message(rng: &mut Rng, i: usize, size: usize, message_id: Option<&str>, eight_bit: bool, crlf: bool) -> Vec<u8> {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut m = String::with_capacity(size + 512);
    m.push_str(&format!("Return-Path: <sender{}@example.org>{nl}", i % 17));
    m.push_str(&format!("From: Sender {} <sender{}@example.org>{nl}", i % 17, i % 17));
    m.push_str(&format!("To: recipient@example.test{nl}"));
    if eight_bit {
        // Raw UTF-8 in a header: not RFC 5322, common in real mailboxes.
        m.push_str(&format!("Subject: Grüße aus Köln – Nachricht {i} ✓{nl}"));
    } else {
        m.push_str(&format!("Subject: Message {i} about topic {}{nl}", rng.below(1000)));
    }
    m.push_str(&format!("Date: Mon, 1 Jan 2018 10:{:02}:{:02} +0100{nl}", i % 60, (i / 60) % 60));
    if let Some(id) = message_id {
        m.push_str(&format!("Message-ID: {id}{nl}"));
    }
    m.push_str(&format!("MIME-Version: 1.0{nl}Content-Type: text/plain; charset=utf-8{nl}"));
    if eight_bit {
        m.push_str(&format!("Content-Transfer-Encoding: 8bit{nl}"));
    }
    m.push_str(nl);
    let words = ["lorem", "ipsum", "dolor", "sit", "amet", "migration", "mailbox", "ferry", "Grüße", "naïve"];
    let mut line_len = 0;
    while m.len() < size {
        let w = words[rng.below(words.len() as u64) as usize];
        m.push_str(w);
        line_len += w.len() + 1;
        if line_len > 70 {
            m.push_str(nl);
            line_len = 0;
        } else {
            m.push(' ');
        }
    }
    m.push_str(nl);
    m.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_corpus() {
        let a = fidelity_corpus(50, 7);
        let b = fidelity_corpus(50, 7);
        assert_eq!(a.messages.len(), 50);
        for (x, y) in a.messages.iter().zip(&b.messages) {
            assert_eq!(x.bytes, y.bytes);
            assert_eq!(x.flags, y.flags);
            assert_eq!(x.internal_date, y.internal_date);
        }
        assert_ne!(fidelity_corpus(50, 8).messages[20].bytes, a.messages[20].bytes);
    }

    #[test]
    fn the_fidelity_cases_are_present() {
        let c = fidelity_corpus(200, 1);
        let has = |f: &dyn Fn(&CorpusMessage) -> bool| c.messages.iter().any(f);
        let contains = |m: &CorpusMessage, s: &[u8]| m.bytes.windows(s.len()).any(|w| w == s);
        assert!(has(&|m| !contains(m, b"Message-ID:")));
        assert!(has(&|m| contains(m, "Grüße aus".as_bytes())));
        assert!(has(&|m| contains(m, b"\r\n")));
        assert!(has(&|m| !m.keywords.is_empty()));
        assert!(has(&|m| m.internal_date < UNIX_EPOCH + Duration::from_secs(1_104_537_600)));
        let shared = c.messages.iter().filter(|m| contains(m, b"<shared-1@example.test>")).count();
        assert!(shared >= 2, "{shared}");
        for f in FIDELITY_FOLDERS {
            assert!(c.messages.iter().any(|m| m.folder == *f), "{f} has messages");
        }
    }
}
