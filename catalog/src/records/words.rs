//! The words of a text as full-text search sees them: split at every character that is not a
//! letter or a digit, lower-cased, diacritics removed. These are the rules of the FTS5 tokenizer
//! SQLite's index uses (`unicode61 remove_diacritics 2`); on Postgres the loader writes each
//! row's `tsvector` from [`lexemes`] and a search asks [`tsquery`], so `q` finds the same rows
//! on both backends (Postgres' own parser would treat `Jl.`, `3.5` or `café` its own way) and
//! Postgres need not parse every row's text while loading.
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization as _;

/// Postgres' longest lexeme, in bytes; a longer word can be neither stored nor searched.
const MAX_LEXEME: usize = 2046;
/// Postgres' limit on a `tsvector`'s lexemes, in bytes (1 MiB, less a margin); the words of a
/// row past it are not indexed.
const MAX_LEXEMES_BYTES: usize = 1_000_000;

/// Appends the words of `text` to `out`, each followed by a space.
fn fold_into(text: &str, out: &mut String) {
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if word.is_ascii() {
            out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            out.extend(
                word.nfd()
                    .filter(|c| !is_combining_mark(*c))
                    .flat_map(char::to_lowercase),
            );
        }
        out.push(' ');
    }
}

/// The words of one search term (a word of `q`), folded as stored.
pub fn fold(term: &str) -> Vec<String> {
    let mut folded = String::new();
    fold_into(term, &mut folded);
    folded.split_whitespace().map(str::to_owned).collect()
}

/// The lexemes of a row's `tsvector`: the words of `texts`, sorted by bytes (Postgres' order
/// of lexemes) and each once, up to the size Postgres can hold. `scratch` holds them.
pub fn lexemes<'s, 'a>(
    texts: impl IntoIterator<Item = &'a str>,
    scratch: &'s mut String,
) -> Vec<&'s str> {
    scratch.clear();
    for t in texts {
        fold_into(t, scratch);
    }
    let mut words: Vec<&str> = scratch
        .split(' ')
        .filter(|w| !w.is_empty() && w.len() <= MAX_LEXEME)
        .collect();
    words.sort_unstable();
    words.dedup();
    let mut bytes = 0;
    let fits = words
        .iter()
        .take_while(|w| {
            bytes += w.len();
            bytes <= MAX_LEXEMES_BYTES
        })
        .count();
    words.truncate(fits);
    words
}

/// The `tsquery` that every one of `terms` matches (`'a' & 'b'`); `None` when a term is longer
/// than any stored word, so nothing can match.
pub fn tsquery(terms: &[String]) -> Option<String> {
    let mut out = String::new();
    for t in terms.iter().flat_map(|t| fold(t)) {
        if t.len() > MAX_LEXEME {
            return None;
        }
        if !out.is_empty() {
            out.push_str(" & ");
        }
        quote_lexeme(&t, &mut out);
    }
    Some(out)
}

/// A lexeme in single quotes. Letters and digits need no escape; a quote or a backslash would
/// (a backslash before it).
fn quote_lexeme(w: &str, out: &mut String) {
    out.push('\'');
    for c in w.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(texts: &[&str]) -> Vec<String> {
        let mut scratch = String::new();
        let words = lexemes(texts.iter().copied(), &mut scratch);
        words.into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn words_are_split_folded_and_stored_once() {
        assert_eq!(
            vector(&["Jl. Ahmad Yani, dekat CAFÉ", "jalan-rusak 3.5 km; café"]),
            ["3", "5", "ahmad", "cafe", "dekat", "jalan", "jl", "km", "rusak", "yani"]
        );
        assert!(vector(&["", "  ,;"]).is_empty());
        assert_eq!(fold("Ñandú"), vec!["nandu"]);
        // a word too long for Postgres is left out of the row, and a search for it finds nothing
        let long = "a".repeat(MAX_LEXEME + 1);
        assert_eq!(vector(&[&long, "b"]), ["b"]);
        assert_eq!(tsquery(&[long]), None);
        assert_eq!(
            tsquery(&["banjir".into(), "Pasar".into()]).unwrap(),
            "'banjir' & 'pasar'"
        );
    }

    #[test]
    fn a_row_with_too_many_words_keeps_what_postgres_can_hold() {
        let text: String = (0..200_000).map(|i| format!("w{i:07} ")).collect();
        let out = vector(&[&text]);
        let lexemes: usize = out.iter().map(String::len).sum();
        assert!(lexemes <= MAX_LEXEMES_BYTES, "{lexemes}");
        assert!(lexemes > MAX_LEXEMES_BYTES - 16, "{lexemes}");
    }
}
