//! Folder mapping (SPEC section 4): from the source's folders to the names
//! they get on the target, across hierarchy separators, namespace prefixes,
//! modified UTF-7 and special-use folders, with the batch's folder filters.
//! Pure: the engine lists both sides and hands the lists in.

use std::collections::BTreeSet;
use std::fmt;

use crate::mutf7;

/// The special-use roles that map to the target's own folder (RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpecialUse {
    Inbox,
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
    All,
}

impl SpecialUse {
    const ATTRIBUTES: [(&'static str, SpecialUse); 6] = [
        ("\\Sent", SpecialUse::Sent),
        ("\\Drafts", SpecialUse::Drafts),
        ("\\Trash", SpecialUse::Trash),
        ("\\Junk", SpecialUse::Junk),
        ("\\Archive", SpecialUse::Archive),
        ("\\All", SpecialUse::All),
    ];

    /// The role named by a LIST attribute, if any.
    pub fn from_attributes(attributes: &[String]) -> Option<SpecialUse> {
        attributes.iter().find_map(|a| {
            Self::ATTRIBUTES.iter().find(|(name, _)| a.eq_ignore_ascii_case(name)).map(|(_, su)| *su)
        })
    }

    /// The `#Name#` of folder filters.
    fn from_filter_token(token: &str) -> Option<SpecialUse> {
        Some(match token.to_ascii_lowercase().as_str() {
            "#inbox#" => SpecialUse::Inbox,
            "#sent#" => SpecialUse::Sent,
            "#drafts#" => SpecialUse::Drafts,
            "#trash#" | "#deleteditems#" => SpecialUse::Trash,
            "#junk#" | "#junkemail#" => SpecialUse::Junk,
            "#archive#" => SpecialUse::Archive,
            "#all#" => SpecialUse::All,
            _ => return None,
        })
    }
}

/// A folder as a server's LIST reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFolder {
    /// The name on the wire (modified UTF-7 unless the side speaks UTF-8).
    pub wire_name: String,
    pub delimiter: Option<char>,
    pub attributes: Vec<String>,
}

impl ListedFolder {
    fn has(&self, attr: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(attr))
    }

    pub fn selectable(&self) -> bool {
        !self.has("\\Noselect") && !self.has("\\NonExistent")
    }

    pub fn subscribed(&self) -> bool {
        self.has("\\Subscribed")
    }
}

/// One side of a migration, as far as folders go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderSide {
    /// The personal namespace's prefix as sent on the wire (`""`, `"INBOX."`).
    pub prefix: String,
    /// The hierarchy separator, if the server has one.
    pub delimiter: Option<char>,
    /// Names are UTF-8 on the wire (UTF8=ACCEPT enabled) rather than modified UTF-7.
    pub utf8: bool,
    pub folders: Vec<ListedFolder>,
}

/// A folder filter of the batch (`--include-folder`/`--exclude-folder`):
/// a path relative to the root with `/` between levels, case-insensitive;
/// `Name/*` adds every subfolder; a first level `#Sent#` (and `#Inbox#`,
/// `#Drafts#`, `#Trash#`, `#Junk#`, `#Archive#`, `#All#`) names the
/// special-use folder whatever its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderPattern {
    special: Option<SpecialUse>,
    /// Lower-cased levels after the special part (or all levels).
    levels: Vec<String>,
    subfolders: bool,
    original: String,
}

impl FolderPattern {
    pub fn parse(s: &str) -> Result<FolderPattern, String> {
        let trimmed = s.trim().trim_matches('/');
        if trimmed.is_empty() {
            return Err(format!("folder filter {s:?} is empty"));
        }
        let (body, subfolders) = match trimmed.strip_suffix("/*") {
            Some(b) => (b, true),
            None if trimmed == "*" => ("", true),
            None => (trimmed, false),
        };
        if body.contains('*') || body.contains('%') {
            return Err(format!("folder filter {s:?}: only a final \"/*\" is supported as a wildcard"));
        }
        let mut levels: Vec<String> = if body.is_empty() { Vec::new() } else { body.split('/').map(|l| l.to_lowercase()).collect() };
        let special = match levels.first() {
            Some(first) if first.starts_with('#') && first.ends_with('#') && first.len() > 2 => {
                let su = SpecialUse::from_filter_token(first).ok_or_else(|| {
                    format!("folder filter {s:?}: unknown special folder {first} (known: #Inbox#, #Sent#, #Drafts#, #Trash#, #Junk#, #Archive#, #All#)")
                })?;
                levels.remove(0);
                Some(su)
            }
            _ => None,
        };
        if levels.iter().any(|l| l.is_empty()) {
            return Err(format!("folder filter {s:?} has an empty level"));
        }
        Ok(FolderPattern { special, levels, subfolders, original: s.to_owned() })
    }

    /// Whether the folder at `path` matches, given the special-use folder
    /// roots of the source (`roots`: role → path).
    fn matches(&self, path: &[String], roots: &[(SpecialUse, Vec<String>)]) -> bool {
        let lower: Vec<String> = path.iter().map(|l| l.to_lowercase()).collect();
        let base: Vec<String> = match self.special {
            None => Vec::new(),
            Some(su) => match roots.iter().find(|(r, _)| *r == su) {
                Some((_, root)) => root.iter().map(|l| l.to_lowercase()).collect(),
                None => return false,
            },
        };
        let mut full = base;
        full.extend(self.levels.iter().cloned());
        if lower.len() < full.len() || lower[..full.len()] != full[..] {
            return false;
        }
        lower.len() == full.len() || self.subfolders
    }
}

impl fmt::Display for FolderPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderFilter {
    pub include: Vec<FolderPattern>,
    pub exclude: Vec<FolderPattern>,
}

/// Where one source folder goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderMapping {
    pub source_wire: String,
    /// The source path for people: levels joined with `/`, decoded.
    pub source_path: String,
    pub target_wire: String,
    pub target_path: String,
    pub special_use: Option<SpecialUse>,
    /// Messages can be copied (not `\Noselect`).
    pub selectable: bool,
    pub subscribed: bool,
    /// The target already has this folder (no CREATE needed).
    pub target_exists: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderPlan {
    /// Parents before children.
    pub mappings: Vec<FolderMapping>,
    /// Source paths left out by the filters.
    pub excluded: Vec<String>,
    /// Things an administrator should know (a renamed level, two folders
    /// merged into one); none of them loses a message.
    pub notes: Vec<String>,
}

/// The levels of a folder, relative to its side's namespace root. INBOX is
/// always spelled `INBOX`.
fn levels_of(side: &FolderSide, folder: &ListedFolder, notes: &mut Vec<String>) -> Vec<String> {
    let decoded = if side.utf8 {
        folder.wire_name.clone()
    } else {
        match mutf7::decode(&folder.wire_name) {
            Ok(d) => d,
            Err(e) => {
                notes.push(format!("folder {:?}: {e}; its name is kept as the server sent it", folder.wire_name));
                folder.wire_name.clone()
            }
        }
    };
    let prefix_decoded = if side.utf8 { side.prefix.clone() } else { mutf7::decode(&side.prefix).unwrap_or_else(|_| side.prefix.clone()) };
    let delim = folder.delimiter.or(side.delimiter);
    let mut rest = decoded.as_str();
    if !prefix_decoded.is_empty() {
        let trimmed_prefix = delim.map(|d| prefix_decoded.trim_end_matches(d)).unwrap_or(&prefix_decoded);
        if rest.len() >= prefix_decoded.len() && rest[..prefix_decoded.len()].eq_ignore_ascii_case(&prefix_decoded) {
            rest = &rest[prefix_decoded.len()..];
        } else if rest.eq_ignore_ascii_case(trimmed_prefix) {
            rest = "INBOX";
        }
    }
    let mut levels: Vec<String> = match delim {
        Some(d) => rest.split(d).map(str::to_owned).collect(),
        None => vec![rest.to_owned()],
    };
    if levels.first().is_some_and(|l| l.eq_ignore_ascii_case("INBOX")) {
        levels[0] = "INBOX".to_owned();
    }
    levels
}

/// The wire name of `levels` on `side`.
fn wire_of(side: &FolderSide, levels: &[String]) -> String {
    let is_inbox = levels.len() == 1 && levels[0] == "INBOX";
    let joined = match side.delimiter {
        Some(d) => levels.join(&d.to_string()),
        None => levels.join(""),
    };
    let encoded = if side.utf8 { joined } else { mutf7::encode(&joined) };
    if is_inbox {
        "INBOX".to_owned()
    } else {
        format!("{}{encoded}", side.prefix)
    }
}

/// Computes where every source folder goes.
pub fn plan_folders(source: &FolderSide, target: &FolderSide, filter: &FolderFilter) -> FolderPlan {
    let mut plan = FolderPlan::default();
    let mut notes = Vec::new();

    let source_levels: Vec<Vec<String>> = source.folders.iter().map(|f| levels_of(source, f, &mut notes)).collect();
    let roots_of = |side: &FolderSide, levels: &[Vec<String>]| -> Vec<(SpecialUse, Vec<String>)> {
        let mut roots: Vec<(SpecialUse, Vec<String>)> = vec![(SpecialUse::Inbox, vec!["INBOX".to_owned()])];
        for (f, l) in side.folders.iter().zip(levels) {
            if let Some(su) = SpecialUse::from_attributes(&f.attributes) {
                if !roots.iter().any(|(r, _)| *r == su) {
                    roots.push((su, l.clone()));
                }
            }
        }
        roots
    };
    let source_roots = roots_of(source, &source_levels);
    let mut target_notes = Vec::new();
    let target_levels: Vec<Vec<String>> = target.folders.iter().map(|f| levels_of(target, f, &mut target_notes)).collect();
    let target_roots = roots_of(target, &target_levels);
    let target_wires: BTreeSet<String> = target.folders.iter().filter(|f| f.selectable()).map(|f| f.wire_name.clone()).collect();

    let mut seen_targets: Vec<(String, String)> = Vec::new();
    for (folder, levels) in source.folders.iter().zip(&source_levels) {
        let source_path = levels.join("/");
        let included = (filter.include.is_empty() || filter.include.iter().any(|p| p.matches(levels, &source_roots)))
            && !filter.exclude.iter().any(|p| p.matches(levels, &source_roots));
        if !included {
            plan.excluded.push(source_path);
            continue;
        }
        // The deepest special-use root this folder is in, mapped to the
        // target's folder of the same role.
        let mut target_levels_for: Vec<String> = levels.clone();
        let mut special_use = None;
        for (role, root) in &source_roots {
            if levels.len() >= root.len() && levels[..root.len()] == root[..] {
                if let Some((_, troot)) = target_roots.iter().find(|(r, _)| r == role) {
                    let mut mapped = troot.clone();
                    mapped.extend(levels[root.len()..].iter().cloned());
                    target_levels_for = mapped;
                    if levels.len() == root.len() {
                        special_use = Some(*role);
                    }
                    break;
                }
            }
        }
        // A level holding the target's separator would split into two levels.
        if let Some(d) = target.delimiter {
            for level in target_levels_for.iter_mut() {
                if level.contains(d) {
                    let renamed = level.replace(d, "_");
                    notes.push(format!("folder {source_path:?}: level {level:?} holds the target's separator {d:?}; it becomes {renamed:?}"));
                    *level = renamed;
                }
            }
        }
        let target_wire = wire_of(target, &target_levels_for);
        let target_path = target_levels_for.join("/");
        if let Some((_, other)) = seen_targets.iter().find(|(t, _)| t.eq_ignore_ascii_case(&target_wire)) {
            notes.push(format!("folders {other:?} and {source_path:?} both go to {target_path:?} on the target; their messages are merged there"));
        }
        seen_targets.push((target_wire.clone(), source_path.clone()));
        let target_exists = target_wire == "INBOX" || target_wires.contains(&target_wire);
        plan.mappings.push(FolderMapping {
            source_wire: folder.wire_name.clone(),
            source_path,
            target_wire,
            target_path,
            special_use,
            selectable: folder.selectable(),
            subscribed: folder.subscribed(),
            target_exists,
        });
    }
    // Parents before children; INBOX first.
    plan.mappings.sort_by(|a, b| {
        let key = |m: &FolderMapping| (m.target_wire != "INBOX", m.target_path.matches('/').count(), m.target_path.to_lowercase());
        key(a).cmp(&key(b))
    });
    plan.notes = notes;
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str, delim: char, attrs: &[&str]) -> ListedFolder {
        ListedFolder { wire_name: name.into(), delimiter: Some(delim), attributes: attrs.iter().map(|a| a.to_string()).collect() }
    }

    fn side(prefix: &str, delim: char, folders: Vec<ListedFolder>) -> FolderSide {
        FolderSide { prefix: prefix.into(), delimiter: Some(delim), utf8: false, folders }
    }

    fn target_of<'a>(plan: &'a FolderPlan, source_wire: &str) -> &'a str {
        &plan.mappings.iter().find(|m| m.source_wire == source_wire).unwrap().target_wire
    }

    #[test]
    fn separators_and_utf7_are_translated() {
        let src = side("", '/', vec![
            folder("INBOX", '/', &[]),
            folder("Archive/2019/Q1", '/', &[]),
            folder("Entw&APw-rfe alt", '/', &[]),
            folder("Projekte &- Pl&AOQ-ne/&ANw-ber uns", '/', &["\\Subscribed"]),
        ]);
        let dst = side("", '.', vec![folder("INBOX", '.', &[])]);
        let plan = plan_folders(&src, &dst, &FolderFilter::default());
        assert_eq!(target_of(&plan, "Archive/2019/Q1"), "Archive.2019.Q1");
        assert_eq!(target_of(&plan, "Entw&APw-rfe alt"), "Entw&APw-rfe alt");
        assert_eq!(target_of(&plan, "Projekte &- Pl&AOQ-ne/&ANw-ber uns"), "Projekte &- Pl&AOQ-ne.&ANw-ber uns");
        let m = plan.mappings.iter().find(|m| m.source_wire.starts_with("Projekte")).unwrap();
        assert_eq!(m.source_path, "Projekte & Pläne/Über uns");
        assert!(m.subscribed);
        assert_eq!(plan.mappings[0].target_wire, "INBOX");
        assert!(plan.mappings[0].target_exists);
        assert!(!plan.mappings[1].target_exists);
    }

    #[test]
    fn namespace_prefixes_are_stripped_and_added() {
        let src = side("INBOX.", '.', vec![folder("INBOX", '.', &[]), folder("INBOX.Archive", '.', &[]), folder("INBOX.Archive.Old", '.', &[])]);
        let dst = side("", '/', vec![folder("INBOX", '/', &[])]);
        let plan = plan_folders(&src, &dst, &FolderFilter::default());
        assert_eq!(target_of(&plan, "INBOX"), "INBOX");
        assert_eq!(target_of(&plan, "INBOX.Archive"), "Archive");
        assert_eq!(target_of(&plan, "INBOX.Archive.Old"), "Archive/Old");
        let back = plan_folders(&dst_with(&["Archive", "Archive/Old"]), &side("INBOX.", '.', vec![folder("INBOX", '.', &[])]), &FolderFilter::default());
        assert_eq!(target_of(&back, "Archive/Old"), "INBOX.Archive.Old");
    }

    fn dst_with(names: &[&str]) -> FolderSide {
        let mut f = vec![folder("INBOX", '/', &[])];
        f.extend(names.iter().map(|n| folder(n, '/', &[])));
        side("", '/', f)
    }

    #[test]
    fn special_use_folders_map_to_the_targets_own_with_their_children() {
        let src = side("", '/', vec![
            folder("Sent", '/', &["\\Sent"]),
            folder("Sent/2019", '/', &[]),
            folder("Papierkorb", '/', &["\\Trash"]),
            folder("Archive", '/', &["\\Archive"]),
        ]);
        let dst = side("", '.', vec![
            folder("INBOX", '.', &[]),
            folder("Sent Items", '.', &["\\Sent"]),
            folder("Deleted Items", '.', &["\\Trash"]),
        ]);
        let plan = plan_folders(&src, &dst, &FolderFilter::default());
        assert_eq!(target_of(&plan, "Sent"), "Sent Items");
        assert_eq!(target_of(&plan, "Sent/2019"), "Sent Items.2019");
        assert_eq!(target_of(&plan, "Papierkorb"), "Deleted Items");
        assert_eq!(target_of(&plan, "Archive"), "Archive", "no \\Archive on the target: kept");
        let sent = plan.mappings.iter().find(|m| m.source_wire == "Sent").unwrap();
        assert_eq!(sent.special_use, Some(SpecialUse::Sent));
        assert!(sent.target_exists);
    }

    #[test]
    fn filters_match_paths_subfolders_and_special_names() {
        let src = side("", '/', vec![
            folder("INBOX", '/', &[]),
            folder("Archive", '/', &[]),
            folder("Archive/2019", '/', &[]),
            folder("Gesendet", '/', &["\\Sent"]),
            folder("Gesendet/Alt", '/', &[]),
            folder("Junk", '/', &["\\Junk"]),
        ]);
        let dst = side("", '.', vec![folder("INBOX", '.', &[])]);
        let pat = |s: &str| FolderPattern::parse(s).unwrap();
        let f = FolderFilter { include: vec![], exclude: vec![pat("#Junk#"), pat("archive/*")] };
        let plan = plan_folders(&src, &dst, &f);
        let kept: Vec<&str> = plan.mappings.iter().map(|m| m.source_path.as_str()).collect();
        assert_eq!(kept, vec!["INBOX", "Gesendet", "Gesendet/Alt"]);
        assert_eq!(plan.excluded.len(), 3);
        let f = FolderFilter { include: vec![pat("#Sent#"), pat("#Inbox#")], exclude: vec![] };
        let kept: Vec<String> = plan_folders(&src, &dst, &f).mappings.iter().map(|m| m.source_path.clone()).collect();
        assert_eq!(kept, vec!["INBOX", "Gesendet"]);
        let f = FolderFilter { include: vec![pat("#sent#/*")], exclude: vec![] };
        assert_eq!(plan_folders(&src, &dst, &f).mappings.len(), 2);
    }

    #[test]
    fn bad_filters_are_refused() {
        assert!(FolderPattern::parse("").is_err());
        assert!(FolderPattern::parse("A*/b").unwrap_err().contains("wildcard"));
        assert!(FolderPattern::parse("#Outbox#").unwrap_err().contains("#Outbox#"));
        assert!(FolderPattern::parse("a//b").is_err());
    }

    #[test]
    fn a_level_with_the_targets_separator_is_renamed_and_noted() {
        let src = side("", '/', vec![folder("v1.2", '/', &[])]);
        let dst = side("", '.', vec![folder("INBOX", '.', &[])]);
        let plan = plan_folders(&src, &dst, &FolderFilter::default());
        assert_eq!(target_of(&plan, "v1.2"), "v1_2");
        assert_eq!(plan.notes.len(), 1);
    }

    #[test]
    fn noselect_folders_are_created_but_not_copied() {
        let src = side("", '/', vec![folder("Parent", '/', &["\\Noselect", "\\HasChildren"]), folder("Parent/Child", '/', &[])]);
        let dst = side("", '/', vec![folder("INBOX", '/', &[])]);
        let plan = plan_folders(&src, &dst, &FolderFilter::default());
        assert!(!plan.mappings[0].selectable);
        assert_eq!(plan.mappings[0].target_wire, "Parent");
    }
}
