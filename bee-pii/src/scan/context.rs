//! Context words near a candidate: what makes a weak kind likely or a strong one unlikely.

use super::Ctx;

/// Words that make a nearby number a Social Security number.
pub(crate) const SSN_WORDS: &[&str] = &[
    "ssn",
    "social security",
    "social sec",
    "ss#",
    "ss #",
    "itin",
    "tax id",
    "taxpayer",
];
/// Words that make a nearby number a telephone number.
pub(crate) const PHONE_WORDS: &[&str] = &[
    "phone",
    "tel",
    "telephone",
    "mobile",
    "cell",
    "call",
    "text",
    "sms",
    "whatsapp",
    "fax",
    "contact",
    "reach",
    "dial",
    "ring",
    "number",
    "signal",
    "landline",
];
/// Words that make a nearby date a date of birth.
pub(crate) const BIRTH_WORDS: &[&str] = &[
    "born",
    "birth",
    "dob",
    "d.o.b",
    "birthday",
    "bday",
    "b-day",
    "date of birth",
    "geboren",
    "naissance",
    "nacimiento",
];
/// Words that make a nearby number a payment card.
pub(crate) const CARD_WORDS: &[&str] = &[
    "card",
    "visa",
    "mastercard",
    "amex",
    "credit",
    "debit",
    "cc",
    "pan",
    "payment",
    "charge",
    "paid",
    "pay",
    "billing",
];

/// Labels that say a number is an identifier of something else.
const OTHER_LABELS: &[&str] = &[
    "order",
    "tracking",
    "track",
    "reference",
    "ref",
    "invoice",
    "ticket",
    "id",
    "timestamp",
    "ts",
    "epoch",
    "serial",
    "sku",
    "isbn",
    "confirmation",
    "booking",
    "transaction",
    "txn",
    "code",
    "zip",
    "postcode",
    "room",
    "flight",
    "shipment",
    "parcel",
    "package",
    "request",
    "req",
    "build",
    "version",
    "ver",
    "release",
    "model",
    "part",
    "item",
    "product",
    "batch",
    "lot",
    "receipt",
    "claim",
    "policy",
    "member",
    "customer",
    "account",
    "acct",
    "uuid",
    "hash",
    "checksum",
    "port",
    "pid",
    "row",
    "page",
    "line",
    "step",
    "record",
    "case",
    "sn",
    "imei",
    "vin",
    "barcode",
    "upc",
    "ean",
    "awb",
    "waybill",
];

/// Labels that say a dotted number is a version, not an address.
const VERSION_LABELS: &[&str] = &[
    "version",
    "ver",
    "v",
    "release",
    "build",
    "firmware",
    "upgrade",
    "upgrading",
    "upgraded",
    "update",
    "updating",
    "updated",
    "patch",
    "app",
    "oid",
    "revision",
    "rev",
    "sdk",
    "api",
    "downgrade",
    "downgraded",
    "downgrading",
    "hotfix",
    "kernel",
    "driver",
    "fw",
    "rollback",
    "versions",
    "releases",
    "builds",
];

/// Whether one of `words` starts a word within `window` bytes before `pos`, or within
/// `after` bytes after `end`. ASCII case is ignored.
pub(crate) fn near(
    ctx: &Ctx<'_>,
    pos: usize,
    end: usize,
    window: usize,
    after: usize,
    words: &[&str],
) -> bool {
    let from = pos.saturating_sub(window);
    if contains_word(&ctx.text[from..pos], words) {
        return true;
    }
    if end + after > ctx.text.len() {
        // The words after may not have arrived yet: say so to the streaming scanner.
        ctx.byte(ctx.text.len());
    }
    let stop = (end + after).min(ctx.text.len());
    end < stop && contains_word(&ctx.text[end..stop], words)
}

/// The nearest one or two words before `pos` (within 40 bytes), lower-cased.
pub(crate) fn labels_before(ctx: &Ctx<'_>, pos: usize) -> [[u8; 16]; 2] {
    let from = pos.saturating_sub(40);
    let window = &ctx.text[from..pos];
    let mut words = [[0u8; 16]; 2];
    let mut found = 0;
    let mut i = window.len();
    while found < 2 && i > 0 {
        // Skip what is between words: spaces, '#', ':', digits, punctuation.
        while i > 0 && !window[i - 1].is_ascii_alphabetic() {
            if window[i - 1] == b'\n' || window[i - 1] == b'.' && found > 0 {
                return words;
            }
            i -= 1;
        }
        let end = i;
        while i > 0 && window[i - 1].is_ascii_alphabetic() {
            i -= 1;
        }
        if end > i {
            let word = &window[i..end];
            let slot = &mut words[found];
            for (d, s) in slot.iter_mut().zip(word.iter()) {
                *d = s.to_ascii_lowercase();
            }
            if word.len() >= slot.len() {
                slot[slot.len() - 1] = b'~';
            }
            found += 1;
        }
    }
    words
}

/// Whether the nearest words before `pos` label the number as something else (an order,
/// a tracking number, a timestamp).
pub(crate) fn labelled_other(ctx: &Ctx<'_>, pos: usize) -> bool {
    label_in(ctx, pos, OTHER_LABELS)
}

/// Whether the nearest words before `pos` say that a dotted number is a version.
pub(crate) fn labelled_version(ctx: &Ctx<'_>, pos: usize) -> bool {
    label_in(ctx, pos, VERSION_LABELS)
}

fn label_in(ctx: &Ctx<'_>, pos: usize, labels: &[&str]) -> bool {
    labels_before(ctx, pos).iter().any(|w| {
        let len = w.iter().position(|&b| b == 0).unwrap_or(w.len());
        len > 0 && labels.iter().any(|l| l.as_bytes() == &w[..len])
    })
}

fn contains_word(hay: &[u8], words: &[&str]) -> bool {
    // Visit each word start once and compare only the listed words that fit there.
    let mut prev_alpha = false;
    for (i, &b) in hay.iter().enumerate() {
        let alpha = b.is_ascii_alphabetic();
        let first = b.to_ascii_lowercase();
        let starts = |w: &&&str| w.as_bytes().first() == Some(&first);
        if alpha
            && !prev_alpha
            && words
                .iter()
                .filter(starts)
                .any(|w| word_at(hay, i, w.as_bytes()))
        {
            return true;
        }
        prev_alpha = alpha;
    }
    false
}

fn word_at(hay: &[u8], i: usize, word: &[u8]) -> bool {
    let Some(part) = hay.get(i..i + word.len()) else {
        return false;
    };
    part.eq_ignore_ascii_case(word)
        && hay
            .get(i + word.len())
            .is_none_or(|b| !b.is_ascii_alphabetic() || word.len() > 3)
}
