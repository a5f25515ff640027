//! The CSV of a batch (SPEC section 3): header `EmailAddress,UserName,Password`,
//! one migration user per row. Validation is all-or-nothing: every bad row
//! is reported with its line number and reason, and the caller stores
//! nothing unless the whole file is good.

use std::collections::HashMap;
use std::fmt;

use crate::address::EmailAddress;
use crate::secret::Secret;

pub const MAX_ROWS: usize = 50_000;
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// One good row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvUser {
    /// Physical line of the row in the file (1 is the header).
    pub line: u64,
    /// The target mailbox.
    pub email: EmailAddress,
    /// The source login, when it differs from what the login format gives.
    pub user_name: Option<String>,
    /// The source mailbox's own password: log in as `user_name` with it
    /// instead of acting as the administrator.
    pub password: Option<Secret>,
}

impl CsvUser {
    /// The login the source administrator acts for, or the mailbox logs in
    /// as: `UserName`, else `EmailAddress`.
    pub fn source_login(&self) -> &str {
        self.user_name.as_deref().unwrap_or(self.email.as_str())
    }
}

/// A problem with one row, or with the file as a whole (`line` 0 for the
/// file, 1 for the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.reason)
        } else {
            write!(f, "line {}: {}", self.line, self.reason)
        }
    }
}

/// Every problem found in a CSV file; empty files, bad headers and bad rows
/// alike. Its `Display` lists them all, one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvErrors(pub Vec<RowError>);

impl fmt::Display for CsvErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "the CSV file has {n} error{}; nothing was stored:", if n == 1 { "" } else { "s" })?;
        for (i, e) in self.0.iter().enumerate() {
            if i == 50 {
                writeln!(f, "  … and {} more", n - 50)?;
                break;
            }
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CsvErrors {}

#[derive(Debug, Clone, Copy, Default)]
pub struct CsvOptions {
    /// Ignore columns other than EmailAddress, UserName and Password
    /// (`--allow-unknown-columns`); `UserRoot` included.
    pub allow_unknown_columns: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Email,
    UserName,
    Password,
    Ignored,
}

/// Parses and validates a whole CSV file.
pub fn parse(bytes: &[u8], options: CsvOptions) -> Result<Vec<CsvUser>, CsvErrors> {
    let file_error = |reason: String| CsvErrors(vec![RowError { line: 0, reason }]);
    if bytes.len() > MAX_BYTES {
        return Err(file_error(format!(
            "the file is {} bytes; the limit is {MAX_BYTES} bytes (10 MB): split it into several batches",
            bytes.len()
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        CsvErrors(vec![RowError { line: line as u64, reason: "the file is not UTF-8 (save it as UTF-8 CSV)".into() }])
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());

    let header = reader.headers().map_err(|e| file_error(format!("the header cannot be read: {e}")))?.clone();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(file_error("the file is empty: it needs the header EmailAddress,UserName,Password".into()));
    }
    let mut columns = Vec::with_capacity(header.len());
    let mut header_errors = Vec::new();
    for name in header.iter() {
        let col = match name.trim().to_ascii_lowercase().as_str() {
            "emailaddress" => Column::Email,
            "username" => Column::UserName,
            "password" => Column::Password,
            _ if options.allow_unknown_columns => Column::Ignored,
            "userroot" => {
                header_errors.push(RowError {
                    line: 1,
                    reason: "column UserRoot is not supported (mailferry maps folders itself); remove it or pass --allow-unknown-columns".into(),
                });
                Column::Ignored
            }
            other => {
                header_errors.push(RowError {
                    line: 1,
                    reason: format!("unknown column {other:?} (known: EmailAddress, UserName, Password; --allow-unknown-columns ignores others)"),
                });
                Column::Ignored
            }
        };
        if col != Column::Ignored && columns.contains(&col) {
            header_errors.push(RowError { line: 1, reason: format!("column {:?} appears twice", name.trim()) });
        }
        columns.push(col);
    }
    if !columns.contains(&Column::Email) {
        header_errors.push(RowError { line: 1, reason: "the header has no EmailAddress column".into() });
    }
    if !header_errors.is_empty() {
        return Err(CsvErrors(header_errors));
    }

    // The csv crate's line counter skips blank lines and its record offset
    // points at the line break before a record; the first byte of content
    // after that offset gives the exact line.
    // Counted incrementally: records come in file order.
    let mut counted = (0usize, 1u64); // (bytes scanned, line at that byte)
    let mut line_of = |byte: u64| {
        let bytes = text.as_bytes();
        let mut at = (byte as usize).min(bytes.len());
        while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        let (from, line) = counted;
        let at = at.max(from);
        let line = line + bytes[from..at].iter().filter(|&&b| b == b'\n').count() as u64;
        counted = (at, line);
        line
    };
    let mut users = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| line_of(p.byte())).unwrap_or(0);
                errors.push(RowError { line, reason: format!("the row cannot be read: {e}") });
                continue;
            }
        };
        let line = record.position().map(|p| line_of(p.byte())).unwrap_or(0);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue; // blank line
        }
        if users.len() + errors.len() >= MAX_ROWS {
            errors.push(RowError { line, reason: format!("more than {MAX_ROWS} rows: split the file into several batches") });
            break;
        }
        if record.len() > columns.len() {
            errors.push(RowError {
                line,
                reason: format!("{} fields, but the header has {}", record.len(), columns.len()),
            });
            continue;
        }
        let field = |want: Column| {
            columns
                .iter()
                .position(|c| *c == want)
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let email = match field(Column::Email) {
            None => {
                errors.push(RowError { line, reason: "EmailAddress is empty".into() });
                continue;
            }
            Some(raw) => match EmailAddress::parse(raw) {
                Ok(a) => a,
                Err(e) => {
                    errors.push(RowError { line, reason: format!("EmailAddress: {e}") });
                    continue;
                }
            },
        };
        let user_name = field(Column::UserName).map(str::to_owned);
        if let Some(u) = &user_name {
            if u.chars().any(|c| c.is_control()) {
                errors.push(RowError { line, reason: "UserName contains a control character".into() });
                continue;
            }
        }
        // A password is taken verbatim: surrounding spaces can be part of it.
        let password = columns
            .iter()
            .position(|c| *c == Column::Password)
            .and_then(|i| record.get(i))
            .filter(|v| !v.is_empty())
            .map(|v| Secret::new(v.to_owned()));
        let key = email.as_str().to_lowercase();
        if let Some(first) = seen.get(&key) {
            errors.push(RowError { line, reason: format!("{email} is already on line {first}") });
            continue;
        }
        seen.insert(key, line);
        users.push(CsvUser { line, email, user_name, password });
    }
    if !errors.is_empty() {
        return Err(CsvErrors(errors));
    }
    if users.is_empty() {
        return Err(file_error("the file has a header but no mailbox rows".into()));
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Vec<CsvUser> {
        parse(s.as_bytes(), CsvOptions::default()).unwrap()
    }

    fn errs(s: &str) -> Vec<RowError> {
        parse(s.as_bytes(), CsvOptions::default()).unwrap_err().0
    }

    #[test]
    fn reads_the_exchange_format() {
        let users = ok("EmailAddress,UserName,Password\r\nalice@x.org,,\r\nbob@x.org,bob,\r\ncarol@x.org,carol@old.org, p w \r\n");
        assert_eq!(users.len(), 3);
        assert_eq!(users[0].line, 2);
        assert_eq!(users[0].source_login(), "alice@x.org");
        assert_eq!(users[1].source_login(), "bob");
        assert_eq!(users[2].password.as_ref().unwrap().expose(), " p w ");
        assert!(users[0].password.is_none());
    }

    #[test]
    fn header_is_case_insensitive_and_columns_optional() {
        let users = ok("\u{feff}emailaddress\nalice@x.org\n\nbob@x.org\n");
        assert_eq!(users.iter().map(|u| u.line).collect::<Vec<_>>(), vec![2, 4]);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let e = errs("EmailAddress,UserName,Password\nalice@x.org,,\nnot-an-address,,\n,bob,\nALICE@X.ORG,,\nc@x.org,a,b,c\n");
        let lines: Vec<u64> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6]);
        assert!(e[0].reason.contains("not-an-address"));
        assert!(e[1].reason.contains("empty"));
        assert!(e[2].reason.contains("line 2"), "{}", e[2].reason);
        assert!(e[3].reason.contains("4 fields"));
    }

    #[test]
    fn unknown_columns_and_userroot_are_refused_unless_allowed() {
        let e = errs("EmailAddress,UserRoot\na@x.org,/users/a\n");
        assert_eq!(e[0].line, 1);
        assert!(e[0].reason.contains("UserRoot"));
        assert!(errs("EmailAddress,Quota\na@x.org,1\n")[0].reason.contains("quota"));
        let users = parse(b"EmailAddress,Quota\na@x.org,1\n", CsvOptions { allow_unknown_columns: true }).unwrap();
        assert_eq!(users.len(), 1);
        assert!(errs("UserName\nbob\n")[0].reason.contains("no EmailAddress"));
    }

    #[test]
    fn empty_oversized_and_non_utf8_files_are_refused() {
        assert!(errs("")[0].reason.contains("empty"));
        assert!(errs("EmailAddress\n")[0].reason.contains("no mailbox rows"));
        let e = parse(b"EmailAddress\na@x.org\n\xff@x.org\n", CsvOptions::default()).unwrap_err().0;
        assert_eq!(e[0].line, 3);
        let big = vec![b'a'; MAX_BYTES + 1];
        assert!(parse(&big, CsvOptions::default()).unwrap_err().0[0].reason.contains("limit"));
    }

    #[test]
    fn too_many_rows_are_refused() {
        let mut s = String::from("EmailAddress\n");
        for i in 0..=MAX_ROWS {
            s.push_str(&format!("u{i}@x.org\n"));
        }
        let e = errs(&s);
        assert!(e.last().unwrap().reason.contains("more than"));
    }

    #[test]
    fn the_error_message_lists_every_row() {
        let e = parse(b"EmailAddress\nx\ny\n", CsvOptions::default()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("2 errors") && text.contains("line 2") && text.contains("line 3"), "{text}");
    }
}
