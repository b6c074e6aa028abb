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
        assert_eq!(
            detect_language("¿A qué hora es el desayuno por la mañana?").as_deref(),
            Some("es")
        );
    }
}
