//! `${VAR}` interpolation of the configuration text from the environment, so that a sidecar is
//! configured from its pod spec. Runs on the raw text before YAML parsing.
//!
//! - `${VAR}`: the value of VAR; an error if VAR is not set.
//! - `${VAR:-default}`: `default` when VAR is unset or empty.
//! - `${VAR-default}`: `default` only when VAR is unset.
//! - `$$`: a literal `$`.
//! - Full-line comments (first non-blank character `#`) are left alone, so a commented-out
//!   line never fails for a variable that is not set.
//!
//! A value is inserted so that it stays one value and cannot change the document around it:
//! - inside a double- or single-quoted scalar, it is escaped for that quoting;
//! - as a whole plain value (`password: ${PW}`, `- ${X}`, `[${A}, ${B}]`), it is written as
//!   it is when YAML would read it back unchanged (`8080`, `true`, `loki.monitoring`), and
//!   double-quoted otherwise (`hunter2 #1`, `*x`, `{a: 1}`, `a: b` stay those strings);
//! - inside a longer plain scalar (`http://${HOST}:3100`), a value YAML would read
//!   differently there is refused, with the advice to quote the scalar;
//! - in a trailing comment, it goes in as it is.
//!
//! A value containing a newline is refused whatever the context.

use super::diagnostics::Diagnostic;

/// Replaces every reference in `text`, using `lookup` for the environment.
/// Returns every problem found, not only the first.
pub fn interpolate(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<Diagnostic>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    for (line_index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        interpolate_line(line, line_index as u64 + 1, &lookup, &mut out, &mut errors);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn interpolate_line(
    line: &str,
    line_number: u64,
    lookup: &impl Fn(&str) -> Option<String>,
    out: &mut String,
    errors: &mut Vec<Diagnostic>,
) {
    let mut rest = line;
    let mut consumed_chars = 0u64;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let column = consumed_chars + rest[..dollar].chars().count() as u64 + 1;
        let after = &rest[dollar + 1..];
        let advance = if after.starts_with('$') {
            out.push('$');
            2
        } else if let Some(body_and_rest) = after.strip_prefix('{') {
            match body_and_rest.find('}') {
                Some(close) => {
                    let body = &body_and_rest[..close];
                    let start = line.len() - rest.len() + dollar;
                    let end = start + 2 + close + 1;
                    let context = context(&line[..start], &line[end..]);
                    match resolve(body, lookup).and_then(|value| insert(&value, context)) {
                        Ok(value) => out.push_str(&value),
                        Err(message) => errors.push(Diagnostic::at(
                            format!("${{{body}}}"),
                            line_number,
                            column,
                            message,
                        )),
                    }
                    2 + close + 1
                }
                None => {
                    errors.push(Diagnostic::at(
                        "${".to_owned(),
                        line_number,
                        column,
                        "unterminated `${`: expected `}` on the same line (write `$$` for a literal `$`)",
                    ));
                    rest.len() - dollar
                }
            }
        } else {
            out.push('$');
            1
        };
        consumed_chars += rest[..dollar + advance].chars().count() as u64;
        rest = &rest[dollar + advance..];
    }
    out.push_str(rest);
}

fn resolve(body: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let (name, default, empty_means_unset) = if let Some((name, default)) = body.split_once(":-") {
        (name, Some(default), true)
    } else if let Some((name, default)) = body.split_once('-') {
        (name, Some(default), false)
    } else {
        (body, None, false)
    };
    if !is_valid_name(name) {
        return Err(format!(
            "`{name}` is not a valid environment variable name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    let value = match lookup(name) {
        Some(value) if empty_means_unset && value.is_empty() => None,
        other => other,
    };
    let value = match (value, default) {
        (Some(value), _) => value,
        (None, Some(default)) => default.to_owned(),
        (None, None) => {
            return Err(format!(
                "environment variable `{name}` is not set (use `${{{name}:-default}}` to give a default)"
            ));
        }
    };
    if value.contains(['\n', '\r']) {
        return Err(format!(
            "the value of `{name}` contains a line break, which could inject configuration; refused"
        ));
    }
    Ok(value)
}

/// Where in the YAML line a reference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    DoubleQuoted,
    SingleQuoted,
    /// In a trailing comment: nothing the value holds can change the document.
    Comment,
    /// The whole of a plain scalar.
    WholeValue,
    /// Part of a longer plain scalar.
    InPlain,
}

/// The context of a reference between `before` and `after` on its line.
fn context(before: &str, after: &str) -> Context {
    let (mut double, mut single, mut escaped) = (false, false, false);
    let mut previous = ' ';
    for c in before.chars() {
        let at = previous;
        previous = c;
        match c {
            _ if escaped => escaped = false,
            '#' if !double && !single && at.is_whitespace() => return Context::Comment,
            '\\' if double => escaped = true,
            '"' if !single => double = !double,
            '\'' if !double => single = !single,
            _ => {}
        }
    }
    if double {
        return Context::DoubleQuoted;
    }
    if single {
        return Context::SingleQuoted;
    }
    let starts = before
        .trim_end()
        .chars()
        .next_back()
        .is_none_or(|c| matches!(c, ':' | '-' | '[' | '{' | ','))
        && (before.is_empty() || before.ends_with([' ', '\t', '[', '{', ',']));
    let rest = after.trim_start();
    let ends = rest.is_empty()
        || rest.starts_with(['#', ',', ']', '}'])
        || (rest.starts_with('\n') || rest.starts_with('\r'));
    if starts && ends {
        Context::WholeValue
    } else {
        Context::InPlain
    }
}

/// Whether YAML reads `value`, written plainly, back as exactly `value` (in block and flow
/// context alike).
fn reads_back_plain(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return true;
    };
    let indicator = "-?:,[]{}#&*!|>'\"%@`".contains(first);
    // A password `null` must stay the string, not become no password.
    let null = matches!(value, "~" | "null" | "Null" | "NULL");
    !indicator
        && !null
        && value.trim() == value
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.ends_with(':')
        && !value.contains(['[', ']', '{', '}', ',', '\t'])
}

/// The text to insert for `value` in `context`.
fn insert(value: &str, context: Context) -> Result<String, String> {
    Ok(match context {
        Context::DoubleQuoted => value.replace('\\', "\\\\").replace('"', "\\\""),
        Context::SingleQuoted => value.replace('\'', "''"),
        Context::Comment => value.to_owned(),
        Context::WholeValue if reads_back_plain(value) => value.to_owned(),
        Context::WholeValue => format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")),
        Context::InPlain if reads_back_plain(value) => value.to_owned(),
        Context::InPlain => {
            return Err(
                "the value has characters YAML would read differently inside this unquoted \
                 value (`: `, ` #`, brackets, a leading `*`, `&`, `!`…); put the whole value \
                 in double quotes"
                    .to_owned(),
            );
        }
    })
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "POD_NAME" => Some("checkout-7d9f".to_owned()),
            "EMPTY" => Some(String::new()),
            "MULTI" => Some("a\nb: c".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn replaces_set_variables_and_defaults() {
        let text = "pod: ${POD_NAME}\nns: ${NAMESPACE:-default}\nlevel: ${EMPTY:-info}\nkeep: ${EMPTY-x}\n";
        assert_eq!(
            interpolate(text, env).unwrap(),
            "pod: checkout-7d9f\nns: default\nlevel: info\nkeep: \n"
        );
    }

    #[test]
    fn double_dollar_is_a_literal_and_lone_dollar_passes_through() {
        assert_eq!(
            interpolate("price: $$5 and $x", env).unwrap(),
            "price: $5 and $x"
        );
    }

    #[test]
    fn full_line_comments_are_not_interpolated() {
        let text = "# token: ${UNSET}\na: 1\n";
        assert_eq!(interpolate(text, env).unwrap(), text);
    }

    #[test]
    fn reports_every_problem_with_line_and_column() {
        let text = "a: ${UNSET}\nb: ok ${MULTI}\nc: ${1BAD}\nd: ${OPEN\n";
        let errors = interpolate(text, env).unwrap_err();
        let rendered: Vec<String> = errors
            .iter()
            .map(|d| format!("{}:{} {}", d.line.unwrap(), d.column.unwrap(), d.path))
            .collect();
        assert_eq!(
            rendered,
            vec!["1:4 ${UNSET}", "2:7 ${MULTI}", "3:4 ${1BAD}", "4:4 ${"]
        );
        assert!(errors[0].message.contains("`UNSET` is not set"));
        assert!(errors[1].message.contains("line break"));
    }

    /// `text` interpolated with `VALUE` set to `value`, then read as YAML.
    fn read(text: &str, value: &str) -> serde_json::Value {
        let value = value.to_owned();
        let interpolated = interpolate(text, |name| (name == "VALUE").then(|| value.clone()))
            .unwrap_or_else(|e| panic!("{text} with {value:?}: {e:?}"));
        serde_saphyr::from_str(&interpolated).unwrap_or_else(|e| panic!("{interpolated:?}: {e}"))
    }

    #[test]
    fn a_value_stays_one_value_whatever_it_contains() {
        let hostile = [
            "hunter2 #not a comment",
            "*alias",
            "&anchor x",
            "!!binary abc",
            "{a: 1}",
            "[1, 2]",
            "a: b",
            "'quoted'",
            "\"dq\" and \\ back",
            "- item",
            "| block",
            "%TAG",
            "trailing: ",
            " spaced ",
            "null",
            "~",
            "",
        ];
        for value in hostile {
            let expected = if value.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::Value::from(value)
            };
            assert_eq!(
                read("password: ${VALUE}\n", value)["password"],
                expected,
                "{value:?}"
            );
            assert_eq!(
                read("list:\n  - ${VALUE}\n", value)["list"][0],
                expected,
                "{value:?}"
            );
            if !value.is_empty() {
                assert_eq!(
                    read("flow: [${VALUE}, x]\n", value)["flow"][0],
                    expected,
                    "{value:?}"
                );
            }
            assert_eq!(
                read("quoted: \"${VALUE}\"\n", value)["quoted"],
                serde_json::Value::from(value),
                "{value:?}"
            );
            assert_eq!(
                read("single: '${VALUE}'\n", value)["single"],
                serde_json::Value::from(value),
                "{value:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_value_reads_back_as_itself(value in "[ -~]{1,24}") {
            proptest::prop_assert_eq!(
                &read("q: \"${VALUE}\"\n", &value)["q"],
                &serde_json::Value::from(value.as_str())
            );
            proptest::prop_assert_eq!(
                &read("q: '${VALUE}'\n", &value)["q"],
                &serde_json::Value::from(value.as_str())
            );
            // Written plainly, a value may read as a number or a boolean, as it would if
            // typed in; anything else comes back as the string it was.
            if !reads_back_plain(&value) {
                proptest::prop_assert_eq!(
                    &read("q: ${VALUE}\n", &value)["q"],
                    &serde_json::Value::from(value.as_str())
                );
            }
        }
    }

    #[test]
    fn plain_values_keep_their_types_and_unsafe_parts_of_a_plain_scalar_are_refused() {
        assert_eq!(read("port: ${VALUE}\n", "9100")["port"], 9100);
        assert_eq!(read("on: ${VALUE} # comment\n", "true")["on"], true);
        assert_eq!(
            read("url: http://${VALUE}:3100/x\n", "loki.monitoring")["url"],
            "http://loki.monitoring:3100/x"
        );
        let lookup = |_: &str| Some("a #b".to_owned());
        let errors = interpolate("url: http://${VALUE}:3100\n", lookup).unwrap_err();
        assert!(errors[0].message.contains("double quotes"), "{errors:?}");
        // In a trailing comment any value goes: it cannot change the document.
        assert_eq!(read("port: 1 # from ${VALUE}\n", "{a: *x}")["port"], 1);
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let errors = interpolate("é: ${UNSET}", env).unwrap_err();
        assert_eq!(errors[0].column, Some(4));
    }
}
