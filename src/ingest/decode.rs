//! Bytes to text: the encoding of a file, told by its byte-order mark, its
//! zero bytes or its bytes' statistics, and whether the result is text at all.

/// Decodes bytes to text: a BOM decides when present, then UTF-16 told by
/// its zero bytes, then strict UTF-8, then the most likely legacy encoding.
/// The decoded text is judged too: one with NUL bytes or many control
/// characters is binary, whatever encoding made it readable. Never returns
/// replacement garbage; stray control characters become spaces.
pub fn decode(bytes: &[u8]) -> Result<(String, Option<&'static str>), String> {
    let (text, legacy) = if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let text = encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom_len..])
            .ok_or_else(|| {
                format!(
                    "is not valid {} although it starts with that byte-order mark",
                    encoding.name()
                )
            })?;
        (text.into_owned(), None)
    } else if let Some(encoding) = utf16_without_bom(bytes) {
        let text = encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or_else(|| format!("looks like {} but is not valid", encoding.name()))?;
        (text.into_owned(), Some(encoding.name()))
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        (text.to_string(), None)
    } else {
        let mut detector = chardetng::EncodingDetector::new();
        detector.feed(bytes, true);
        let encoding = detector.guess(None, true);
        let text = encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or_else(|| format!("is neither UTF-8 nor valid {}", encoding.name()))?;
        (text.into_owned(), Some(encoding.name()))
    };
    Ok((text_not_binary(text)?, legacy))
}

/// Most characters a text may spend on control characters (other than
/// line breaks, tabs and form feeds) before it counts as binary.
const MAX_CONTROL_SHARE: f64 = 0.01;

fn is_stray_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c')
}

/// `text` with stray control characters as spaces, or why it is binary.
fn text_not_binary(text: String) -> Result<String, String> {
    if text.contains('\0') {
        return Err("looks like a binary file (it holds NUL bytes), not text".into());
    }
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
        let (text, _) = decode(b"a stray \x07 bell in text that is otherwise ordinary prose, long enough to count as text, which is what a paragraph is.").unwrap();
        assert!(!text.contains('\x07'));
        let le: Vec<u8> = "Plain words in UTF-16."
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(
            decode(&le).unwrap(),
            ("Plain words in UTF-16.".into(), Some("UTF-16LE"))
        );
        let be: Vec<u8> = "Plain words in UTF-16."
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(decode(&be).unwrap().1, Some("UTF-16BE"));
    }

    #[test]
    fn decodes_boms_and_legacy_encodings() {
        let utf8_bom = [&[0xEF, 0xBB, 0xBF][..], "Zażółć".as_bytes()].concat();
        assert_eq!(decode(&utf8_bom).unwrap().0, "Zażółć");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("שלום עולם".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(decode(&utf16).unwrap().0, "שלום עולם");
        let (gbk, _, _) = encoding_rs::GBK
            .encode("企业的业务目标已发生变化，如今每个人都有责任推动全组织范围的发展。");
        let (text, legacy) = decode(&gbk).unwrap();
        assert_eq!(
            text,
            "企业的业务目标已发生变化，如今每个人都有责任推动全组织范围的发展。"
        );
        assert_eq!(legacy, Some("GBK"));
        let (cp1252, _, _) =
            encoding_rs::WINDOWS_1252.encode("Café déjà vu — naïve résumé, “quoted”.");
        assert_eq!(
            decode(&cp1252).unwrap().0,
            "Café déjà vu — naïve résumé, “quoted”."
        );
        assert!(decode(b"\x00\x01\x02binary\xff")
            .unwrap_err()
            .contains("binary"));
    }
}
