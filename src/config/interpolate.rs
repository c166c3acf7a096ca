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
//! A value containing a newline is refused: it could otherwise inject YAML structure.

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
                    match resolve(body, lookup) {
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

    #[test]
    fn columns_count_characters_not_bytes() {
        let errors = interpolate("é: ${UNSET}", env).unwrap_err();
        assert_eq!(errors[0].column, Some(4));
    }
}
