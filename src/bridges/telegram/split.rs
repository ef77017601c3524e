//! Telegram takes at most 4,096 characters a message (counted in UTF-16
//! units, as its entities are). A longer text goes out as several messages,
//! cut at a paragraph, line, sentence or word end, never inside a character.

/// Telegram's limit for one message's text.
pub const LIMIT: usize = 4096;

/// `text` in pieces of at most `limit` UTF-16 units, each cut as late as
/// possible at the best boundary available; whitespace at the cuts is dropped.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while utf16_len(rest) > limit {
        let hard = byte_index_at_units(rest, limit);
        let cut = best_cut(&rest[..hard]).unwrap_or(hard);
        let (head, tail) = rest.split_at(cut);
        parts.push(head.trim_end().to_string());
        rest = tail.trim_start();
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest.to_string());
    }
    parts
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The byte index of the last char boundary within `units` UTF-16 units.
fn byte_index_at_units(s: &str, units: usize) -> usize {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > units {
            return i;
        }
    }
    s.len()
}

/// The end of the last paragraph, line, sentence or word in `window`
/// (the later half of it, so pieces are not tiny), as a byte index.
fn best_cut(window: &str) -> Option<usize> {
    let floor = window.len() / 2;
    let after = |pat: &str| {
        window
            .rmatch_indices(pat)
            .map(|(i, p)| i + p.len())
            .find(|&i| i > floor && i < window.len() + 1)
    };
    after("\n\n")
        .or_else(|| after("\n"))
        .or_else(|| {
            [". ", "! ", "? ", "… ", "。"]
                .iter()
                .filter_map(|p| after(p))
                .max()
        })
        .or_else(|| after(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_are_one_piece() {
        assert_eq!(split("hello", 4096), vec!["hello"]);
        assert_eq!(split("", 4096), vec![""]);
    }

    #[test]
    fn cuts_at_sentence_ends_within_the_limit() {
        let text = "One two three. Four five six. Seven eight nine.";
        let parts = split(text, 32);
        assert_eq!(
            parts,
            vec!["One two three. Four five six.", "Seven eight nine."]
        );
        for p in &parts {
            assert!(utf16_len(p) <= 32);
        }
    }

    #[test]
    fn prefers_paragraphs_then_words_then_a_hard_cut() {
        let text = format!("{}\n\n{}", "a ".repeat(30).trim(), "b ".repeat(30).trim());
        let parts = split(&text, 80);
        assert_eq!(parts.len(), 2);
        assert!(
            parts[0].ends_with('a') && parts[1].starts_with('b'),
            "{parts:?}"
        );
        let word = "x".repeat(100);
        let parts = split(&word, 40);
        assert_eq!(
            parts.iter().map(String::len).collect::<Vec<_>>(),
            [40, 40, 20]
        );
    }

    #[test]
    fn never_cuts_inside_a_character_and_counts_utf16() {
        // Each emoji is 2 UTF-16 units: 3000 of them are 6000 units.
        let text = "😀".repeat(3000);
        let parts = split(&text, LIMIT);
        assert_eq!(parts.len(), 2);
        assert_eq!(utf16_len(&parts[0]), 4096);
        assert_eq!(parts.concat(), text);
    }
}
