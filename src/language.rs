//! The `language` stage: the ISO 639-1 code of each paragraph's language,
//! with a confidence.
//!
//! The script decides first, measured on the paragraph's letters with web
//! addresses left out: kana with Han is Japanese, Hangul Korean, Han alone
//! Chinese, and Hebrew, Greek, Thai… each name their language, however many
//! Latin names, commands and product names stand among them. Only within a
//! script that several languages share (Latin, Cyrillic, Arabic,
//! Devanagari) does whatlang's statistical detector choose, among those
//! languages alone. Then the corpus speaks: a language with only a handful
//! of low-confidence paragraphs is more likely a mistake than a new market,
//! and its paragraphs go to the best-supported language of their script.

use std::collections::HashMap;

use rayon::prelude::*;
use whatlang::{Lang, Script};

use crate::error::{Classified, Fault, Setting};
use crate::ingest::Paragraph;

/// The code of a paragraph whose language cannot be told.
pub const UNDETERMINED: &str = "und";
/// A script decides a paragraph's language when this share of its letters
/// are in it (the rest being Latin names, commands and the like).
const SCRIPT_SHARE: f64 = 0.2;
/// A language with fewer paragraphs than this share of the corpus (and at
/// least [`HANDFUL`]) is doubtful when its paragraphs are low-confidence.
const SUPPORT_SHARE: f64 = 0.01;
const HANDFUL: usize = 3;
/// Letters from which a statistical detector's confidence counts in full.
const SURE_LETTERS: usize = 120;
/// Below this confidence a paragraph of a doubtful language is reassigned.
const DOUBTFUL_CONFIDENCE: f64 = 0.9;

/// What language identification did over the corpus.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct LanguageReport {
    /// Paragraphs moved from a doubtful language to a well-supported one.
    pub reassigned: usize,
}

/// Why a language list cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}", unknown_code(.0))]
pub struct UnknownLanguage(pub String);

fn unknown_code(code: &str) -> String {
    if code.is_empty() {
        "an empty code: write the codes with commas and no spaces, e.g. en,he,zh".into()
    } else {
        format!("{code:?} is not a language code this build knows (use ISO 639-1 codes such as en, de, zh)")
    }
}

/// Whether `code` is an ISO 639-1 code of a language detection knows.
pub fn is_known_code(code: &str) -> bool {
    Lang::all().iter().any(|&l| iso_639_1(l) == code)
}

impl Classified for UnknownLanguage {
    fn fault(&self) -> Fault {
        Fault::Usage(Some(Setting::Languages))
    }
}

/// The languages detection may choose from: all, or those a user named.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    langs: Option<Vec<Lang>>,
}

impl Allowed {
    /// Parses ISO 639-1 codes (`en,de,zh`); an empty list allows all.
    pub fn parse(codes: &[String]) -> Result<Self, UnknownLanguage> {
        if codes.is_empty() {
            return Ok(Self::default());
        }
        let langs = codes
            .iter()
            .map(|code| {
                let code = code.trim().to_lowercase();
                Lang::all()
                    .iter()
                    .copied()
                    .find(|&l| iso_639_1(l) == code)
                    .ok_or(UnknownLanguage(code))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { langs: Some(langs) })
    }

    fn allows(&self, lang: Lang) -> bool {
        self.langs.as_ref().is_none_or(|l| l.contains(&lang))
    }

    fn within(&self, langs: &[Lang]) -> Vec<Lang> {
        langs.iter().copied().filter(|&l| self.allows(l)).collect()
    }
}

/// A paragraph's language and how sure the detector is (1 where the script
/// alone decides).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// The language, or `None` where nothing can be said.
    pub lang: Option<Lang>,
    /// 0 to 1.
    pub confidence: f64,
    /// The script that decided.
    pub script: Option<Script>,
}

/// Fills in the language of every paragraph, in parallel, then reassigns
/// the paragraphs of doubtful languages.
pub fn identify(paragraphs: &mut [Paragraph], allowed: &Allowed) -> LanguageReport {
    let mut detections: Vec<Detection> = paragraphs
        .par_iter()
        .map(|p| detect_with(&p.text, allowed))
        .collect();
    if allowed.langs.is_some() {
        warn_outside(paragraphs, &detections, allowed);
    }
    let reassigned = reassign_doubtful(paragraphs, &mut detections);
    for (p, d) in paragraphs.iter_mut().zip(&detections) {
        p.language = d.lang.map_or(UNDETERMINED, iso_639_1).to_string();
        p.language_confidence = d.confidence as f32;
    }
    LanguageReport { reassigned }
}

/// Share of the paragraphs that may look like languages outside
/// `--languages` before a warning says which.
const OUTSIDE_SHARE_WARNED: f64 = 0.05;

/// Warns when many paragraphs look like languages the allowed list leaves
/// out (detected without the list, and then confidently), naming them: the
/// list is then likely missing a language, and those paragraphs are
/// labelled `und` or a wrong language.
fn warn_outside(paragraphs: &[Paragraph], detections: &[Detection], allowed: &Allowed) {
    let outside: Vec<Lang> = paragraphs
        .par_iter()
        .zip(detections)
        .filter_map(|(p, restricted)| {
            let free = detect_with(&p.text, &Allowed::default());
            let lang = free.lang?;
            (free.confidence >= 0.5 && !allowed.allows(lang) && restricted.lang != Some(lang))
                .then_some(lang)
        })
        .collect();
    if (outside.len() as f64) < OUTSIDE_SHARE_WARNED * paragraphs.len() as f64 {
        return;
    }
    let mut counts: HashMap<Lang, usize> = HashMap::new();
    for lang in outside.iter() {
        *counts.entry(*lang).or_default() += 1;
    }
    let mut counts: Vec<(Lang, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(iso_639_1(a.0).cmp(iso_639_1(b.0))));
    let named: Vec<String> = counts
        .iter()
        .map(|(l, n)| format!("{} ({n})", iso_639_1(*l)))
        .collect();
    tracing::warn!(
        "{} of {} paragraphs look like languages outside --languages: {}; add them to the list \
         or those paragraphs stay `und` or take a wrong language",
        outside.len(),
        paragraphs.len(),
        named.join(", ")
    );
}

/// Which script a letter is in, for the scripts that decide a language or
/// narrow it down; `None` for other letters and for everything else.
fn script_of(c: char) -> Option<Script> {
    Some(match c as u32 {
        0x0041..=0x005A | 0x0061..=0x007A | 0x00C0..=0x024F | 0x1E00..=0x1EFF => Script::Latin,
        0x0370..=0x03FF | 0x1F00..=0x1FFF => Script::Greek,
        0x0400..=0x052F => Script::Cyrillic,
        0x0530..=0x058F => Script::Armenian,
        0x0590..=0x05FF => Script::Hebrew,
        0x0600..=0x06FF | 0x0750..=0x077F => Script::Arabic,
        0x0900..=0x097F => Script::Devanagari,
        0x0980..=0x09FF => Script::Bengali,
        0x0A00..=0x0A7F => Script::Gurmukhi,
        0x0A80..=0x0AFF => Script::Gujarati,
        0x0B00..=0x0B7F => Script::Oriya,
        0x0B80..=0x0BFF => Script::Tamil,
        0x0C00..=0x0C7F => Script::Telugu,
        0x0C80..=0x0CFF => Script::Kannada,
        0x0D00..=0x0D7F => Script::Malayalam,
        0x0D80..=0x0DFF => Script::Sinhala,
        0x0E00..=0x0E7F => Script::Thai,
        0x1000..=0x109F => Script::Myanmar,
        0x10A0..=0x10FF => Script::Georgian,
        0x1200..=0x137F => Script::Ethiopic,
        0x1780..=0x17FF => Script::Khmer,
        0x3040..=0x309F => Script::Hiragana,
        0x30A0..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Script::Katakana,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF => Script::Mandarin,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Script::Hangul,
        _ => return None,
    })
}

fn web_addresses() -> &'static regex::Regex {
    static ADDRESS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    ADDRESS.get_or_init(|| {
        regex::Regex::new(r"(?i)\b(?:https?://|www\.)\S+|\S+@\S+\.\w+").expect("valid regex")
    })
}

/// The script that decides `text`'s language: the most used script other
/// than Latin when it holds [`SCRIPT_SHARE`] of the letters, else Latin.
/// Han with kana counts as Japanese's script.
fn deciding_script(text: &str) -> Option<Script> {
    let mut counts: HashMap<Script, usize> = HashMap::new();
    for c in text.chars() {
        if let Some(script) = script_of(c) {
            // Japanese writes Han and kana together; count them as one. A
            // CJK character says about as much as three Latin letters.
            let (script, weight) = match script {
                Script::Hiragana | Script::Katakana => (Script::Katakana, 3),
                Script::Mandarin => (Script::Mandarin, 3),
                Script::Hangul => (Script::Hangul, 2),
                other => (other, 1),
            };
            *counts.entry(script).or_default() += weight;
        }
    }
    let letters: usize = counts.values().sum();
    if letters == 0 {
        return None;
    }
    let kana = counts.get(&Script::Katakana).copied().unwrap_or(0);
    if kana > 0 {
        let han = counts.remove(&Script::Mandarin).unwrap_or(0);
        *counts.entry(Script::Katakana).or_default() += han;
    }
    let other = counts
        .iter()
        .filter(|(s, _)| **s != Script::Latin)
        .max_by_key(|(s, n)| (**n, std::cmp::Reverse(s.name())));
    match other {
        Some((&script, &n)) if n as f64 >= SCRIPT_SHARE * letters as f64 => Some(script),
        _ if counts.contains_key(&Script::Latin) => Some(Script::Latin),
        _ => other.map(|(&s, _)| s),
    }
}

/// The language of `text` among the `allowed` ones (see the module notes).
pub fn detect_with(text: &str, allowed: &Allowed) -> Detection {
    let text = web_addresses().replace_all(text, " ");
    let Some(script) = deciding_script(&text) else {
        return Detection {
            lang: None,
            confidence: 0.0,
            script: None,
        };
    };
    let one = |lang: Lang| Detection {
        lang: allowed.allows(lang).then_some(lang),
        confidence: if allowed.allows(lang) { 1.0 } else { 0.0 },
        script: Some(script),
    };
    match script {
        Script::Katakana | Script::Hiragana => one(Lang::Jpn),
        Script::Mandarin => one(Lang::Cmn),
        Script::Hangul => one(Lang::Kor),
        Script::Hebrew => one(Lang::Heb),
        _ => choose(
            &own_letters(&text, script),
            script,
            &allowed.within(script.langs()),
        ),
    }
}

/// `text` with the letters of other scripts blanked: only the script's own
/// words speak, the others being names, commands and the like.
fn own_letters(text: &str, script: Script) -> String {
    text.chars()
        .map(|c| match script_of(c) {
            Some(s) if s != script => ' ',
            _ => c,
        })
        .collect()
}

/// whatlang's choice among `langs` (the languages of `script`). Its
/// confidence is scaled down on short text, where letter statistics say
/// little: full only from [`SURE_LETTERS`] letters on.
fn choose(text: &str, script: Script, langs: &[Lang]) -> Detection {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let length_factor = (letters as f64 / SURE_LETTERS as f64).min(1.0);
    let info = match langs {
        [] => None,
        [only] => Some((*only, 1.0)),
        _ => whatlang::Detector::with_allowlist(langs.to_vec())
            .detect(text)
            .map(|i| (i.lang(), i.confidence() * length_factor)),
    };
    Detection {
        lang: info.map(|(l, _)| l),
        confidence: info.map_or(0.0, |(_, c)| c),
        script: Some(script),
    }
}

/// Reassigns the paragraphs of doubtful languages (few paragraphs, low
/// confidence) to the best choice among the well-supported languages of
/// their script; returns how many moved.
fn reassign_doubtful(paragraphs: &[Paragraph], detections: &mut [Detection]) -> usize {
    let mut counts: HashMap<Lang, usize> = HashMap::new();
    for d in detections.iter() {
        if let Some(lang) = d.lang {
            *counts.entry(lang).or_default() += 1;
        }
    }
    let needed = ((detections.len() as f64 * SUPPORT_SHARE).ceil() as usize).max(HANDFUL);
    let supported: Vec<Lang> = counts
        .iter()
        .filter(|(_, &n)| n >= needed)
        .map(|(&l, _)| l)
        .collect();
    let mut moved = 0;
    for (p, d) in paragraphs.iter().zip(detections.iter_mut()) {
        let (Some(lang), Some(script)) = (d.lang, d.script) else {
            continue;
        };
        if supported.contains(&lang) || d.confidence >= DOUBTFUL_CONFIDENCE {
            continue;
        }
        let candidates: Vec<Lang> = script
            .langs()
            .iter()
            .copied()
            .filter(|l| supported.contains(l))
            .collect();
        let text = web_addresses().replace_all(&p.text, " ");
        let better = choose(&own_letters(&text, script), script, &candidates);
        if let Some(to) = better.lang {
            tracing::debug!(
                "{} paragraph {}: {} reassigned to {} (confidence {:.2})",
                p.file,
                p.number,
                iso_639_1(lang),
                iso_639_1(to),
                d.confidence
            );
            *d = better;
            moved += 1;
        }
    }
    moved
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

    fn detect(text: &str) -> &'static str {
        detect_with(text, &Allowed::default())
            .lang
            .map_or(UNDETERMINED, iso_639_1)
    }

    #[test]
    fn the_script_decides_whatever_latin_names_stand_in_it() {
        for (text, lang) in [
            ("运行 debootstrap 后，它会从 archive 直接下载所需的文件。", "zh"),
            ("本文档最初由 Bruce Perens、Sven Rudolph、Igor Grobman、James Treacy 和 Adam Di Carlo 撰写。", "zh"),
            ("이 문서는 브루스 페렌스(Bruce Perens), 스벤 루돌프(Sven Rudolph), 이고르 그로브만이 썼습니다.", "ko"),
            ("Linux является реализацией Unix. В Linux Documentation Project (LDP) собрано много документов.", "ru"),
            ("本マニュアルの plip 越しのインストールに関する節を参照してください。", "ja"),
            ("המדריך מסביר איך להתקין Debian GNU/Linux עם debootstrap ו-GRUB על המחשב.", "he"),
            ("Το Debian GNU/Linux εγκαθίσταται με τον debian-installer από ένα USB stick.", "el"),
            ("การติดตั้ง Debian GNU/Linux ทำได้จาก USB stick หรือจากเครือข่าย", "th"),
            ("يمكن تثبيت Debian GNU/Linux من قرص USB أو عبر الشبكة باستخدام debian-installer.", "ar"),
        ] {
            let d = detect_with(text, &Allowed::default());
            assert_eq!(d.lang.map(iso_639_1), Some(lang), "{text}");
        }
        assert_eq!(detect("https://example.org/path 12345"), UNDETERMINED);
    }

    #[test]
    fn a_handful_of_doubtful_paragraphs_join_the_corpus_language() {
        let russian = "Программа установки Debian загружается с USB-носителя, после чего она предлагает выбрать язык, раскладку клавиатуры и сеть.";
        let mut paragraphs: Vec<Paragraph> = (0..20)
            .map(|i| Paragraph::new("ru.txt".into(), i + 1, format!("{russian} {i}")))
            .collect();
        // Short, and alone it passes for Bulgarian.
        let short =
            "Проинициализируйте и активируйте раздел подкачки (замените номер раздела на свой):";
        assert_eq!(detect(short), "bg");
        paragraphs.push(Paragraph::new("ru.txt".into(), 21, short.into()));
        let report = identify(&mut paragraphs, &Allowed::default());
        assert!(paragraphs.iter().all(|p| p.language == "ru"));
        assert_eq!(report.reassigned, 1);
    }

    #[test]
    fn a_language_list_restricts_detection() {
        let allowed = Allowed::parse(&["en".into(), "de".into()]).unwrap();
        let d = detect_with(
            "Der Installer startet von einem USB-Stick und fragt nach der Sprache.",
            &allowed,
        );
        assert_eq!(d.lang.map(iso_639_1), Some("de"));
        let d = detect_with(
            "运行 debootstrap 后，它会从 archive 直接下载所需的文件。",
            &allowed,
        );
        assert_eq!(
            d.lang, None,
            "a script whose language is not allowed says nothing"
        );
        assert!(Allowed::parse(&["xx".into()]).is_err());
    }

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
