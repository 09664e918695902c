//! A small YAML writer: block mappings and sequences whose keys and values are all
//! double-quoted strings, escaped so that every reader takes them for the same text (a `3.10`
//! stays a string, a `null` is not null), in plain ASCII.

/// A YAML value as this writer emits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Text(String),
    List(Vec<Node>),
    /// Entries in the order given.
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn text(value: impl Into<String>) -> Self {
        Node::Text(value.into())
    }
}

/// `node` as a YAML document.
pub fn render(node: &Node) -> String {
    let mut out = String::new();
    match node {
        Node::Map(entries) if !entries.is_empty() => write_map(entries, 0, &mut out),
        Node::List(items) if !items.is_empty() => write_list(items, 0, &mut out),
        scalar_or_empty => {
            write_after_key(scalar_or_empty, 0, &mut out);
            out.remove(0);
        }
    }
    out
}

fn write_map(entries: &[(String, Node)], indent: usize, out: &mut String) {
    for (key, value) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(&quoted(key));
        out.push(':');
        write_after_key(value, indent, out);
    }
}

fn write_list(items: &[Node], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            // A mapping starts on the dash's line: `- "key": ...`, its other keys below it.
            Node::Map(entries) if !entries.is_empty() => {
                let mut nested = String::new();
                write_map(entries, indent + 2, &mut nested);
                out.push_str(&nested[indent + 1..]);
            }
            other => write_after_key(other, indent, out),
        }
    }
}

/// A value after `key:` or `-`: a scalar or empty collection on the same line, else a block
/// indented below it.
fn write_after_key(value: &Node, indent: usize, out: &mut String) {
    match value {
        Node::Text(text) => {
            out.push(' ');
            out.push_str(&quoted(text));
            out.push('\n');
        }
        Node::List(items) if items.is_empty() => out.push_str(" []\n"),
        Node::Map(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Node::List(items) => {
            out.push('\n');
            write_list(items, indent + 2, out);
        }
        Node::Map(entries) => {
            out.push('\n');
            write_map(entries, indent + 2, out);
        }
    }
}

/// `text` as a double-quoted YAML scalar: printable ASCII as is, `"` and `\` escaped, every
/// other character as a `\u` or `\U` escape.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08X}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::*;

    fn pair(key: &str, value: Node) -> (String, Node) {
        (key.to_owned(), value)
    }

    #[test]
    fn writes_nested_block_collections() {
        let document = Node::Map(vec![
            pair("env", Node::Map(vec![pair("A", Node::text("1"))])),
            pair(
                "steps",
                Node::List(vec![
                    Node::Map(vec![
                        pair("key", Node::text("a")),
                        pair("needs", Node::List(vec![Node::text("b")])),
                    ]),
                    Node::text("wait"),
                    Node::List(vec![]),
                ]),
            ),
        ]);
        assert_eq!(
            render(&document),
            "\"env\":\n  \"A\": \"1\"\n\"steps\":\n  - \"key\": \"a\"\n    \"needs\":\n      \
             - \"b\"\n  - \"wait\"\n  - []\n"
        );
    }

    #[test]
    fn every_string_reads_back_as_the_same_text() {
        let awkward = [
            "3.10",
            "null",
            "~",
            "true",
            "no",
            "1e3",
            "0x1F",
            "-",
            "- a",
            ": b",
            "#c",
            "'q'",
            "\"dq\"",
            "back\\slash",
            "tab\there",
            "line\nbreak",
            "é ü",
            "emoji 🐳",
            "\u{2028}",
            "",
            " lead",
            "trail ",
            "{a: b}",
            "[x]",
            "&anchor",
            "*alias",
            "!tag",
            "%dir",
            "@at",
            "`tick`",
            "$VAR",
        ];
        let document = Node::Map(
            awkward
                .iter()
                .enumerate()
                .map(|(i, text)| (format!("{text}{i}"), Node::text(*text)))
                .collect(),
        );
        let text = render(&document);
        assert!(text.is_ascii(), "{text}");
        let read: IndexMap<String, String> = serde_saphyr::from_str(&text).unwrap();
        let expected: IndexMap<String, String> = awkward
            .iter()
            .enumerate()
            .map(|(i, text)| (format!("{text}{i}"), text.to_string()))
            .collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn a_lone_scalar_or_empty_collection_is_a_one_line_document() {
        assert_eq!(render(&Node::text("x")), "\"x\"\n");
        assert_eq!(render(&Node::List(vec![])), "[]\n");
        assert_eq!(render(&Node::Map(vec![])), "{}\n");
    }
}
