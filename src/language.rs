//! The `language` stage: the ISO 639-1 code of each paragraph's language
//! (whatlang's trigram and script detector; "und" when it cannot tell).

use rayon::prelude::*;

use crate::ingest::Paragraph;

/// The code of a paragraph whose language cannot be told.
pub const UNDETERMINED: &str = "und";

/// Fills in the language of every paragraph, in parallel.
pub fn identify(paragraphs: &mut [Paragraph]) {
    paragraphs
        .par_iter_mut()
        .for_each(|p| p.language = detect(&p.text).to_string());
}

/// The ISO 639-1 code of `text`'s language, or [`UNDETERMINED`].
pub fn detect(text: &str) -> &'static str {
    whatlang::detect_lang(text).map_or(UNDETERMINED, iso_639_1)
}

fn iso_639_1(lang: whatlang::Lang) -> &'static str {
    match lang.code() {
        "epo" => "eo",
        "eng" => "en",
        "rus" => "ru",
        "cmn" => "zh",
        "spa" => "es",
        "por" => "pt",
        "ita" => "it",
        "ben" => "bn",
        "fra" => "fr",
        "deu" => "de",
        "ukr" => "uk",
        "kat" => "ka",
        "ara" => "ar",
        "hin" => "hi",
        "jpn" => "ja",
        "heb" => "he",
        "yid" => "yi",
        "pol" => "pl",
        "amh" => "am",
        "jav" => "jv",
        "kor" => "ko",
        "nob" => "nb",
        "dan" => "da",
        "swe" => "sv",
        "fin" => "fi",
        "tur" => "tr",
        "nld" => "nl",
        "hun" => "hu",
        "ces" => "cs",
        "ell" => "el",
        "bul" => "bg",
        "bel" => "be",
        "mar" => "mr",
        "kan" => "kn",
        "ron" => "ro",
        "slv" => "sl",
        "hrv" => "hr",
        "srp" => "sr",
        "mkd" => "mk",
        "lit" => "lt",
        "lav" => "lv",
        "est" => "et",
        "tam" => "ta",
        "vie" => "vi",
        "urd" => "ur",
        "tha" => "th",
        "guj" => "gu",
        "uzb" => "uz",
        "pan" => "pa",
        "aze" => "az",
        "ind" => "id",
        "tel" => "te",
        "pes" => "fa",
        "mal" => "ml",
        "ori" => "or",
        "mya" => "my",
        "nep" => "ne",
        "sin" => "si",
        "khm" => "km",
        "tuk" => "tk",
        "aka" => "ak",
        "zul" => "zu",
        "sna" => "sn",
        "afr" => "af",
        "lat" => "la",
        "slk" => "sk",
        "cat" => "ca",
        "tgl" => "tl",
        "hye" => "hy",
        _ => UNDETERMINED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_languages_are_recognized() {
        assert_eq!(
            detect(
                "Chief marketing officers are under pressure to demonstrate measurable results."
            ),
            "en"
        );
        assert_eq!(
            detect("המנכ\"ל יכול להיות השותף הטוב ביותר של מנהל השיווק בארגון."),
            "he"
        );
        assert_eq!(
            detect("企业的业务目标已发生变化，如今每个人都有责任推动全组织范围的发展。"),
            "zh"
        );
        assert_eq!(detect("Głównym zadaniem CMO jest opracowywanie i wdrażanie kompleksowej strategii marketingowej firmy."), "pl");
        assert_eq!(
            detect("インストールの前に、ハードウェアの要件を確認してください。"),
            "ja"
        );
        assert_eq!(detect("12345 67890"), UNDETERMINED);
    }
}
