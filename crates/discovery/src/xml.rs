//! A strict reader for the small XML documents of discovery: the whole
//! document into a tree of elements, or a reason to refuse it.
//!
//! Refused: anything that is not UTF-8, a DTD (`<!DOCTYPE`, hence any entity
//! declaration), entities other than XML's five and character references,
//! mismatched or unclosed tags, more than one root, text outside the root,
//! and documents deeper or larger than any real discovery document.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

const MAX_DEPTH: usize = 32;
const MAX_ELEMENTS: usize = 10_000;

/// An element: its local name (namespace prefix dropped), its attributes,
/// its text (the concatenated, trimmed character data directly inside it)
/// and its child elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) text: String,
    pub(crate) children: Vec<Element>,
}

impl Element {
    /// The first child named `name` (compared case-sensitively, as XML is).
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child named `name`, if non-empty.
    pub(crate) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a whole document strictly.
pub(crate) fn parse(bytes: &[u8]) -> Result<Element, String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text =
        std::str::from_utf8(bytes).map_err(|e| format!("the document is not valid UTF-8 ({e})"))?;
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "the document is not well-formed XML near byte {}: {e}",
                reader.error_position()
            )
        })?;
        match event {
            Event::DocType(_) => {
                return Err(
                    "the document has a DTD (<!DOCTYPE>), which is never accepted".to_owned(),
                )
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err("the document has more than one root element".to_owned());
            }
            Event::Start(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(format!(
                        "the document has more than {MAX_ELEMENTS} elements"
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("the document nests deeper than {MAX_DEPTH} levels"));
                }
                stack.push(element(&start)?);
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(format!(
                        "the document has more than {MAX_ELEMENTS} elements"
                    ));
                }
                let el = element(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let mut el = stack
                    .pop()
                    .ok_or_else(|| "the document closes an element it never opened".to_owned())?;
                el.text = el.text.trim().to_owned();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t
                    .unescape()
                    .map_err(|e| format!("the document has an unusable reference: {e}"))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err("the document has text outside its root element".to_owned()),
                }
            }
            Event::CData(c) => {
                let s = std::str::from_utf8(&c)
                    .map_err(|e| format!("a CDATA section is not valid UTF-8 ({e})"))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(s),
                    None => return Err("the document has text outside its root element".to_owned()),
                }
            }
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "the document ends before <{}> is closed",
            open.name
        ));
    }
    root.ok_or_else(|| "the document is empty".to_owned())
}

fn element(start: &BytesStart<'_>) -> Result<Element, String> {
    let name = std::str::from_utf8(start.local_name().as_ref())
        .map_err(|_| "an element name is not valid UTF-8".to_owned())?
        .to_owned();
    let mut attributes = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("<{name}> has a malformed attribute: {e}"))?;
        let key = std::str::from_utf8(attr.key.local_name().as_ref())
            .map_err(|_| "an attribute name is not valid UTF-8".to_owned())?
            .to_owned();
        let value = attr
            .unescape_value()
            .map_err(|e| format!("<{name}> has an unusable attribute value: {e}"))?
            .into_owned();
        attributes.push((key, value));
    }
    Ok(Element {
        name,
        attributes,
        text: String::new(),
        children: Vec::new(),
    })
}

/// Escapes text for an XML element's content or attribute value.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_tree_with_namespaces_dropped() {
        let doc = br#"<?xml version="1.0" encoding="utf-8"?>
            <!-- hello -->
            <a:Root xmlns:a="urn:x"><a:B k="v &amp; w">one &lt;two&gt; &#65;</a:B><C/><![CDATA[ignored?]]></a:Root>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Root");
        assert_eq!(root.child_text("B"), Some("one <two> A"));
        assert_eq!(root.child("B").unwrap().attribute("k"), Some("v & w"));
        assert!(root.child("C").is_some());
        assert_eq!(root.children_named("B").count(), 1);
    }

    #[test]
    fn refuses_dtds_and_entities() {
        let e = parse(b"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>")
            .unwrap_err();
        assert!(e.contains("DTD"), "{e}");
        let e = parse(b"<!DOCTYPE r SYSTEM \"http://example.test/r.dtd\"><r/>").unwrap_err();
        assert!(e.contains("DTD"), "{e}");
        let e = parse(b"<r>&xxe;</r>").unwrap_err();
        assert!(e.contains("reference"), "{e}");
    }

    #[test]
    fn refuses_malformed_documents() {
        for doc in [
            &b""[..],
            b"   ",
            b"<r>",
            b"<r></s>",
            b"</r>",
            b"<r/><s/>",
            b"text<r/>",
            b"<r a=b/>",
            b"\xff\xfe<r/>",
            b"<r><a></r>",
        ] {
            assert!(
                parse(doc).is_err(),
                "{:?} should be refused",
                String::from_utf8_lossy(doc)
            );
        }
    }

    #[test]
    fn refuses_absurd_nesting() {
        let doc = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
        assert!(parse(doc.as_bytes()).unwrap_err().contains("deeper"));
    }

    #[test]
    fn escapes() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    }
}
