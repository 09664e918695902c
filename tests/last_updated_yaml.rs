//! `last_updated.yaml` as the original tool and its users' Python scripts read it: with PyYAML's
//! `safe_load` (YAML 1.1), the oracle here. Every timestamp the tool writes, over a generated
//! set of tag-valid values and the shapes YAML 1.1 reads as something else, reads back as the
//! same string. Engine-free: `record` writes the file without building.

mod common;

use std::process::Command;

use common::Env;

/// The characters a timestamp may hold (a Docker tag's), weighted towards the ones YAML 1.1
/// gives a meaning to: digits, signs of numbers, `_`, `.`, and the letters of `0x`, `0o`, `0b`,
/// `e`, `inf`, `nan`, `null`, `yes`/`no`/`on`/`off`/`y`/`n`.
const ALPHABET: &[u8] = b"0123456789012345678901234567890123456789_._.-.-\
    eEeExXoObBnNaAiIfFyYsStTuUlLrRzZ_-.0123456789";

/// A small deterministic generator (xorshift64*), so a failure is the same on every run.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A value of 1 to `max_len` characters of the alphabet.
    fn value(&mut self, max_len: usize) -> String {
        let len = 1 + self.below(max_len);
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len())] as char)
            .collect()
    }
}

/// Every spelling in upper and lower case of `word` (`on`, `On`, `oN`, `ON`).
fn all_cases(word: &str) -> Vec<String> {
    let letters: Vec<char> = word.chars().collect();
    (0..1u32 << letters.len())
        .map(|mask| {
            (letters.iter().enumerate())
                .map(|(i, c)| match mask & (1 << i) {
                    0 => c.to_ascii_lowercase(),
                    _ => c.to_ascii_uppercase(),
                })
                .collect()
        })
        .collect()
}

/// The shapes YAML 1.1 resolves to another type than a string, as tag characters spell them.
fn yaml_1_1_shapes() -> Vec<String> {
    let mut shapes: Vec<String> = ["yes", "no", "on", "off", "y", "n", "true", "false", "null"]
        .iter()
        .flat_map(|word| all_cases(word))
        .collect();
    shapes.extend(
        [
            ".inf",
            "-.inf",
            ".Inf",
            ".INF",
            ".nan",
            ".NaN",
            ".NAN",
            "2030-01-02",
            "2030-1-2",
            "1999-12-31",
            "0000-00-00",
            "2030-13-45",
            "0x1f",
            "0x_1F",
            "-0x1f",
            "0o17",
            "0b101",
            "0b_1",
            "-0b1",
            "0_7",
            "010",
            "-010",
            "1_000",
            "1__0",
            "1_0",
            "0",
            "-0",
            "12e3",
            "1.5e-3",
            "1.0E-3",
            "1.",
            "1._",
            "._1",
            ".5",
            "-.5",
            "1.5",
            "1_1.5",
            "-1",
            "-1.0",
            "007",
            "08",
            "0.",
            "1e",
            "1.e-3",
            "190-20",
            "1-2-3",
            "1.2.3",
            "2020-07-11T040642",
            "1.0-rc1",
        ]
        .map(str::to_owned),
    );
    shapes
}

/// PyYAML, the original's reader, or a failure naming how to install it.
fn require_pyyaml() {
    let found = Command::new("python3")
        .args(["-c", "import yaml"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "PyYAML is missing: `apt-get install python3-yaml` or `pip install pyyaml`"
    );
}

/// The entries PyYAML's `safe_load` reads in each (file text, timestamp written) pair whose
/// `'3.9'` is not that timestamp as a string, as one line each.
fn misread_by_pyyaml(written: &[(String, String)]) -> String {
    let script = "import json, sys, yaml\n\
        for text, value in json.load(sys.stdin):\n    \
            try:\n        \
                read = yaml.safe_load(text)\n    \
            except Exception as error:\n        \
                read = error\n    \
            if read != {'3.9': value}:\n        \
                print(repr(value), 'written', repr(text), 'reads as', repr(read))\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    let input = serde_json::to_vec(written).unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the PyYAML check failed");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_timestamp_written_reads_back_in_pyyaml_as_the_same_string() {
    require_pyyaml();
    let env = Env::without_engine();
    let mut generator = Generator(0x9e37_79b9_7f4a_7c15);
    let mut values = yaml_1_1_shapes();
    values.extend((0..800).map(|_| generator.value(10)));
    values.sort();
    values.dedup();
    let mut written = Vec::new();
    for value in &values {
        // `=`: a value may start with `-`.
        let timestamp = format!("--timestamp={value}");
        let args = ["record", "--name", "python-base", "-v", "3.9", &timestamp];
        env.run(&args).success();
        let text = env.read("python-base/last_updated.yaml");
        written.push((text, value.clone()));
    }
    assert_eq!(misread_by_pyyaml(&written), "");
    // The tool's own timestamps stay plain, as the original writes them.
    let own = written.iter().find(|(_, v)| v == "2020-07-11T040642");
    let own = &own.unwrap().0;
    assert!(own.ends_with("\n'3.9': 2020-07-11T040642\n"), "{own}");
}
