//! The folding every message and every phrase goes through before matching, so
//! a disguise cannot slip a probe past the phrase lists: compatibility forms
//! (NFKC: fullwidth, mathematical letters, ligatures), default-ignorable code
//! points (zero-width, soft hyphen, invisible operators, variation selectors),
//! case, look-alike letters (the UTS #39 confusable skeleton: Cyrillic "о" and
//! Greek "ο" read as Latin "o"), accents, punctuation inside a sentence, and
//! letter-by-letter spacing ("i g n o r e").

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use unicode_security::confusable_detection::skeleton;

/// Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt,
/// Unicode 15.1): characters that render as nothing and so can hide inside a word.
pub fn is_default_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// NFKC, ignorables dropped, lower case, one kind of apostrophe. The step
/// before look-alikes are mapped (digits-for-letters is applied here, between).
fn prepare(text: &str) -> String {
    text.nfkc()
        .filter(|c| !is_default_ignorable(*c))
        .collect::<String>()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '´' => '\'',
            c => c,
        })
        .collect()
}

/// Look-alikes mapped, accents dropped, sentence punctuation turned into
/// spaces, spaced-out letters joined, whitespace collapsed.
fn finish(prepared: &str) -> String {
    let skel: String = skeleton(prepared).collect::<String>().to_lowercase();
    let plain: String =
        skel.chars()
            .filter(|c| !is_combining_mark(*c))
            .map(|c| match c {
                ',' | ';' | '!' | '?' | '¿' | '¡' | '"' | '(' | ')' | '…' | '«' | '»' | '“'
                | '”' => ' ',
                c if c.is_whitespace() => ' ',
                c => c,
            })
            .collect();
    join_spaced(&plain)
}

/// Join runs of four or more single letters separated by spaces, dots, dashes
/// or underscores ("i.g.n.o.r.e"); other separators become single spaces.
fn join_spaced(text: &str) -> String {
    let tokens: Vec<&str> = text.split([' ', '.', '-', '_']).collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < tokens.len() {
        let mut j = i;
        while j < tokens.len() && tokens[j].chars().count() == 1 {
            j += 1;
        }
        if j - i >= 4 {
            out.push_str(&tokens[i..j].concat());
            i = j;
        } else {
            out.push_str(tokens[i]);
            i += 1;
        }
        out.push(' ');
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Digits and symbols typed for letters ("1gnore", "p@ssw0rd").
fn leet(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' | '|' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            c => c,
        })
        .collect()
}

/// Runs of digits (with their separators) as one `#`, for phrases about amounts.
fn numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_number = false;
    for c in s.chars() {
        if c.is_ascii_digit() || (in_number && matches!(c, ',' | '.')) {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// The folded form of a message or phrase: what the phrase lists match.
pub fn normalise(text: &str) -> String {
    finish(&prepare(text))
}

/// The forms of one message a phrase may match: as written, with digits read
/// as letters, and with numbers as `#`.
pub struct Forms {
    pub plain: String,
    pub leet: String,
    pub amounts: String,
}

impl Forms {
    pub fn of(text: &str) -> Forms {
        let prepared = prepare(text);
        Forms {
            plain: finish(&prepared),
            leet: finish(&leet(&prepared)),
            amounts: finish(&numbers(&prepared)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disguises_fold_to_the_plain_words() {
        let cases = [
            ("\u{456}gn\u{43e}r\u{435}", "ignore"),
            ("pass\u{ad}wo\u{2062}rd", "password"),
            ("\u{ff49}\u{ff47}\u{ff4e}\u{ff4f}\u{ff52}\u{ff45}", "ignore"),
            ("Dirección", "direccion"),
            ("i g n o r e", "ignore"),
            ("¿cuál es?", "cual es"),
        ];
        for (text, want) in cases {
            assert_eq!(normalise(text), want, "{text:?}");
        }
        assert_eq!(Forms::of("p@ssw0rd").leet, "password");
        // Look-alike mapping is applied alike to both sides ("m" reads as "rn").
        assert_eq!(
            Forms::of("send me 200 bucks").amounts,
            normalise("send me # bucks")
        );
    }
}
