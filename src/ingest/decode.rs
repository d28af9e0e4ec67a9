//! Bytes to text: the encoding of a file, told by its byte-order mark, its
//! zero bytes or its bytes' statistics, and whether the result is text at all.

/// A file's text, and how it was read.
#[derive(Debug, PartialEq)]
pub struct Decoded {
    /// The text, stray control characters turned into spaces and lone
    /// carriage returns into line breaks.
    pub text: String,
    /// The legacy encoding used, where the file was not Unicode.
    pub legacy: Option<&'static str>,
    /// Bytes of an otherwise UTF-8 file that were not UTF-8, each run of
    /// them shown as U+FFFD.
    pub replaced: usize,
}

/// Decodes bytes to text: a BOM decides when present (UTF-32 included),
/// then UTF-16 told by its zero bytes, then UTF-8 (also with a few stray
/// bytes), then the most likely legacy encoding. The decoded text is judged
/// too: one with many control characters is binary, whatever encoding made
/// it readable.
pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    let mut legacy = None;
    let mut replaced = 0;
    let text = if let Some(text) = utf32_with_bom(bytes)? {
        text
    } else if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom_len..])
            .ok_or_else(|| {
                format!(
                    "is not valid {} although it starts with that byte-order mark",
                    encoding.name()
                )
            })?
            .into_owned()
    } else if let Some(encoding) = utf16_without_bom(bytes) {
        legacy = Some(encoding.name());
        encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or_else(|| format!("looks like {} but is not valid", encoding.name()))?
            .into_owned()
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        text.to_string()
    } else if let Some((text, stray)) = mostly_utf8(bytes) {
        replaced = stray;
        text
    } else {
        let mut detector = chardetng::EncodingDetector::new();
        detector.feed(bytes, true);
        let encoding = detector.guess(None, true);
        legacy = Some(encoding.name());
        encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or_else(|| format!("is neither UTF-8 nor valid {}", encoding.name()))?
            .into_owned()
    };
    Ok(Decoded {
        text: lone_returns_as_newlines(text_not_binary(text)?),
        legacy,
        replaced,
    })
}

/// UTF-32 told by its byte-order mark (which encoding_rs does not read).
fn utf32_with_bom(bytes: &[u8]) -> Result<Option<String>, String> {
    let little = match bytes {
        [0xFF, 0xFE, 0, 0, ..] => true,
        [0, 0, 0xFE, 0xFF, ..] => false,
        _ => return Ok(None),
    };
    let name = if little { "UTF-32LE" } else { "UTF-32BE" };
    let body = &bytes[4..];
    if !body.len().is_multiple_of(4) {
        return Err(format!(
            "is not valid {name}: its length is not a multiple of 4"
        ));
    }
    body.chunks_exact(4)
        .map(|c| {
            let unit = [c[0], c[1], c[2], c[3]];
            let n = if little {
                u32::from_le_bytes(unit)
            } else {
                u32::from_be_bytes(unit)
            };
            char::from_u32(n)
        })
        .collect::<Option<String>>()
        .map(Some)
        .ok_or_else(|| format!("is not valid {name} although it starts with that byte-order mark"))
}

/// A UTF-8 file with a few stray bytes (a bad copy, a cut in the middle of
/// a character): its text with each run of them as U+FFFD, and how many
/// bytes were replaced. A legacy encoding's text is invalid at nearly every
/// non-ASCII byte and has no valid multi-byte character, so it is told
/// apart by there being far more valid multi-byte characters than errors.
fn mostly_utf8(bytes: &[u8]) -> Option<(String, usize)> {
    let (mut multibyte, mut errors, mut stray) = (0usize, 0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| c.len_utf8() > 1).count();
        if !chunk.invalid().is_empty() {
            errors += 1;
            stray += chunk.invalid().len();
        }
    }
    let few = stray * 100 <= bytes.len() && multibyte >= 10 * errors;
    few.then(|| (String::from_utf8_lossy(bytes).into_owned(), stray))
}

/// Old Mac text ends lines with a lone carriage return.
fn lone_returns_as_newlines(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() != Some(&'\n') {
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

/// Most characters a text may spend on control characters (other than
/// line breaks, tabs and form feeds) before it counts as binary.
const MAX_CONTROL_SHARE: f64 = 0.01;

fn is_stray_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c')
}

/// `text` with stray control characters as spaces, or why it is binary.
fn text_not_binary(text: String) -> Result<String, String> {
    let controls = text.chars().filter(|&c| is_stray_control(c)).count();
    if controls == 0 {
        return Ok(text);
    }
    let share = controls as f64 / text.chars().count() as f64;
    if share > MAX_CONTROL_SHARE {
        return Err(format!(
            "looks like a binary file ({:.0} % control characters), not text",
            share * 100.0
        ));
    }
    Ok(text.replace(is_stray_control, " "))
}

/// UTF-16 without a byte-order mark, told by its zero bytes: text in a
/// Latin script puts a zero in every other byte, on the side the byte order
/// says.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    let pairs = sample.len() / 2;
    if pairs < 2 {
        return None;
    }
    let zeros = |offset: usize| {
        sample
            .iter()
            .skip(offset)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (even, odd) = (zeros(0), zeros(1));
    let mostly = |n: usize| n * 10 >= pairs * 6;
    let rarely = |n: usize| n * 10 <= pairs;
    if mostly(odd) && rarely(even) {
        Some(encoding_rs::UTF_16LE)
    } else if mostly(even) && rarely(odd) {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_told_by_its_control_characters_and_utf16_by_its_zeros() {
        let controls: Vec<u8> = (0..400u32).map(|i| (i % 31) as u8 + 1).collect();
        let err = decode(&controls).unwrap_err();
        assert!(err.contains("control characters"), "{err}");
        let Decoded { text, .. } = decode(b"a stray \x07 bell in text that is otherwise ordinary prose, long enough to count as text, which is what a paragraph is.").unwrap();
        assert!(!text.contains('\x07'));
        let le: Vec<u8> = "Plain words in UTF-16."
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let decoded = decode(&le).unwrap();
        assert_eq!(
            (decoded.text.as_str(), decoded.legacy),
            ("Plain words in UTF-16.", Some("UTF-16LE"))
        );
        let be: Vec<u8> = "Plain words in UTF-16."
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(decode(&be).unwrap().legacy, Some("UTF-16BE"));
    }

    #[test]
    fn decodes_boms_and_legacy_encodings() {
        let utf8_bom = [&[0xEF, 0xBB, 0xBF][..], "Zażółć".as_bytes()].concat();
        assert_eq!(decode(&utf8_bom).unwrap().text, "Zażółć");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("שלום עולם".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(decode(&utf16).unwrap().text, "שלום עולם");
        let (gbk, _, _) = encoding_rs::GBK
            .encode("企业的业务目标已发生变化，如今每个人都有责任推动全组织范围的发展。");
        let Decoded { text, legacy, .. } = decode(&gbk).unwrap();
        assert_eq!(
            text,
            "企业的业务目标已发生变化，如今每个人都有责任推动全组织范围的发展。"
        );
        assert_eq!(legacy, Some("GBK"));
        let (cp1252, _, _) =
            encoding_rs::WINDOWS_1252.encode("Café déjà vu — naïve résumé, “quoted”.");
        assert_eq!(
            decode(&cp1252).unwrap().text,
            "Café déjà vu — naïve résumé, “quoted”."
        );
        assert!(decode(b"\x00\x01\x02binary\xff")
            .unwrap_err()
            .contains("binary"));
    }

    #[test]
    fn a_few_stray_bytes_keep_utf8_and_utf32_and_old_mac_text_are_read() {
        let chinese = "企业的业务目标已发生变化，如今每个人都有责任推动全组织范围的发展。";
        let bytes = [chinese.as_bytes(), b"\xff", chinese.as_bytes()].concat();
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.legacy, None, "still UTF-8");
        assert_eq!(decoded.replaced, 1);
        assert_eq!(decoded.text, format!("{chinese}\u{FFFD}{chinese}"));
        let german = "Er erklärte, dass die Übersetzung fertig sei. ".repeat(4);
        let bytes = [german.as_bytes(), b"\xe4", german.as_bytes()].concat();
        assert!(decode(&bytes).unwrap().text.contains("erklärte"));
        assert_eq!(decode(&bytes).unwrap().replaced, 1);

        let utf32le: Vec<u8> = [0xFF, 0xFE, 0, 0]
            .into_iter()
            .chain("שלום, 世界".chars().flat_map(|c| (c as u32).to_le_bytes()))
            .collect();
        assert_eq!(decode(&utf32le).unwrap().text, "שלום, 世界");
        let utf32be: Vec<u8> = [0, 0, 0xFE, 0xFF]
            .into_iter()
            .chain("Zażółć".chars().flat_map(|c| (c as u32).to_be_bytes()))
            .collect();
        assert_eq!(decode(&utf32be).unwrap().text, "Zażółć");

        let old_mac = decode(b"First paragraph.\r\rSecond one.\r\nThird.").unwrap();
        assert_eq!(old_mac.text, "First paragraph.\n\nSecond one.\r\nThird.");
        let prose = "Text with one NUL \0 byte in the middle of a long enough line of prose, as \
                     happens when a tool pads a record it copied out of a database field.";
        let one_nul = decode(prose.as_bytes()).unwrap();
        assert!(one_nul.text.contains("one NUL   byte"));
    }
}
