//! The language a question is written in.

/// The language of `text` as an ISO 639-1 code (ISO 639-3 for a language without one), when
/// the detector has a guess worth acting on.
pub fn detect_language(text: &str) -> Option<String> {
    let info = whatlang::detect(text)?;
    // A question of a few words rarely reaches the detector's "reliable" mark even when its
    // guess is right; only a guess it barely prefers is dropped.
    if info.confidence() < MIN_CONFIDENCE {
        return None;
    }
    let code = info.lang().code();
    Some(iso_639_1(code).unwrap_or(code).to_string())
}

/// The language of `text` among `candidates` (ISO 639-1 codes), for a question too short for
/// the detector ("was kostet die tiefgarage pro nacht"): the candidate whose stop words it
/// uses most, when one uses clearly more than the others. Letter statistics need more text
/// than a guest types; the small words of a sentence are what tell its language then.
pub fn detect_language_among(text: &str, candidates: &[&str]) -> Option<String> {
    use unicode_segmentation::UnicodeSegmentation;
    let words: Vec<String> = text.unicode_words().map(str::to_lowercase).collect();
    // Counted over the languages guests most often write in as well, so that a question in
    // none of the candidates (French asked of an English and German collection) does not
    // pass for the candidate that shares the most small words with it.
    let mut compared: Vec<&str> = candidates.to_vec();
    compared.extend(
        COMMON_GUEST_LANGUAGES
            .iter()
            .filter(|language| !candidates.contains(language)),
    );
    let counts: Vec<(usize, &str)> = compared
        .iter()
        .map(|&language| {
            let stop_words = stop_words::lookup(language).unwrap_or_default();
            let used = words
                .iter()
                .filter(|word| stop_words.contains(&word.as_str()))
                .count();
            (used, language)
        })
        .collect();
    let (best, language) = counts
        .iter()
        .filter(|(_, language)| candidates.contains(language))
        .copied()
        .max()?;
    // Clearly ahead of the other candidates; a tie with a language that is none ("was",
    // "die" are Dutch too) still points at the candidate.
    let ahead = counts.iter().all(|&(used, other)| {
        other == language || used < best || (used == best && !candidates.contains(&other))
    });
    (best > 0 && ahead).then(|| language.to_string())
}

/// Languages with word lists that a question is also compared with (ISO 639-1).
const COMMON_GUEST_LANGUAGES: &[&str] = &["en", "de", "fr", "es", "it", "nl", "pt"];

/// The least confidence at which the detector's guess is taken.
const MIN_CONFIDENCE: f64 = 0.15;

/// The two-letter code of a language the detector names by its three-letter one.
fn iso_639_1(code: &str) -> Option<&'static str> {
    Some(match code {
        "afr" => "af",
        "amh" => "am",
        "ara" => "ar",
        "aze" => "az",
        "bel" => "be",
        "ben" => "bn",
        "bul" => "bg",
        "cat" => "ca",
        "ces" => "cs",
        "cmn" => "zh",
        "dan" => "da",
        "deu" => "de",
        "ell" => "el",
        "eng" => "en",
        "epo" => "eo",
        "est" => "et",
        "fin" => "fi",
        "fra" => "fr",
        "guj" => "gu",
        "heb" => "he",
        "hin" => "hi",
        "hrv" => "hr",
        "hun" => "hu",
        "hye" => "hy",
        "ind" => "id",
        "ita" => "it",
        "jav" => "jv",
        "jpn" => "ja",
        "kan" => "kn",
        "kat" => "ka",
        "khm" => "km",
        "kor" => "ko",
        "lat" => "la",
        "lav" => "lv",
        "lit" => "lt",
        "mal" => "ml",
        "mar" => "mr",
        "mkd" => "mk",
        "mya" => "my",
        "nep" => "ne",
        "nld" => "nl",
        "nob" => "nb",
        "ori" => "or",
        "pan" => "pa",
        "pes" => "fa",
        "pol" => "pl",
        "por" => "pt",
        "ron" => "ro",
        "rus" => "ru",
        "sin" => "si",
        "slk" => "sk",
        "slv" => "sl",
        "sna" => "sn",
        "spa" => "es",
        "srp" => "sr",
        "swe" => "sv",
        "tam" => "ta",
        "tel" => "te",
        "tgl" => "tl",
        "tha" => "th",
        "tuk" => "tk",
        "tur" => "tr",
        "ukr" => "uk",
        "urd" => "ur",
        "uzb" => "uz",
        "vie" => "vi",
        "yid" => "yi",
        "zul" => "zu",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_common_guest_languages_apart() {
        assert_eq!(
            detect_language("Um wie viel Uhr gibt es morgens Frühstück im Hotel?").as_deref(),
            Some("de")
        );
        assert_eq!(
            detect_language("朝食は何時からですか").as_deref(),
            Some("ja")
        );
        assert_eq!(
            detect_language("Ist der Pool beheizt?").as_deref(),
            Some("de")
        );
        assert_eq!(detect_language("is the pool heated").as_deref(), Some("en"));
        // Too short to tell among all languages, but not between the collection's.
        let short = "was kostet die tiefgarage pro nacht";
        assert_eq!(detect_language(short), None);
        assert_eq!(
            detect_language_among(short, &["en", "de", "fr"]).as_deref(),
            Some("de")
        );
        assert_eq!(
            detect_language_among("how much is the garage a night", &["en", "de"]).as_deref(),
            Some("en")
        );
        assert_eq!(
            detect_language_among("how much is easter sunday brunch", &["en", "de"]).as_deref(),
            Some("en")
        );
        assert_eq!(detect_language_among("casino", &["en", "de"]), None);
        assert_eq!(
            detect_language_among(
                "Combien coûte l'aller-retour en ferry pour Kelpie Island ?",
                &["en", "de"]
            ),
            None
        );
        // A code with no word list counts no words rather than failing.
        assert_eq!(
            detect_language_among(short, &["en", "de", "xx"]).as_deref(),
            Some("de")
        );
        assert_eq!(
            detect_language("¿A qué hora es el desayuno por la mañana?").as_deref(),
            Some("es")
        );
    }
}
