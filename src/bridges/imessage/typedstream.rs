//! Our own reader for `attributedBody`: the NSArchiver "typedstream" that holds
//! an NSAttributedString. We walk the root object's class chain and read the
//! first property, the NSString, whose value follows the `+` type. (The public
//! Rust parsers are GPL; this is written from the format notes.)
//!
//! Every read is bounds-checked: any byte string gives text or an error, never a panic.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a typedstream (bad header)")]
    Header,
    #[error("the blob ends early")]
    Truncated,
    #[error("unexpected byte {byte:#04x} at offset {at}")]
    Unexpected { byte: u8, at: usize },
    #[error("the root object is a {0}, not an attributed string")]
    NotText(String),
    #[error("the body is not valid UTF-8")]
    Utf8,
}

const HEADER: &[u8] = b"\x04\x0bstreamtyped\x81\xe8\x03";
const START: u8 = 0x84;
const NIL: u8 = 0x85;
const END: u8 = 0x86;
const I16: u8 = 0x81;
const I32: u8 = 0x82;
const FIRST_REF: u8 = 0x92;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Type strings seen so far, for back-references.
    types: Vec<&'a [u8]>,
    /// Objects and classes seen so far (`None` for objects), for back-references.
    objects: Vec<Option<&'a [u8]>>,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.bytes.get(self.at).ok_or(DecodeError::Truncated)?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).ok_or(DecodeError::Truncated)?;
        let s = self.bytes.get(self.at..end).ok_or(DecodeError::Truncated)?;
        self.at = end;
        Ok(s)
    }

    fn expect(&mut self, want: u8) -> Result<(), DecodeError> {
        let at = self.at;
        let b = self.byte()?;
        if b == want {
            Ok(())
        } else {
            Err(DecodeError::Unexpected { byte: b, at })
        }
    }

    /// A length or integer: one byte, or 0x81 + i16, or 0x82 + i32 (little-endian).
    fn int(&mut self) -> Result<usize, DecodeError> {
        let at = self.at;
        match self.byte()? {
            I16 => {
                let b = self.take(2)?;
                Ok(u16::from_le_bytes([b[0], b[1]]) as usize)
            }
            I32 => {
                let b = self.take(4)?;
                Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            }
            b if b < 0x80 => Ok(b as usize),
            b => Err(DecodeError::Unexpected { byte: b, at }),
        }
    }

    /// A shared string: new (`84 len bytes`) or a back-reference into `table`.
    fn type_string(&mut self) -> Result<&'a [u8], DecodeError> {
        let at = self.at;
        match self.byte()? {
            START => {
                let n = self.int()?;
                let s = self.take(n)?;
                self.types.push(s);
                Ok(s)
            }
            b if b >= FIRST_REF => self
                .types
                .get((b - FIRST_REF) as usize)
                .copied()
                .ok_or(DecodeError::Unexpected { byte: b, at }),
            b => Err(DecodeError::Unexpected { byte: b, at }),
        }
    }

    /// After an object's START: its class chain, most derived first.
    fn class_chain(&mut self) -> Result<Vec<&'a [u8]>, DecodeError> {
        let mut chain = Vec::new();
        loop {
            let at = self.at;
            match self.byte()? {
                // A new class: `84 84 len name version`.
                START => {
                    self.expect(START)?;
                    let n = self.int()?;
                    let name = self.take(n)?;
                    self.int()?; // class version
                    self.objects.push(Some(name));
                    chain.push(name);
                }
                NIL => return Ok(chain),
                // A class seen before: the chain continues with what is known.
                b if b >= FIRST_REF => {
                    let known = self
                        .objects
                        .get((b - FIRST_REF) as usize)
                        .copied()
                        .flatten();
                    match known {
                        Some(name) => chain.push(name),
                        None => return Err(DecodeError::Unexpected { byte: b, at }),
                    }
                    return Ok(chain);
                }
                b => return Err(DecodeError::Unexpected { byte: b, at }),
            }
        }
    }

    /// An object START and its class chain.
    fn object(&mut self) -> Result<Vec<&'a [u8]>, DecodeError> {
        self.expect(START)?;
        self.objects.push(None);
        self.class_chain()
    }
}

fn name(chain: &[&[u8]]) -> String {
    chain
        .first()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default()
}

/// The plain text of an `attributedBody` blob.
pub fn decode(blob: &[u8]) -> Result<String, DecodeError> {
    if !blob.starts_with(HEADER) {
        return Err(DecodeError::Header);
    }
    let mut r = Reader {
        bytes: blob,
        at: HEADER.len(),
        types: Vec::new(),
        objects: Vec::new(),
    };
    // The root's type is "@" (an object).
    if r.type_string()? != b"@" {
        return Err(DecodeError::NotText("non-object root".into()));
    }
    let root = r.object()?;
    if !matches!(
        root.first().copied(),
        Some(b"NSMutableAttributedString" | b"NSAttributedString")
    ) {
        return Err(DecodeError::NotText(name(&root)));
    }
    // First property: an object ("@"), the NSString holding the text.
    if r.type_string()? != b"@" {
        return Err(DecodeError::NotText(
            "attributed string without a string".into(),
        ));
    }
    let string = r.object()?;
    if !matches!(
        string.first().copied(),
        Some(b"NSMutableString" | b"NSString")
    ) {
        return Err(DecodeError::NotText(name(&string)));
    }
    if r.type_string()? != b"+" {
        return Err(DecodeError::NotText("string without UTF-8 data".into()));
    }
    let n = r.int()?;
    let text = r.take(n)?;
    r.expect(END)?;
    String::from_utf8(text.to_vec()).map_err(|_| DecodeError::Utf8)
}

/// Build a blob the way Messages writes one (both root styles), for tests and benches.
pub fn encode(text: &str, mutable_root: bool) -> Vec<u8> {
    fn len(out: &mut Vec<u8>, n: usize) {
        if n < 0x80 {
            out.push(n as u8);
        } else if n <= 0x7fff {
            out.push(I16);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        } else {
            out.push(I32);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
    }
    fn class(out: &mut Vec<u8>, name: &str, version: u8) {
        out.extend_from_slice(&[START, START, name.len() as u8]);
        out.extend_from_slice(name.as_bytes());
        out.push(version);
    }
    let mut out = HEADER.to_vec();
    out.extend_from_slice(&[START, 0x01, b'@', START]);
    if mutable_root {
        class(&mut out, "NSMutableAttributedString", 0);
    }
    class(&mut out, "NSAttributedString", 0);
    class(&mut out, "NSObject", 0);
    out.push(NIL);
    out.extend_from_slice(&[FIRST_REF, START]);
    if mutable_root {
        class(&mut out, "NSMutableString", 1);
    }
    class(&mut out, "NSString", 1);
    // Reference to NSObject: index 3 with the mutable root, 2 without.
    out.push(if mutable_root { 0x95 } else { 0x94 });
    out.extend_from_slice(&[START, 0x01, b'+']);
    len(&mut out, text.len());
    out.extend_from_slice(text.as_bytes());
    out.push(END);
    // One attribute run over the whole text (length in UTF-16 units).
    out.extend_from_slice(&[START, 0x02, b'i', b'I', 0x01]);
    len(&mut out, text.encode_utf16().count());
    out.extend_from_slice(&[END, END]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference's "Noter test" template: PREFIX + len + text + run + SUFFIX.
    fn reference_blob(text: &str) -> Vec<u8> {
        let prefix = "040b73747265616d747970656481e803840140848484194e534d757461626c65\
                      41747472696275746564537472696e67008484124e5341747472696275746564\
                      537472696e67008484084e534f626a6563740085928484840f4e534d75746162\
                      6c65537472696e67018484084e53537472696e67019584012b";
        let suffix = "928484840c4e5344696374696f6e617279009584016901928498981d5f5f6b49\
                      4d4d657373616765506172744174747269627574654e616d658692848484084e\
                      534e756d626572008484074e5356616c7565009584012a849b9b00868686";
        let len = |n: usize| -> Vec<u8> {
            if n < 0x80 {
                vec![n as u8]
            } else {
                let mut v = vec![0x81];
                v.extend_from_slice(&(n as u16).to_le_bytes());
                v
            }
        };
        let mut out = hex::decode(prefix).unwrap();
        out.extend(len(text.len()));
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(&[0x86, 0x84, 0x02, 0x69, 0x49, 0x01]);
        out.extend(len(text.encode_utf16().count()));
        out.extend(hex::decode(suffix).unwrap());
        out
    }

    #[test]
    fn decodes_the_reference_template() {
        assert_eq!(decode(&reference_blob("Noter test")).unwrap(), "Noter test");
        let bold = "𝖍𝖊𝖑𝖑𝖔 𝖜𝖔𝖗𝖑𝖉";
        assert_eq!(decode(&reference_blob(bold)).unwrap(), bold);
        let long = "x".repeat(2359);
        assert_eq!(decode(&reference_blob(&long)).unwrap(), long);
        assert_eq!(decode(&reference_blob("")).unwrap(), "");
    }

    #[test]
    fn our_encoder_matches_the_template_and_both_roots_decode() {
        // Up to the run's attribute dictionary, the bytes are Messages' own.
        let ours = encode("Noter test", true);
        let theirs = reference_blob("Noter test");
        let cut = ours.len() - 2;
        assert_eq!(ours[..cut], theirs[..cut]);
        for text in ["hi", "", "emoji 👍🏽 and 𝖜", &"long ".repeat(40_000)] {
            assert_eq!(decode(&encode(text, true)).unwrap(), text);
            assert_eq!(decode(&encode(text, false)).unwrap(), text);
        }
    }

    #[test]
    fn rejects_what_is_not_an_attributed_string() {
        assert_eq!(decode(b""), Err(DecodeError::Header));
        assert_eq!(decode(b"bplist00"), Err(DecodeError::Header));
        let mut array = HEADER.to_vec();
        array.extend_from_slice(&[START, 0x01, b'@', START, START, START, 14]);
        array.extend_from_slice(b"NSMutableArray");
        array.extend_from_slice(&[0, NIL]);
        assert!(matches!(decode(&array), Err(DecodeError::NotText(n)) if n == "NSMutableArray"));
        let blob = encode("hello", true);
        assert_eq!(
            decode(&blob[..blob.len() - 20]),
            Err(DecodeError::Truncated)
        );
        let mut bad = encode("hé", true);
        let pos = bad.windows(2).position(|w| w == "é".as_bytes()).unwrap();
        bad[pos] = 0xff;
        assert_eq!(decode(&bad), Err(DecodeError::Utf8));
    }

    proptest! {
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn never_panics_on_mangled_blobs(text in ".{0,64}", flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), cut in any::<usize>()) {
            let mut blob = encode(&text, true);
            for (i, b) in flips {
                let n = blob.len();
                blob[i % n] = b;
            }
            let keep = cut % (blob.len() + 1);
            let _ = decode(&blob[..keep]);
        }

        #[test]
        fn round_trips_any_text(text in "\\PC{0,200}", mutable in any::<bool>()) {
            prop_assert_eq!(decode(&encode(&text, mutable)).unwrap(), text);
        }
    }
}
