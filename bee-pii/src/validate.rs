//! Validators: the checks that turn a pattern-shaped candidate into a finding.
//!
//! Each function takes ASCII digits or characters that the scanner already isolated and
//! answers one question. They are public so that custom recognizers and other code can
//! use the same rules.

/// The base62 alphabet in digit order, as used by GitHub tokens and this workspace's keys.
pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether a string of ASCII digits passes the Luhn (mod 10) check.
///
/// Non-digit bytes make the check fail.
#[must_use]
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &b) in digits.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// The card network whose issuer range and length a digit string fits, if any.
///
/// Ranges follow the networks' published IIN tables: Visa 4; Mastercard 51–55 and
/// 2221–2720; American Express 34, 37; Discover 6011, 644–649, 65; Diners 300–305,
/// 3095, 36, 38, 39; JCB 3528–3589; UnionPay 62; Mir 2200–2204; Maestro 50, 56–69;
/// RuPay 60, 81, 82, 508; Troy 9792.
#[must_use]
pub fn card_network(digits: &[u8]) -> Option<&'static str> {
    let len = digits.len();
    let prefix = |n: usize| -> u32 {
        digits
            .iter()
            .take(n)
            .fold(0, |acc, &b| acc * 10 + u32::from(b.wrapping_sub(b'0')))
    };
    if !(12..=19).contains(&len) || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
    match p1 {
        4 => (matches!(len, 13 | 16 | 19)).then_some("visa"),
        2 if (2221..=2720).contains(&p4) => (len == 16).then_some("mastercard"),
        2 if (2200..=2204).contains(&p4) => (len >= 16).then_some("mir"),
        3 if p2 == 34 || p2 == 37 => (len == 15).then_some("amex"),
        3 if (3528..=3589).contains(&p4) => (len >= 16).then_some("jcb"),
        3 if (300..=305).contains(&p3) || p4 == 3095 || matches!(p2, 36 | 38 | 39) => {
            (len >= 14).then_some("diners")
        }
        5 if (51..=55).contains(&p2) => (len == 16).then_some("mastercard"),
        5 if p2 == 50 || (56..=59).contains(&p2) => (len >= 12).then_some("maestro"),
        6 if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 => {
            (len >= 16).then_some("discover")
        }
        6 if p2 == 62 => (len >= 16).then_some("unionpay"),
        6 if p2 == 60 => (len >= 16).then_some("rupay"),
        6 => (len >= 12).then_some("maestro"),
        8 if matches!(p2, 81 | 82) => (len >= 16).then_some("rupay"),
        9 if p4 == 9792 => (len == 16).then_some("troy"),
        _ => None,
    }
}

/// Whether area, group and serial form a US Social Security number that can be issued.
///
/// Rules of the Social Security Administration: no area 000, 666 or 900–999, no group 00,
/// no serial 0000; two numbers made public by mistake (078-05-1120, 219-09-9999) are
/// refused as well.
#[must_use]
pub fn ssn(area: u32, group: u32, serial: u32) -> bool {
    let area_ok = area != 0 && area != 666 && area < 900;
    let famous = (area, group, serial) == (78, 5, 1120) || (area, group, serial) == (219, 9, 9999);
    area_ok && group != 0 && group <= 99 && serial != 0 && serial <= 9999 && !famous
}

/// Whether a North American (NANP) ten-digit number has a valid area code and exchange.
///
/// Both the area code and the exchange start with 2–9.
#[must_use]
pub fn nanp(digits: &[u8]) -> bool {
    digits.len() == 10
        && digits.iter().all(u8::is_ascii_digit)
        && (b'2'..=b'9').contains(&digits[0])
        && (b'2'..=b'9').contains(&digits[3])
}

/// The country calling code at the start of an E.164 digit string and the range of
/// lengths its national number may have, if the code is assigned.
#[must_use]
pub fn e164_country(digits: &[u8]) -> Option<(usize, std::ops::RangeInclusive<usize>)> {
    let num = |n: usize| -> Option<u32> {
        let part = digits.get(..n)?;
        Some(
            part.iter()
                .fold(0, |acc, &b| acc * 10 + u32::from(b - b'0')),
        )
    };
    if digits.first().is_none_or(|&d| d == b'0') {
        return None;
    }
    if num(1) == Some(1) {
        return Some((1, 10..=10));
    }
    if num(1) == Some(7) {
        return Some((1, 10..=10));
    }
    let two = num(2)?;
    if let Some(range) = two_digit_code(two) {
        return Some((2, range));
    }
    let three = num(3)?;
    three_digit_code(three).then_some((3, 4..=12))
}

fn two_digit_code(code: u32) -> Option<std::ops::RangeInclusive<usize>> {
    let range = match code {
        44 => 9..=10,
        33 | 34 | 31 | 61 | 32 | 41 | 45 | 46 | 47 | 48 | 30 | 36 | 40 | 27 | 20 => 8..=10,
        49 => 6..=13,
        39 => 6..=11,
        43 => 6..=13,
        91 | 92 | 52 | 57 | 62 | 63 | 64 | 66 | 84 | 90 | 98 | 93 | 94 | 95 => 8..=11,
        86 | 55 | 54 | 51 | 53 | 56 | 58 | 60 | 65 | 81 | 82 => 8..=11,
        _ => return None,
    };
    Some(range)
}

fn three_digit_code(code: u32) -> bool {
    // Three-digit codes live in the zones whose two-digit prefix is not itself a code.
    let zone = code / 100;
    let spare = [
        210, 214, 215, 217, 219, 259, 292, 293, 294, 295, 296, 384, 422, 424, 425,
    ];
    matches!(zone, 2..=6 | 8 | 9)
        && two_digit_code(code / 10).is_none()
        && !spare.contains(&code)
        && !(801..=807).contains(&code)
        && !(854..=879).contains(&code)
        && !(990..=991).contains(&code)
}

/// The length an IBAN of a country must have, from the SWIFT IBAN registry.
#[must_use]
pub fn iban_length(country: [u8; 2]) -> Option<usize> {
    const TABLE: &[(&[u8; 2], u8)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BI", 27),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DJ", 27),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FK", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"LY", 25),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MN", 20),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NI", 28),
        (b"NL", 18),
        (b"NO", 15),
        (b"OM", 23),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"RU", 33),
        (b"SA", 24),
        (b"SC", 31),
        (b"SD", 18),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"SO", 23),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
        (b"YE", 30),
    ];
    TABLE
        .iter()
        .find(|(code, _)| **code == country)
        .map(|&(_, len)| usize::from(len))
}

/// Whether a compact IBAN (no spaces, upper or lower case) has its country's length and
/// passes the ISO 7064 mod-97 check.
#[must_use]
pub fn iban(compact: &[u8]) -> bool {
    if compact.len() < 15 || !compact.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let country = [
        compact[0].to_ascii_uppercase(),
        compact[1].to_ascii_uppercase(),
    ];
    if !country.iter().all(u8::is_ascii_uppercase) || !compact[2..4].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    if iban_length(country) != Some(compact.len()) {
        return false;
    }
    let rotated = compact[4..].iter().chain(&compact[..4]);
    let mut rem = 0u32;
    for &b in rotated {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b.to_ascii_uppercase() - b'A') + 10
        };
        rem = if v < 10 {
            (rem * 10 + v) % 97
        } else {
            (rem * 100 + v) % 97
        };
    }
    rem == 1
}

/// Writes a number as six base62 digits, most significant first, padded with `0`.
#[must_use]
pub fn base62_6(mut n: u32) -> [u8; 6] {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// Whether a classic GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` followed by
/// 36 base62 characters) carries a valid checksum.
///
/// The last six characters are the CRC-32 of the 30 random characters before them,
/// written in base62 (alphabet `0-9A-Za-z`, most significant digit first, left-padded
/// with `0`), as GitHub described in "Behind GitHub's new authentication token formats"
/// (github.blog, 2021-04-05) and as the public token generators and verifiers implement it
/// (for example coolaj86's base62-token gist, whose sample token is our test vector).
#[must_use]
pub fn github_classic(token: &[u8]) -> bool {
    if token.len() != 40 || !token[4..].iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    crc_base62(&token[4..34]) == token[34..40]
}

/// Whether a key in this workspace's format (`<prefix>_<12>_<43><6>`) carries the
/// CRC-32 of everything before its checksum, written as six base62 digits.
#[must_use]
pub fn workspace_key(key: &[u8]) -> bool {
    key.len() > 63 && crc_base62(&key[..key.len() - 6]) == key[key.len() - 6..]
}

fn crc_base62(data: &[u8]) -> [u8; 6] {
    base62_6(crc32fast::hash(data))
}

/// Shannon entropy of a byte string, in bits per byte.
#[must_use]
pub fn entropy(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in value {
        counts[usize::from(b)] += 1;
    }
    let len = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// Whether year, month and day form a real calendar date between 1900 and 2099.
#[must_use]
pub fn calendar_date(year: u32, month: u32, day: u32) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=2099).contains(&year) && (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_published_test_card_numbers() {
        // Test numbers published by the card networks for sandbox use.
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"378282246310005"));
        assert!(luhn(b"5555555555554444"));
        assert!(!luhn(b"4111111111111112"));
        assert!(!luhn(b""));
    }

    #[test]
    fn card_network_checks_issuer_and_length() {
        assert_eq!(card_network(b"4111111111111111"), Some("visa"));
        assert_eq!(card_network(b"2221000000000009"), Some("mastercard"));
        assert_eq!(card_network(b"378282246310005"), Some("amex"));
        assert_eq!(card_network(b"37828224631000"), None);
        assert_eq!(card_network(b"1234567812345670"), None);
    }

    #[test]
    fn ssn_rules_refuse_reserved_parts() {
        assert!(ssn(123, 45, 6789));
        assert!(!ssn(0, 45, 6789));
        assert!(!ssn(666, 45, 6789));
        assert!(!ssn(900, 45, 6789));
        assert!(!ssn(123, 0, 6789));
        assert!(!ssn(123, 45, 0));
        assert!(!ssn(78, 5, 1120));
    }

    #[test]
    fn iban_checks_length_and_mod97() {
        // Examples from the SWIFT IBAN registry.
        assert!(iban(b"GB29NWBK60161331926819"));
        assert!(iban(b"DE89370400440532013000"));
        assert!(iban(b"gb29nwbk60161331926819"));
        assert!(!iban(b"GB29NWBK60161331926818"));
        assert!(!iban(b"GB29NWBK6016133192681"));
        assert!(!iban(b"ZZ29NWBK60161331926819"));
    }

    #[test]
    fn github_checksum_matches_published_sample() {
        assert!(github_classic(b"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"));
        assert!(!github_classic(b"ghp_zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq18"));
    }

    #[test]
    fn base62_pads_to_six_digits() {
        assert_eq!(&base62_6(0), b"000000");
        assert_eq!(&base62_6(61), b"00000z");
        assert_eq!(&base62_6(62), b"000010");
        assert_eq!(&base62_6(u32::MAX), b"4gfFC3");
    }

    #[test]
    fn e164_knows_country_codes() {
        assert_eq!(e164_country(b"442083176552").map(|c| c.0), Some(2));
        assert_eq!(e164_country(b"12348891154").map(|c| c.0), Some(1));
        assert_eq!(e164_country(b"3531234567").map(|c| c.0), Some(3));
        assert!(e164_country(b"0123").is_none());
    }

    #[test]
    fn calendar_date_knows_month_lengths() {
        assert!(calendar_date(2024, 2, 29));
        assert!(!calendar_date(2023, 2, 29));
        assert!(!calendar_date(2023, 13, 1));
    }
}
