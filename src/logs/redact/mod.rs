//! Redaction: secrets never leave the machine. Built-in rules (on by default) find credentials,
//! tokens, keys and card numbers in every text field and replace them with
//! `[REDACTED:<rule>]`; fields whose *name* says they hold a secret (`password`, `api_key`…)
//! are replaced whole. Optional rules cover e-mail and IP addresses; custom rules are regexes
//! from the configuration. Each replacement is counted per rule.
//!
//! Speed: each rule has literal triggers; one Aho-Corasick pass over the text says which rules
//! can match, so a clean line costs one scan and no regex.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind, Span, packed};
use prometheus::IntCounter;
use regex::Regex;
use std::borrow::Cow;
use std::sync::OnceLock;

mod numbers;

use numbers::{has_card_run, replace_cards, replace_ips};

/// The built-in rules on by default.
pub const DEFAULT_RULES: [&str; 8] = [
    "bearer",
    "basic_auth",
    "jwt",
    "url_password",
    "secret_fields",
    "aws_access_key",
    "private_key",
    "card_number",
];

/// Built-in rules that are off unless listed.
pub const OPTIONAL_RULES: [&str; 2] = ["email", "ip"];

/// Field names (lower-cased, any separators) that hold a secret, whatever their value.
const SECRET_KEYS: [&str; 16] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "accesskey",
    "access_key",
    "secretkey",
    "secret_key",
    "clientsecret",
    "client_secret",
    "privatekey",
    "private_key",
    "authorization",
];

enum Matcher {
    /// Replace each match of the regex; groups 1 and 2, if any, are kept before and after the
    /// marker. Built-in patterns are compiled on their first trigger: most never are on clean
    /// logs, which keeps an idle agent small.
    Regex(LazyRegex),
    /// A configured rule, compiled when the configuration was validated.
    Custom(Regex),
    CardNumbers,
    Ips,
}

struct LazyRegex {
    pattern: &'static str,
    compiled: OnceLock<Regex>,
}

impl LazyRegex {
    fn get(&self) -> &Regex {
        self.compiled
            .get_or_init(|| Regex::new(self.pattern).expect("built-in patterns are valid"))
    }
}

struct Rule {
    name: String,
    marker: String,
    matcher: Matcher,
    /// Literals one of which must occur for the rule to match; empty means always try.
    triggers: Vec<&'static str>,
    /// A byte that must occur too (the `@` of a URL with a password, which has `://`).
    requires: Option<u8>,
    count: IntCounter,
}

/// A custom rule from the configuration.
#[derive(Debug, Clone)]
pub struct CustomRule {
    pub name: String,
    pub pattern: Regex,
}

pub struct Redactor {
    rules: Vec<Rule>,
    triggers: AhoCorasick,
    /// The triggers lower-cased, for a SIMD search over lower-cased text (several times faster
    /// than the case-insensitive automaton); `None` where the CPU or the patterns rule it out.
    lowercase_triggers: Option<packed::Searcher>,
    /// For each trigger pattern, the rule it belongs to.
    trigger_rule: Vec<usize>,
    always: Vec<usize>,
    secret_key_count: Option<IntCounter>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field(
                "rules",
                &self
                    .rules
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn builtin(name: &str) -> Option<(Matcher, Vec<&'static str>)> {
    let regex = |pattern: &'static str| {
        Matcher::Regex(LazyRegex {
            pattern,
            compiled: OnceLock::new(),
        })
    };
    Some(match name {
        "bearer" => (
            regex(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"),
            vec!["bearer"],
        ),
        "basic_auth" => (regex(r"(?i)(\bbasic\s+)[A-Za-z0-9+/]{8,}=*"), vec!["basic"]),
        "jwt" => (
            regex(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
            vec!["eyJ"],
        ),
        "url_password" => (
            regex(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(@)"),
            vec!["://"],
        ),
        "secret_fields" => (
            regex(
                r#"(?i)((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|client[_-]?secret|private[_-]?key|credentials?)["']?\s*[=:]\s*["']?)[^\s"'&,;}\]]+"#,
            ),
            // Not `key` alone: "cache key", "key=" are everywhere in logs.
            vec![
                "password",
                "passwd",
                "pwd",
                "secret",
                "token",
                "credential",
                "apikey",
                "api_key",
                "api-key",
                "accesskey",
                "access_key",
                "access-key",
                "privatekey",
                "private_key",
                "private-key",
            ],
        ),
        "aws_access_key" => (
            regex(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
            vec![
                "AKIA", "ASIA", "AIDA", "AROA", "AGPA", "ANPA", "ANVA", "AIPA",
            ],
        ),
        "private_key" => (
            regex(
                r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
            ),
            vec!["-----BEGIN"],
        ),
        "card_number" => (Matcher::CardNumbers, Vec::new()),
        "email" => (
            regex(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
            vec!["@"],
        ),
        "ip" => (Matcher::Ips, Vec::new()),
        _ => return None,
    })
}

impl Redactor {
    /// A redactor with the named built-in rules and the custom ones. `counter` gives the
    /// counter of each rule (by name). Unknown built-in names are an error.
    pub fn new(
        builtin_rules: &[String],
        custom: &[CustomRule],
        counter: impl Fn(&str) -> IntCounter,
    ) -> Result<Self, String> {
        let mut rules = Vec::new();
        for name in builtin_rules {
            let (matcher, triggers) =
                builtin(name).ok_or_else(|| format!("unknown redaction rule `{name}`"))?;
            rules.push(Rule {
                marker: format!("[REDACTED:{name}]"),
                count: counter(name),
                name: name.clone(),
                requires: (name == "url_password").then_some(b'@'),
                matcher,
                triggers,
            });
        }
        for rule in custom {
            rules.push(Rule {
                marker: format!("[REDACTED:{}]", rule.name),
                count: counter(&rule.name),
                name: rule.name.clone(),
                matcher: Matcher::Custom(rule.pattern.clone()),
                triggers: Vec::new(),
                requires: None,
            });
        }
        let mut patterns = Vec::new();
        let mut trigger_rule = Vec::new();
        let mut always = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            if rule.triggers.is_empty() {
                always.push(index);
            }
            for trigger in &rule.triggers {
                patterns.push(*trigger);
                trigger_rule.push(index);
            }
        }
        let triggers = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            // A DFA: a few KiB more memory, several times faster per byte than the NFA on
            // case-insensitive patterns, and this runs over every text field.
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| e.to_string())?;
        let lowercase_triggers = if patterns.is_empty() {
            None
        } else {
            packed::Searcher::new(patterns.iter().map(|p| p.to_ascii_lowercase()))
        };
        let secret_key_count = rules
            .iter()
            .find(|r| r.name == "secret_fields")
            .map(|r| r.count.clone());
        Ok(Self {
            rules,
            triggers,
            lowercase_triggers,
            trigger_rule,
            always,
            secret_key_count,
        })
    }

    /// Nothing redacted, nothing counted.
    pub fn disabled() -> Self {
        Self::new(&[], &[], |_| {
            IntCounter::new("unused", "unused").expect("valid")
        })
        .expect("no rules")
    }

    /// Whether a field with this name holds a secret whatever its value (`DB_PASSWORD`,
    /// `x-api-key`, `client.secret`), when the `secret_fields` rule is on.
    pub fn is_secret_key(&self, key: &str) -> bool {
        if self.secret_key_count.is_none() {
            return false;
        }
        let key = key.as_bytes();
        // Every secret name ends in one of these pairs of letters (and a name's last segment
        // ends where the name does): most names are out at two bytes (`order_id`, `amount`,
        // `count` are not).
        let ending = match key {
            [.., a, b] => [a.to_ascii_lowercase(), b.to_ascii_lowercase()],
            _ => return false,
        };
        if !matches!(&ending, b"rd" | b"wd" | b"en" | b"on" | b"et" | b"ey") {
            return false;
        }
        let last = match key.iter().rposition(|b| matches!(b, b'.' | b'/')) {
            Some(at) => &key[at + 1..],
            None => key,
        };
        // Case-insensitive, `-` and `_` alike, whole name or a `_`/`-`-separated suffix; no
        // allocation: this runs for every attribute of every event.
        let same = |a: u8, b: u8| a.eq_ignore_ascii_case(&b) || (a == b'-' && b == b'_');
        SECRET_KEYS.iter().any(|secret| {
            let secret = secret.as_bytes();
            if last.len() < secret.len() {
                return false;
            }
            let start = last.len() - secret.len();
            let tail_matches = last[start..].iter().zip(secret).all(|(a, b)| same(*a, *b));
            tail_matches && (start == 0 || matches!(last[start - 1], b'_' | b'-'))
        })
    }

    /// The marker for a value replaced because of its field's name.
    pub fn redact_whole(&self) -> String {
        if let Some(count) = &self.secret_key_count {
            count.inc();
        }
        "[REDACTED:secret_fields]".to_owned()
    }

    /// The rules that may match somewhere in `text`, a bit each: those whose trigger occurs
    /// in it (and the byte they require), the card rule where there is a long run of digits,
    /// and the rules without triggers. Text taken unchanged from a line (a piece of it) needs
    /// at most the line's rules: most lines have none, and their fields need no look at all.
    /// `scratch` holds the lower-cased text.
    pub fn rules_for(&self, text: &str, scratch: &mut Vec<u8>) -> u64 {
        let mut wanted: u64 = 0;
        for &index in &self.always {
            if !matches!(self.rules[index].matcher, Matcher::CardNumbers) || has_card_run(text) {
                wanted |= rule_bit(index);
            }
        }
        let mut trigger = |pattern: usize| {
            let index = self.trigger_rule[pattern];
            let required = self.rules[index].requires;
            if required.is_none_or(|byte| memchr::memchr(byte, text.as_bytes()).is_some()) {
                wanted |= rule_bit(index);
            }
        };
        match &self.lowercase_triggers {
            Some(searcher) => {
                scratch.clear();
                scratch.extend_from_slice(text.as_bytes());
                scratch.make_ascii_lowercase();
                // Every start position, so that triggers overlapping one another are all seen.
                let mut at = 0;
                while let Some(found) =
                    searcher.find_in(&scratch[..], Span::from(at..scratch.len()))
                {
                    trigger(found.pattern().as_usize());
                    at = found.start() + 1;
                }
            }
            None => {
                for found in self.triggers.find_overlapping_iter(text) {
                    trigger(found.pattern().as_usize());
                }
            }
        }
        wanted
    }

    /// Redacts `text` in place; returns whether anything was replaced.
    pub fn redact(&self, text: &mut String) -> bool {
        let rules = self.rules_for(text, &mut Vec::new());
        match self.apply(text, rules) {
            Some(replaced) => {
                *text = replaced;
                true
            }
            None => false,
        }
    }

    /// Redacts `text` with `rules` (from [`Redactor::rules_for`] on it or on the line it is a
    /// piece of); it stays borrowed unless something is replaced.
    pub fn redact_cow(&self, text: &mut Cow<'_, str>, rules: u64) -> bool {
        match self.apply(text, rules) {
            Some(replaced) => {
                *text = Cow::Owned(replaced);
                true
            }
            None => false,
        }
    }

    /// `text` with the secrets that `rules` find replaced, or `None` if there are none.
    fn apply(&self, text: &str, rules: u64) -> Option<String> {
        if rules == 0 {
            return None;
        }
        let mut current: Option<String> = None;
        for (index, rule) in self.rules.iter().enumerate() {
            if rules & rule_bit(index) == 0 {
                continue;
            }
            let source = current.as_deref().unwrap_or(text);
            let (replaced, count) = match &rule.matcher {
                Matcher::Regex(lazy) => {
                    let keep = (rule.name == "secret_fields")
                        .then_some(not_a_credential as fn(&str) -> bool);
                    replace_regex(lazy.get(), source, &rule.marker, keep)
                }
                Matcher::Custom(regex) => replace_regex(regex, source, &rule.marker, None),
                Matcher::CardNumbers => replace_cards(source, &rule.marker),
                Matcher::Ips => replace_ips(source, &rule.marker),
            };
            if count > 0 {
                current = Some(replaced);
                rule.count.inc_by(count);
            }
        }
        current
    }
}

/// A value after `token=`/`password:` that is plainly not a credential: an object dump
/// (`AppWindowToken{9f4ef63`, Android's and Java's `toString()`), or a placeholder (`null`,
/// `none`, `***`, `<redacted>`…). Credentials do not contain `{`.
fn not_a_credential(value: &str) -> bool {
    if value.contains('{') {
        return true;
    }
    let lower = value.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "null"
            | "nil"
            | "none"
            | "undefined"
            | "true"
            | "false"
            | "-"
            | "<redacted>"
            | "[redacted]"
            | "redacted"
            | "<hidden>"
            | "(null)"
    ) || (!value.is_empty() && value.bytes().all(|b| b == b'*' || b == b'x' || b == b'X'))
}

/// A rule's bit in a set of rules; past 64 rules, bits are shared (a rule then runs more often
/// than it needs to, never less).
fn rule_bit(index: usize) -> u64 {
    1 << (index % 64)
}

/// `keep`: for a match whose value (what the marker would replace) is plainly not a secret,
/// the match is left as it was.
fn replace_regex(
    regex: &Regex,
    text: &str,
    marker: &str,
    keep: Option<fn(&str) -> bool>,
) -> (String, u64) {
    let mut count = 0;
    let replaced = regex.replace_all(text, |captures: &regex::Captures<'_>| {
        let whole = captures.get(0).expect("group 0 is the match");
        let before = captures.get(1).map_or("", |m| m.as_str());
        let after = captures.get(2).map_or("", |m| m.as_str());
        if let Some(keep) = keep {
            let value_start = captures.get(1).map_or(whole.start(), |m| m.end());
            let value_end = captures.get(2).map_or(whole.end(), |m| m.start());
            if keep(&text[value_start..value_end]) {
                return whole.as_str().to_owned();
            }
        }
        count += 1;
        format!("{before}{marker}{after}")
    });
    match replaced {
        Cow::Owned(owned) => (owned, count),
        Cow::Borrowed(_) => (String::new(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(extra: &[&str]) -> Redactor {
        let mut names: Vec<String> = DEFAULT_RULES.iter().map(|s| s.to_string()).collect();
        names.extend(extra.iter().map(|s| s.to_string()));
        Redactor::new(&names, &[], |name| {
            IntCounter::new(format!("t_{name}"), "t").unwrap()
        })
        .unwrap()
    }

    fn redacted(redactor: &Redactor, text: &str) -> String {
        let mut text = text.to_owned();
        redactor.redact(&mut text);
        text
    }

    #[test]
    fn each_default_rule() {
        let r = redactor(&[]);
        for (input, expected) in [
            (
                "Authorization: Bearer abcDEF123456.ghij-KL",
                "Authorization: Bearer [REDACTED:bearer]",
            ),
            (
                "auth=Basic dXNlcjpwYXNzd29yZA==",
                "auth=Basic [REDACTED:basic_auth]",
            ),
            (
                "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36P end",
                "jwt [REDACTED:jwt] end",
            ),
            (
                "connecting to postgres://app:s3cr3t@db:5432/shop",
                "connecting to postgres://app:[REDACTED:url_password]@db:5432/shop",
            ),
            (
                "login password=hunter2 user=bob",
                "login password=[REDACTED:secret_fields] user=bob",
            ),
            (
                r#"{"api_key": "abc123"}"#,
                r#"{"api_key": "[REDACTED:secret_fields]"}"#,
            ),
            (
                "key AKIAIOSFODNN7EXAMPLE used",
                "key [REDACTED:aws_access_key] used",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIB\n-----END RSA PRIVATE KEY----- done",
                "[REDACTED:private_key] done",
            ),
            (
                "card 4111 1111 1111 1111 charged",
                "card [REDACTED:card_number] charged",
            ),
            ("card 4111-1111-1111-1111.", "card [REDACTED:card_number]."),
        ] {
            assert_eq!(redacted(&r, input), expected, "{input}");
        }
    }

    #[test]
    fn lookalikes_are_left_alone() {
        let r = redactor(&[]);
        for text in [
            "order 4111 1111 1111 1112 shipped", // fails Luhn
            "trace 1714557600123456789",         // 19 digits, fails Luhn
            "tokens_used=42 basic plan",
            "GET /api/v1/orders 200 in 12ms",
            // Android's object dumps and placeholders after a secret-looking key.
            "opening app wtoken = AppWindowToken{9f4ef63 token=Token{a64f992 ActivityRecord{de9231d u0 com.example/.Main t761}}}",
            "csrf_token=null for anonymous request",
            "access_token=*** expires_in=3600",
            "password: <redacted> rejected by policy",
            "2024-05-01 10:00:00 user logged in from 10.0.0.1 as bob@example.com",
        ] {
            assert_eq!(redacted(&r, text), text, "{text}");
        }
    }

    #[test]
    fn optional_rules_and_counts() {
        let r = redactor(&["email", "ip"]);
        assert_eq!(
            redacted(
                &r,
                "from 10.0.0.1 and [2001:db8::1]:443 by bob@example.com, version 1.2.3"
            ),
            "from [REDACTED:ip] and [[REDACTED:ip]]:443 by [REDACTED:email], version 1.2.3"
        );
        assert_eq!(
            r.rules
                .iter()
                .find(|rule| rule.name == "ip")
                .unwrap()
                .count
                .get(),
            2
        );
    }

    #[test]
    fn secret_field_names() {
        let r = redactor(&[]);
        for key in [
            "password",
            "DB_PASSWORD",
            "x-api-key",
            "client.secret",
            "auth.token",
            "Authorization",
        ] {
            assert!(r.is_secret_key(key), "{key}");
        }
        for key in ["password_hash_algorithm", "tokens", "keyspace", "user"] {
            assert!(!r.is_secret_key(key), "{key}");
        }
        // The two-byte pre-check knows how every name ends.
        for key in SECRET_KEYS {
            assert!(r.is_secret_key(key), "{key}");
            assert!(
                r.is_secret_key(&format!("app.{}", key.to_uppercase())),
                "{key}"
            );
        }
    }

    #[test]
    fn custom_rules() {
        let custom = [CustomRule {
            name: "employee_id".into(),
            pattern: Regex::new(r"EMP-\d{6}").unwrap(),
        }];
        let r = Redactor::new(&[], &custom, |name| {
            IntCounter::new(format!("c_{name}"), "c").unwrap()
        })
        .unwrap();
        assert_eq!(
            redacted(&r, "badge EMP-004211 at gate"),
            "badge [REDACTED:employee_id] at gate"
        );
    }
}
