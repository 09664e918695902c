//! A tolerant reader of Dockerfiles, just enough for `check`: the build arguments a Dockerfile
//! declares with `ARG`, the variables it uses where no `ARG` or `ENV` declares them, and the
//! build-context sources of its `COPY` and `ADD` instructions ([`copies`]). It never fails: a
//! line it does not understand is an instruction it has no use for. The bodies of heredocs
//! (`RUN <<EOF` ... `EOF`) are skipped.

mod copies;
mod froms;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use copies::ContextCopy;

/// A Dockerfile as its instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    instructions: Vec<Instruction>,
    escape: char,
}

/// One instruction: its keyword in upper case and its arguments, continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Instruction {
    /// The line it starts on, from 1.
    line: u64,
    keyword: String,
    arguments: String,
}

/// A variable used where nothing declares it, so Docker substitutes an empty value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndeclaredUse {
    pub name: String,
    pub line: u64,
    /// Used in a `FROM`, which sees only the `ARG`s before the first `FROM`.
    pub in_from: bool,
}

/// Build arguments Docker accepts without an `ARG`.
const PREDEFINED_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "BUILDKIT_INLINE_CACHE",
    "BUILDKIT_MULTI_PLATFORM",
    "BUILDKIT_SYNTAX",
];

/// Whether docker takes `name` as a build argument even when no `ARG` declares it.
pub fn is_predefined_arg(name: &str) -> bool {
    PREDEFINED_ARGS.contains(&name.to_ascii_uppercase().as_str())
}

impl Dockerfile {
    /// Reads `text`: comment and blank lines are skipped (also inside continued instructions),
    /// lines ending in the escape character (`\`, or the one of an `# escape=` directive) join
    /// the next.
    pub fn parse(text: &str) -> Self {
        let escape = escape_character(text);
        let mut instructions: Vec<Instruction> = Vec::new();
        let mut current: Option<Instruction> = None;
        let mut heredocs = VecDeque::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(end) = heredocs.front() {
                if line == end {
                    heredocs.pop_front();
                }
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (content, continued) = match line.strip_suffix(escape) {
                Some(content) => (content.trim_end(), true),
                None => (line, false),
            };
            match current.as_mut() {
                Some(instruction) => {
                    instruction.arguments.push(' ');
                    instruction.arguments.push_str(content);
                }
                None => current = Some(Instruction::start(index as u64 + 1, content)),
            }
            if !continued && let Some(done) = current.take() {
                heredocs.extend(done.heredoc_ends());
                instructions.push(done);
            }
        }
        instructions.extend(current);
        Self {
            instructions,
            escape,
        }
    }

    /// Every name an `ARG` declares, in any stage.
    pub fn declared_args(&self) -> BTreeSet<String> {
        self.instructions
            .iter()
            .filter(|i| i.keyword == "ARG")
            .flat_map(Instruction::declared_names)
            .collect()
    }

    /// Every use of a variable that no `ARG` declares before it in its stage (or, for a `FROM`,
    /// before the first `FROM`) and no earlier `ENV` sets. Any earlier `ENV` counts, since a
    /// stage built `FROM` another inherits its environment.
    pub fn undeclared_uses(&self) -> Vec<UndeclaredUse> {
        let mut scope = Scope::default();
        let mut uses = Vec::new();
        for instruction in &self.instructions {
            let in_from = instruction.keyword == "FROM";
            for name in variables(&instruction.arguments, self.escape) {
                if !scope.declares(&name, in_from) {
                    uses.push(UndeclaredUse {
                        name,
                        line: instruction.line,
                        in_from,
                    });
                }
            }
            scope.take_in(instruction);
        }
        uses
    }
}

/// What the instructions read so far declare: `ARG`s before the first `FROM` (seen by `FROM`s),
/// those of the current stage, and every `ENV` name (a stage built on another inherits them).
#[derive(Debug, Default)]
struct Scope {
    global_args: Args,
    /// `None` before the first `FROM`.
    stage_args: Option<Args>,
    environment: BTreeSet<String>,
}

/// `ARG` names and their defaults as written.
type Args = BTreeMap<String, Option<String>>;

impl Scope {
    /// The `ARG`s an instruction sees: a `FROM` those before the first `FROM`.
    fn args(&self, in_from: bool) -> &Args {
        match &self.stage_args {
            Some(stage) if !in_from => stage,
            _ => &self.global_args,
        }
    }

    /// Whether `name` is declared by an `ARG` the instruction sees or, but in a `FROM`, an `ENV`.
    fn declares(&self, name: &str, in_from: bool) -> bool {
        self.args(in_from).contains_key(name) || (!in_from && self.environment.contains(name))
    }

    /// Adds what `instruction` declares, or starts a stage.
    fn take_in(&mut self, instruction: &Instruction) {
        match instruction.keyword.as_str() {
            "FROM" => self.stage_args = Some(Args::new()),
            "ARG" => {
                for (name, default) in instruction.declared_pairs() {
                    let Some(stage) = &mut self.stage_args else {
                        self.global_args.insert(name, default);
                        continue;
                    };
                    // `ARG NAME` in a stage takes the default of the global `ARG NAME=value`.
                    let inherited = || self.global_args.get(&name).cloned().flatten();
                    let default = default.or_else(inherited);
                    stage.insert(name, default);
                }
            }
            "ENV" => self.environment.extend(instruction.declared_names()),
            _ => {}
        }
    }
}

impl Instruction {
    fn start(line: u64, content: &str) -> Self {
        let (keyword, arguments) = content
            .split_once(char::is_whitespace)
            .unwrap_or((content, ""));
        Self {
            line,
            keyword: keyword.to_ascii_uppercase(),
            arguments: arguments.trim_start().to_owned(),
        }
    }

    /// The names an `ARG` (`ARG A B=1`) or `ENV` (`ENV A=1 B=2`, or the old `ENV A value`)
    /// declares.
    fn declared_names(&self) -> Vec<String> {
        self.declared_pairs()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// The names an `ARG` or `ENV` declares, each with its value as written when it has one.
    fn declared_pairs(&self) -> Vec<(String, Option<String>)> {
        let words = words(&self.arguments);
        let old_env_form = self.keyword == "ENV" && words.first().is_some_and(|w| !w.contains('='));
        let words = if old_env_form {
            &words[..1]
        } else {
            &words[..]
        };
        words
            .iter()
            .map(|word| match word.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (word.clone(), None),
            })
            .filter(|(name, _)| !name.is_empty())
            .collect()
    }

    /// The words ending the heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`) a `RUN`, `COPY` or `ADD`
    /// opens, in order: the lines up to each are its body, not instructions.
    fn heredoc_ends(&self) -> Vec<String> {
        if !matches!(self.keyword.as_str(), "RUN" | "COPY" | "ADD") {
            return Vec::new();
        }
        self.arguments
            .split("<<")
            .skip(1)
            .filter_map(|after| {
                let after = after.strip_prefix('-').unwrap_or(after);
                let after = after.trim_start_matches(['"', '\'']);
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let starts_well = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
                starts_well.then_some(name)
            })
            .collect()
    }
}

/// The escape character set by an `# escape=` parser directive at the top, else `\`.
fn escape_character(text: &str) -> char {
    for line in text.lines() {
        let Some((key, value)) = line
            .trim()
            .strip_prefix('#')
            .and_then(|d| d.split_once('='))
        else {
            break;
        };
        if key.trim().eq_ignore_ascii_case("escape") {
            return if value.trim() == "`" { '`' } else { '\\' };
        }
    }
    '\\'
}

/// `text` split at unquoted whitespace, quotes removed.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (_, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The names of the variables `text` refers to as `$NAME`, `${NAME}` or `${NAME:-default}`,
/// skipping a `$` after the escape character.
fn variables(text: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let is_name_char = |c: &char| c.is_ascii_alphanumeric() || *c == '_';
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == escape {
            i += 2;
            continue;
        }
        if chars[i] != '$' {
            i += 1;
            continue;
        }
        let start = i + 1 + usize::from(chars.get(i + 1) == Some(&'{'));
        let length = chars[start..]
            .iter()
            .take_while(|c| is_name_char(c))
            .count();
        if length > 0 && !chars[start].is_ascii_digit() {
            names.push(chars[start..start + length].iter().collect());
        }
        i = start + length;
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        Dockerfile::parse(text)
            .declared_args()
            .into_iter()
            .collect()
    }

    fn undeclared(text: &str) -> Vec<(String, u64, bool)> {
        Dockerfile::parse(text)
            .undeclared_uses()
            .into_iter()
            .map(|u| (u.name, u.line, u.in_from))
            .collect()
    }

    #[test]
    fn reads_args_with_defaults_several_per_line_and_quoted_values() {
        let text = "ARG A\nARG B=default\narg C=1 D \"E=a b\"\nARG F='x y' G=\n";
        assert_eq!(args(text), ["A", "B", "C", "D", "E", "F", "G"]);
    }

    #[test]
    fn joins_continued_lines_skipping_comments_and_blank_lines_inside() {
        let text = "FROM x\nARG A=1 \\\n  # a comment inside\n\n    B=2 \\\n    C\nRUN echo\n";
        assert_eq!(args(text), ["A", "B", "C"]);
        let file = Dockerfile::parse(text);
        let lines: Vec<u64> = file.instructions.iter().map(|i| i.line).collect();
        assert_eq!(lines, [1, 2, 7]);
    }

    #[test]
    fn comments_and_words_that_merely_contain_arg_declare_nothing() {
        let text = "# ARG HIDDEN\nFROM x\nRUN echo ARG NOPE  # ARG ALSO_NOT\nLABEL ARG=1\n";
        assert_eq!(args(text), Vec::<String>::new());
    }

    #[test]
    fn an_escape_directive_changes_the_continuation_character() {
        let text = "# escape=`\nFROM x\nARG A=1 `\n  B\nRUN echo `$A\n";
        assert_eq!(args(text), ["A", "B"]);
        assert_eq!(undeclared(text), []);
    }

    #[test]
    fn a_from_sees_only_the_args_before_the_first_from() {
        assert_eq!(undeclared("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"), []);
        assert_eq!(
            undeclared("FROM $BASE_IMAGE\nARG BASE_IMAGE\n"),
            [("BASE_IMAGE".into(), 1, true)]
        );
        assert_eq!(
            undeclared("FROM x\nARG BASE_IMAGE\nFROM ${BASE_IMAGE:-x} AS y\n"),
            [("BASE_IMAGE".into(), 3, true)]
        );
    }

    #[test]
    fn a_stage_sees_only_its_own_args_before_the_use() {
        let text = "ARG V=1\nFROM x\nRUN echo $V\nARG V\nRUN echo ${V}\nFROM y\nRUN echo $V\n";
        assert_eq!(
            undeclared(text),
            [("V".into(), 3, false), ("V".into(), 7, false)]
        );
    }

    #[test]
    fn env_declares_a_variable_for_what_follows() {
        let text = "FROM x\nENV A=1 B=2\nENV C some value\nRUN echo $A $B $C $D\n";
        assert_eq!(undeclared(text), [("D".into(), 4, false)]);
    }

    #[test]
    fn escaped_dollars_and_positional_parameters_are_not_variables() {
        assert_eq!(variables(r"echo \$A $1 $$ ${B} $C_D", '\\'), ["B", "C_D"]);
    }

    #[test]
    fn proxies_are_predefined_build_args() {
        assert!(is_predefined_arg("http_proxy"));
        assert!(is_predefined_arg("NO_PROXY"));
        assert!(!is_predefined_arg("PYTHON_VERSION"));
    }

    #[test]
    fn heredoc_bodies_are_not_instructions() {
        let text = "FROM x\nRUN <<EOF\nARG HIDDEN\nEOF\nCOPY <<-\"A\" <<B /dst/\nCOPY y z\nA\nARG ALSO_HIDDEN\nB\nARG SEEN\nRUN echo $((1<<2)) <<< x\nARG LAST\n";
        assert_eq!(args(text), ["LAST", "SEEN"]);
        let file = Dockerfile::parse(text);
        let lines: Vec<u64> = file.instructions.iter().map(|i| i.line).collect();
        assert_eq!(lines, [1, 2, 5, 10, 11, 12]);
    }

    #[test]
    fn a_stage_arg_without_a_default_takes_the_global_one() {
        let mut scope = Scope::default();
        for instruction in &Dockerfile::parse("ARG V=1 W\nFROM x\nARG V W=2 U\n").instructions {
            scope.take_in(instruction);
        }
        let stage: Vec<(&str, Option<&str>)> = scope
            .args(false)
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_deref()))
            .collect();
        assert_eq!(stage, [("U", None), ("V", Some("1")), ("W", Some("2"))]);
    }

    #[test]
    fn empty_and_unterminated_files_do_not_fail() {
        assert_eq!(Dockerfile::parse("").instructions, []);
        assert_eq!(args("FROM x\nARG A \\"), ["A"]);
        assert_eq!(undeclared("RUN echo ${"), []);
    }
}
