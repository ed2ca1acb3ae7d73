use super::*;

const EXAMPLE: &str = include_str!("../../../fixtures/profiles/example.toml");

#[test]
fn the_example_profile_parses_and_round_trips_as_json() {
    let p = Profile::from_toml(EXAMPLE).unwrap();
    assert_eq!(p.model.as_deref(), Some("default"));
    assert_eq!(p.chunk.max_tokens, Some(200));
    assert_eq!(p.ocr.mode, Some(OcrModeOpt::Auto));
    assert_eq!(p.pii.mode, PiiMode::Redact);
    assert_eq!(p.pii.custom[0].name, "employee_id");
    assert_eq!(p.retention.days, Some(90));
    assert_eq!(Profile::from_json(&p.to_json()).unwrap(), p);
    assert_eq!(Profile::from_toml("").unwrap(), Profile::default());
    assert_eq!(Profile::default().to_json(), "{}");
}

#[test]
fn unknown_keys_are_refused_by_name() {
    for (toml, key) in [
        ("colour = 1", "colour"),
        ("[chunk]\nmax_token = 100", "max_token"),
        (
            "[pii]\nmode = \"redact\"\nredact_names = true",
            "redact_names",
        ),
        (
            "[[pii.custom]]\nname = \"x\"\npattern = \"a\"\nflags = \"i\"",
            "flags",
        ),
        ("[retention]\nweeks = 2", "weeks"),
    ] {
        let err = Profile::from_toml(toml).unwrap_err().to_string();
        assert!(err.contains(key), "{toml:?}: {err}");
    }
    let err = Profile::from_json(r#"{"limits":{"max_bytes":1}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_bytes"), "{err}");
}

#[test]
fn invalid_values_are_refused_with_the_setting_named() {
    for (toml, needle) in [
        ("model = \"Big Model\"", "model"),
        (
            "[chunk]\nmax_tokens = 100\noverlap_tokens = 100",
            "overlap_tokens",
        ),
        ("[ocr]\nlanguages = \"eng+\"", "ocr.languages"),
        ("[ocr]\nmode = \"sometimes\"", "sometimes"),
        (
            "[sources]\nallowed_prefixes = [\"http://x/\"]",
            "allowed_prefixes",
        ),
        ("[limits]\nmax_pages = 0", "max_pages"),
        ("[retention]\ndays = 0", "retention.days"),
        ("[webhook]\nurl = \"ftp://x\"", "webhook.url"),
        ("[webhook]\nsecret = \"short\"", "webhook.secret"),
        ("[pii]\nmode = \"scrub\"", "scrub"),
        (
            "[[pii.custom]]\nname = \"bad\"\npattern = \"(\"",
            "pii.custom",
        ),
    ] {
        let err = format!("{:#}", Profile::from_toml(toml).unwrap_err());
        assert!(err.contains(needle), "{toml:?}: {err}");
    }
}

#[test]
fn shown_profiles_hide_the_webhook_secret() {
    let p = Profile::from_toml(EXAMPLE).unwrap();
    let shown = serde_json::to_string(&p.redacted()).unwrap();
    assert!(!shown.contains("change-me"), "{shown}");
    assert!(shown.contains("***"), "{shown}");
}

#[test]
fn source_prefixes_allow_only_what_they_name() {
    let p = Profile::from_toml(EXAMPLE).unwrap();
    assert!(p.allows_source("s3://inbox/acme/a.pdf"));
    assert!(!p.allows_source("s3://inbox/globex/a.pdf"));
    assert!(Profile::default().allows_source("s3://anything/x"));
}
