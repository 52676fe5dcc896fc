//! Reading the XML Maven clients send (POMs, `maven-metadata.xml`): well-formed, no DTD, bounded depth, and the
//! text of the elements asked for by their path from the root (`project/parent/groupId`).

use std::collections::BTreeMap;

use quick_xml::events::Event;
use quick_xml::Reader;

const MAX_DEPTH: usize = 64;

/// The text of the first element at each of `paths` (`root/child/…`), after checking the whole document is
/// well-formed XML whose root element is `root`.
pub fn texts(xml: &[u8], root: &str, paths: &[&str]) -> Result<BTreeMap<String, String>, String> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<String> = Vec::new();
    let mut found = BTreeMap::new();
    let mut seen_root = false;
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| format!("not well-formed XML: {e}"))?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if stack.is_empty() {
                    if seen_root || name != root {
                        return Err(format!("the document's root element is <{name}>, not <{root}>"));
                    }
                    seen_root = true;
                }
                stack.push(name);
                if stack.len() > MAX_DEPTH {
                    return Err(format!("the document nests deeper than {MAX_DEPTH} elements"));
                }
            }
            Event::Empty(e) if stack.is_empty() => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if seen_root || name != root {
                    return Err(format!("the document's root element is <{name}>, not <{root}>"));
                }
                seen_root = true;
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let path = stack.join("/");
                if paths.contains(&path.as_str()) && !found.contains_key(&path) {
                    let text = t.decode().map_err(|e| format!("not well-formed XML: {e}"))?;
                    found.insert(path, text.trim().to_owned());
                }
            }
            Event::DocType(_) => return Err("document type declarations are not accepted".to_owned()),
            Event::Eof if !stack.is_empty() => return Err(format!("the document ends inside <{}>", stack.join("><"))),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !seen_root {
        return Err(format!("no <{root}> element"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_read_by_path_from_well_formed_documents() {
        let pom = b"<?xml version=\"1.0\"?><project xmlns=\"http://maven.apache.org/POM/4.0.0\"><parent><groupId>p</groupId></parent>\
                    <artifactId>demo</artifactId><version>1.0</version></project>";
        let t = texts(pom, "project", &["project/groupId", "project/parent/groupId", "project/artifactId"]).unwrap();
        assert_eq!(t.get("project/parent/groupId").map(String::as_str), Some("p"));
        assert_eq!(t.get("project/artifactId").map(String::as_str), Some("demo"));
        assert!(!t.contains_key("project/groupId"));
        for bad in [
            &b"<project><artifactId>x</project>"[..],
            b"<metadata/>",
            b"not xml",
            b"<!DOCTYPE x [<!ENTITY a \"b\">]><project/>",
            b"<project/><project/>",
            b"<project><version>",
        ] {
            assert!(texts(bad, "project", &[]).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = format!("<project>{}{}</project>", "<a>".repeat(100), "</a>".repeat(100));
        assert!(texts(deep.as_bytes(), "project", &[]).unwrap_err().contains("deeper"));
    }
}
