//! Detector behaviour that the corpus does not pin down: profiles, weak kinds, dates of
//! birth, lists and custom recognizers.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use bee_pii::{Detector, Kind, Profile};

fn kinds(d: &Detector, text: &str) -> Vec<(String, String)> {
    d.detect(text)
        .iter()
        .map(|x| (x.kind.name().to_owned(), x.text(text).to_owned()))
        .collect()
}

fn pair(kind: &str, text: &str) -> (String, String) {
    (kind.to_owned(), text.to_owned())
}

#[test]
fn weak_kinds_need_context_except_in_strict() {
    let moderate = Detector::default();
    let strict = Detector::preset("strict").unwrap();
    assert!(moderate.detect("ref 262682755 and 4155550123").is_empty());
    assert_eq!(
        kinds(&strict, "see 262682755 and 4155550123"),
        vec![pair("ssn", "262682755"), pair("phone", "4155550123")]
    );
    let weak = strict.detect("see 262682755");
    assert!(weak[0].confidence < 0.5);
}

#[test]
fn dates_of_birth_need_birth_words_and_the_kind_enabled() {
    let strict = Detector::preset("strict").unwrap();
    assert_eq!(
        kinds(&strict, "born on 1990-05-14 in Rome"),
        vec![pair("date_of_birth", "1990-05-14")]
    );
    assert_eq!(
        kinds(&strict, "DOB: 14 May 1990"),
        vec![pair("date_of_birth", "14 May 1990")]
    );
    assert_eq!(
        kinds(&strict, "my birthday is May 14, 1990"),
        vec![pair("date_of_birth", "May 14, 1990")]
    );
    assert!(strict.detect("meeting on 1990-05-14").is_empty());
    assert!(Detector::default().detect("born on 1990-05-14").is_empty());
}

#[test]
fn minimal_profile_finds_only_secrets_cards_and_ssns() {
    let minimal = Detector::preset("minimal").unwrap();
    let text = "a@example.com (462) 320-8117 4111 1111 1111 1111 SSN 262-68-2755";
    assert_eq!(
        kinds(&minimal, text),
        vec![
            pair("credit_card", "4111 1111 1111 1111"),
            pair("ssn", "262-68-2755")
        ]
    );
}

#[test]
fn allow_list_silences_a_value_and_deny_list_adds_one() {
    let profile = Profile::from_yaml(
        "allow: [help@example.com]\ndeny: [{value: Project Bluebird, kind: codename}]\n",
    )
    .unwrap();
    let d = Detector::new(&profile).unwrap();
    let text = "ask help@example.com or me@example.com about project bluebird";
    assert_eq!(
        kinds(&d, text),
        vec![
            pair("email", "me@example.com"),
            pair("codename", "project bluebird")
        ]
    );
}

#[test]
fn custom_recognizer_with_validator_reports_its_kind() {
    let profile = Profile::from_yaml(
        "recognizers:\n  - {kind: employee_id, pattern: 'EMP-[0-9]{6}', score: 0.9}\n  - {kind: loyalty, pattern: '\\bL[0-9]{8}\\b', validator: luhn}\n",
    )
    .unwrap();
    let d = Detector::new(&profile).unwrap();
    let found = d.detect("EMP-123456 and L79927398 and L79927397");
    let names: Vec<_> = found.iter().map(|x| x.kind.clone()).collect();
    assert_eq!(
        names,
        vec![
            "employee_id".parse::<Kind>().unwrap(),
            "loyalty".parse().unwrap()
        ]
    );
    assert_eq!(found[0].confidence, 0.9);
}

#[test]
fn card_wins_over_phone_and_email_wins_inside_a_url() {
    let d = Detector::default();
    assert_eq!(
        kinds(&d, "4111111111111111"),
        vec![pair("credit_card", "4111111111111111")]
    );
    assert_eq!(
        kinds(&d, "https://x.io/?e=a@example.com"),
        vec![pair("email", "a@example.com")]
    );
}

#[test]
fn spans_point_into_the_original_text() {
    let d = Detector::default();
    let text = "é card ４１１１ １１１１ １１１１ １１１１!";
    let found = d.detect(text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].text(text), "４１１１ １１１１ １１１１ １１１１");
}

#[test]
fn server_types_can_be_shared_between_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Detector>();
    shared::<bee_pii::Redactor>();
    shared::<bee_pii::Vault>();
    shared::<bee_pii::MessagePolicy>();
    fn sendable<T: Send + 'static>() {}
    sendable::<bee_pii::StreamRedactor>();
}
