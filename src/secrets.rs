//! What counts as a secret, and how it is hidden wherever the tool shows or stores text: the
//! values of build arguments named like secrets, and passwords inside URLs
//! (`scheme://user:pass@host`).

/// What stands for a hidden value.
pub const MASK: &str = "***";

/// Secret values (and lines of multi-line ones) shorter than this are masked where they are a
/// whole argument, but not replaced inside other text: a `CACHE_KEY=1` must not blank out every
/// `1` of a build log.
pub const MIN_REDACTED_LEN: usize = 6;

/// Parts of a name that make it a secret's wherever they are (`GITHUB_TOKEN`, `DB_PASSWD`).
const SECRET_PARTS: [&str; 8] = [
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "KEY",
    "CREDENTIAL",
    "PASSPHRASE",
    "PRIVATE",
];

/// Words of a name (between `_`, `-` or `.`) that make it a secret's (`NPM_AUTH`, `GITHUB_PAT`,
/// `DB_PWD`), which inside other words they do not (`AUTHOR`, `PATH`).
const SECRET_WORDS: [&str; 4] = ["AUTH", "AUTHORIZATION", "PAT", "PWD"];

/// Whether a build argument called `name` holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_PARTS.iter().any(|part| upper.contains(part))
        || upper
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| SECRET_WORDS.contains(&word))
}

/// `NAME=value` as shown: `NAME=***` for a secret's name, else with the passwords of its URLs
/// masked.
pub fn mask_assignment(assignment: &str) -> String {
    match assignment.split_once('=') {
        Some((name, _)) if is_secret_name(name) => format!("{name}={MASK}"),
        _ => mask_url_passwords(assignment),
    }
}

/// `text` with the password of every `scheme://user:password@host` in it replaced by `***`.
pub fn mask_url_passwords(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((start, end)) = url_password(rest) {
        shown.push_str(&rest[..start]);
        shown.push_str(MASK);
        rest = &rest[end..];
    }
    shown.push_str(rest);
    shown
}

/// The byte range of the first URL password in `text`: after the `:` of the user part of a
/// URL's authority (`://user:password@`), up to its last `@`.
fn url_password(text: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let authority_start = from + found + 3;
        let authority_len = text[authority_start..]
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(text.len() - authority_start);
        let authority = &text[authority_start..authority_start + authority_len];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
            && colon + 1 < at
        {
            return Some((authority_start + colon + 1, authority_start + at));
        }
        from = authority_start;
    }
    None
}

/// The texts to replace in a program's output or in text made from `build_args`: each value of
/// a secret-named argument, each line of a multi-line one (a key printed with `cat`), and every
/// URL password, those of at least [`MIN_REDACTED_LEN`] bytes, longest first.
pub fn secret_values<'a>(build_args: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for (name, value) in build_args {
        if is_secret_name(name) {
            values.push(value.to_owned());
            values.extend(value.lines().map(|line| line.trim().to_owned()));
        }
        let mut rest = value;
        while let Some((start, end)) = url_password(rest) {
            values.push(rest[start..end].to_owned());
            rest = &rest[end..];
        }
    }
    values.retain(|value| value.len() >= MIN_REDACTED_LEN);
    values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    values.dedup();
    values
}

/// The largest secret file whose value is hidden in output; a larger one is no token.
const MAX_SECRET_FILE: u64 = 1024 * 1024;

/// The value of the build secret `spec` (`id=pip,env=PIP_TOKEN` or `id=pip,src=FILE`, as
/// `--secret` takes it) as the engine reads it, to hide it in the build's output; None when it
/// cannot be read.
pub fn build_secret_value(spec: &str) -> Option<String> {
    spec.split(',')
        .find_map(|field| match field.split_once('=') {
            Some(("env", name)) => std::env::var(name).ok(),
            Some(("src", path)) => {
                let file = fs_err::File::open(path).ok()?;
                let mut value = String::new();
                std::io::Read::read_to_string(
                    &mut std::io::Read::take(file, MAX_SECRET_FILE),
                    &mut value,
                )
                .ok()?;
                Some(value)
            }
            _ => None,
        })
}

/// `text` with every occurrence of each of `secrets` replaced by `***`.
pub fn redact(text: &[u8], secrets: &[String]) -> Vec<u8> {
    secrets.iter().fold(text.to_vec(), |text, secret| {
        let secret = secret.as_bytes();
        let mut out = Vec::with_capacity(text.len());
        let mut rest = &text[..];
        while !rest.is_empty() {
            if rest.starts_with(secret) {
                out.extend_from_slice(MASK.as_bytes());
                rest = &rest[secret.len()..];
            } else {
                out.push(rest[0]);
                rest = &rest[1..];
            }
        }
        out
    })
}

/// `text` made from `build_args` (an expanded path or image reference), as it may be shown or
/// stored: their secret values and every URL password in it replaced by `***`.
pub fn hide_in<'a>(text: &str, build_args: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let redacted = redact(text.as_bytes(), &secret_values(build_args));
    mask_url_passwords(&String::from_utf8_lossy(&redacted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_secrets_are_known_by_their_parts_and_words() {
        for secret in [
            "GITHUB_TOKEN",
            "DB_PASSWD",
            "API_KEY",
            "AWS_CREDENTIALS",
            "GPG_PASSPHRASE",
            "NPM_AUTH",
            "AUTH",
            "GITHUB_PAT",
            "db-pwd",
            "SSH_PRIVATE",
        ] {
            assert!(is_secret_name(secret), "{secret}");
        }
        for plain in [
            "PYTHON_VERSION",
            "AUTHOR",
            "PATH",
            "PATCH_LEVEL",
            "BASE_IMAGE",
        ] {
            assert!(!is_secret_name(plain), "{plain}");
        }
    }

    #[test]
    fn url_passwords_are_masked_and_the_rest_kept() {
        assert_eq!(
            mask_assignment("PIP_INDEX_URL=https://me:hunter22@pypi.example/simple?x=a:b@c"),
            "PIP_INDEX_URL=https://me:***@pypi.example/simple?x=a:b@c"
        );
        assert_eq!(
            mask_url_passwords("a https://me@host/x b"),
            "a https://me@host/x b"
        );
        assert_eq!(
            mask_url_passwords("git://u:p1@a and ssh://v:p2@b:22/x"),
            "git://u:***@a and ssh://v:***@b:22/x"
        );
        assert_eq!(
            mask_url_passwords("http://host:8080/x"),
            "http://host:8080/x"
        );
    }

    #[test]
    fn every_long_enough_line_of_a_multi_line_secret_is_a_value_to_replace() {
        let key = "-----BEGIN KEY-----\nMIIEabcdefgh\nshort\n-----END KEY-----\n";
        let values = secret_values([("SSH_KEY", key), ("PY", "3.10")]);
        assert_eq!(
            values,
            [
                key,
                "-----BEGIN KEY-----",
                "-----END KEY-----",
                "MIIEabcdefgh"
            ]
        );
        let url = secret_values([("INDEX", "https://me:hunter22@host/")]);
        assert_eq!(url, ["hunter22"]);
    }

    #[test]
    fn text_made_from_build_args_hides_their_secrets() {
        let args = [("GITHUB_TOKEN", "ghp_abcdef123"), ("PY", "3.10")];
        assert_eq!(hide_in("cfg-ghp_abcdef123.txt", args), "cfg-***.txt");
        assert_eq!(
            hide_in("https://u:pw@h/x:3.10", args),
            "https://u:***@h/x:3.10"
        );
    }
}
