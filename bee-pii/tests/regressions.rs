//! Inputs the fuzz targets (`fuzz/`) found mishandled, kept as they were found.

#![allow(clippy::unwrap_used, missing_docs)]

use bee_pii::MessagePolicy;

#[test]
fn message_check_is_stable_when_controls_separate_a_combining_mark() {
    // Found by the `message` target: the control characters between `G` and U+030C were
    // dropped after NFKC, leaving `G` + caron uncomposed, so checking the checked text
    // again composed them to `Ǧ`.
    let policy = MessagePolicy::default();
    let input = "\0Ğ\u{fffd}\u{fffd}II\0ĞG\u{4}\u{19}\0\u{30c}\u{fffd}I";
    let checked = policy.check(input).unwrap();
    assert!(checked.text.contains('Ǧ'), "{:?}", checked.text);
    assert_eq!(checked.controls, 5);
    let again = policy.check(&checked.text).unwrap();
    assert_eq!(again.text, checked.text);
    assert_eq!(again.controls, 0);

    let short = policy.check("G\u{7}\u{30c}").unwrap();
    assert_eq!(short.text, "Ǧ");
}
