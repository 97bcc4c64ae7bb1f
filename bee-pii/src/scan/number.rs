//! Numbers: cards, Social Security numbers, phones, IPv4 addresses, IBANs, dates of birth.
//!
//! At the first digit of a number the matcher reads groups of digits joined by the
//! separators people type (spaces, `-`, `.`, `/`, parentheses) and then tries, from the
//! longest run of groups to the shortest, the shapes that can be validated.

use super::context::{self, BIRTH_WORDS, CARD_WORDS, PHONE_WORDS, SSN_WORDS};
use super::{Candidate, Ctx, is_alnum, is_word, net};
use crate::kind::Kind;
use crate::validate;

const MAX_GROUPS: usize = 8;
const MAX_DIGITS: usize = 24;

/// Groups of digits and the separators between them.
struct Token {
    start: usize,
    plus: bool,
    paren: bool,
    groups: [(usize, usize); MAX_GROUPS],
    seps: [(usize, usize); MAX_GROUPS],
    n: usize,
    glued: bool,
}

impl Token {
    fn len(&self, i: usize) -> usize {
        self.groups[i].1 - self.groups[i].0
    }

    fn end(&self, k: usize) -> usize {
        self.groups[k - 1].1
    }

    fn sep<'t>(&self, ctx: &Ctx<'t>, i: usize) -> &'t [u8] {
        let (a, b) = self.seps[i];
        &ctx.text[a..b]
    }

    fn lens(&self, k: usize) -> ([usize; MAX_GROUPS], usize) {
        let mut lens = [0; MAX_GROUPS];
        for (i, l) in lens.iter_mut().enumerate().take(k) {
            *l = self.len(i);
        }
        (lens, k)
    }

    fn digits(&self, ctx: &Ctx<'_>, k: usize, buf: &mut [u8; 32]) -> usize {
        let mut n = 0;
        for &(a, b) in &self.groups[..k] {
            for &d in &ctx.text[a..b] {
                if n < buf.len() {
                    buf[n] = d;
                    n += 1;
                }
            }
        }
        n
    }

    /// Whether the separators between the first `k` groups are all `sep`, and the one
    /// after them (if any) is not.
    fn seps_all(&self, ctx: &Ctx<'_>, k: usize, sep: &[u8]) -> bool {
        (0..k - 1).all(|i| self.sep(ctx, i) == sep) && (k >= self.n || self.sep(ctx, k - 1) != sep)
    }

    fn seps_spaces(&self, ctx: &Ctx<'_>, k: usize) -> bool {
        (0..k - 1).all(|i| self.sep(ctx, i).iter().all(|&b| b == b' '))
    }
}

/// Handles a digit; returns where scanning goes on.
pub(crate) fn at_digit(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    let prev = ctx.before(p, 1);
    let prev2 = ctx.before(p, 2);
    if is_word(prev) || (matches!(prev, b'-' | b'.' | b',') && is_alnum(prev2)) {
        return inside_word(ctx, p, out);
    }
    if is_currency(ctx, p) {
        return p + ctx.run(p, 64, |b| b.is_ascii_digit() || b == b',' || b == b'.');
    }
    let tok = parse(ctx, p);
    if tok.glued {
        if let Some(end) = net::mac_around(ctx, p, out) {
            return end;
        }
        let end = tok.end(tok.n);
        return end + ctx.run(end, 4096, |b| is_word(b) || b == b'@' || b == b',');
    }
    for k in (1..=tok.n).rev() {
        if let Some(next) = classify(ctx, &tok, k, out) {
            return next;
        }
    }
    tok.groups[0].1
}

/// A digit inside a word: an IBAN's check digits, a MAC address, or an identifier.
fn inside_word(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    let (c1, c2, c0) = (ctx.before(p, 2), ctx.before(p, 1), ctx.before(p, 3));
    let country = c1.is_ascii_uppercase() && c2.is_ascii_uppercase() && !is_word(c0);
    if country
        && ctx.on(&Kind::Iban)
        && let Some(end) = iban(ctx, p - 2, out)
    {
        return end;
    }
    if let Some(end) = net::mac_around(ctx, p, out) {
        return end;
    }
    p + ctx.run(p, 4096, is_word)
}

fn is_currency(ctx: &Ctx<'_>, p: usize) -> bool {
    let prev = ctx.before(p, 1);
    // '$', and the UTF-8 tails of '£', '¥' (C2 A3, C2 A5) and '€' (E2 82 AC).
    prev == b'$'
        || (ctx.before(p, 2) == 0xC2 && matches!(prev, 0xA3 | 0xA5))
        || (prev == 0xAC && ctx.before(p, 2) == 0x82 && ctx.before(p, 3) == 0xE2)
}

fn parse(ctx: &Ctx<'_>, p: usize) -> Token {
    let plus = ctx.before(p, 1) == b'+' && !is_word(ctx.before(p, 2));
    let paren = ctx.before(p, 1) == b'(';
    let start = if plus || paren { p - 1 } else { p };
    let mut tok = Token {
        start,
        plus,
        paren,
        groups: [(0, 0); MAX_GROUPS],
        seps: [(0, 0); MAX_GROUPS],
        n: 0,
        glued: false,
    };
    let mut i = p;
    let mut total = 0;
    loop {
        let len = ctx.run(i, MAX_DIGITS + 1, |b| b.is_ascii_digit());
        if tok.n > 0 && total + len > MAX_DIGITS {
            // Too many digits for one number: end before this group, at its separator.
            i = tok.groups[tok.n - 1].1;
            break;
        }
        tok.groups[tok.n] = (i, i + len);
        tok.n += 1;
        i += len;
        total += len;
        if tok.n == MAX_GROUPS || total > MAX_DIGITS {
            break;
        }
        let s = ctx.run(i, 4, |b| {
            matches!(b, b' ' | b'-' | b'.' | b'/' | b'(' | b')')
        });
        if s == 0 || !ctx.byte(i + s).is_ascii_digit() || !separator(&ctx.text[i..i + s]) {
            break;
        }
        tok.seps[tok.n - 1] = (i, i + s);
        i += s;
    }
    let after = ctx.byte(i);
    tok.glued = total > MAX_DIGITS
        || is_word(after)
        || after == b'@'
        || (after == b',' && ctx.byte(i + 1).is_ascii_digit());
    tok
}

/// Separators between digit groups: spaces, one of `-./`, one parenthesis.
fn separator(sep: &[u8]) -> bool {
    let marks = sep
        .iter()
        .filter(|&&b| matches!(b, b'-' | b'.' | b'/'))
        .count();
    let parens = sep.iter().filter(|&&b| matches!(b, b'(' | b')')).count();
    let spaces = sep.len() - marks - parens;
    marks <= 1 && parens <= 1 && (spaces <= 3) && !(marks == 1 && parens == 0 && spaces > 2)
}

/// Tries the shapes on the first `k` groups; returns where scanning goes on if one fits.
fn classify(ctx: &Ctx<'_>, tok: &Token, k: usize, out: &mut Vec<Candidate>) -> Option<usize> {
    let end = tok.end(k);
    let mut buf = [0u8; 32];
    let nd = tok.digits(ctx, k, &mut buf);
    let digits = &buf[..nd];
    let (lens, _) = tok.lens(k);
    let lens = &lens[..k];
    let plain = !tok.plus && !tok.paren;

    if plain && k == 4 && tok.seps_all(ctx, 4, b".") && lens.iter().all(|&l| l <= 3) {
        ipv4(ctx, tok, digits, lens, out);
        return Some(end);
    }
    if plain && k == 3 && date(ctx, tok, digits, lens, out) {
        return Some(end);
    }
    if plain && k == 3 && lens == [3, 2, 4] {
        for sep in [&b"-"[..], b" "] {
            if tok.seps_all(ctx, 3, sep) {
                ssn_formatted(ctx, tok, digits, sep, out);
                return Some(end);
            }
        }
    }
    if plain
        && (13..=19).contains(&nd)
        && card_grouping(ctx, tok, k, lens)
        && card(ctx, tok, k, digits, out)
    {
        return Some(end);
    }
    if phone(ctx, tok, k, digits, lens, out) {
        return Some(end);
    }
    if plain && k == 1 && tok.n == 1 {
        if nd == 9 {
            ssn_bare(ctx, tok, digits, out);
            return Some(end);
        }
        if (1..=2).contains(&nd)
            && ctx.on(&Kind::DateOfBirth)
            && let Some(e) = written_date(ctx, tok, digits, out)
        {
            return Some(e);
        }
    }
    None
}

fn num(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    })
}

fn ipv4(ctx: &Ctx<'_>, tok: &Token, digits: &[u8], lens: &[usize], out: &mut Vec<Candidate>) {
    let mut at = 0;
    let mut padded = false;
    for &l in lens {
        let octet = &digits[at..at + l];
        if num(octet) > 255 {
            return;
        }
        // `010.001.002.003` is still an address in many logs, if a less certain one.
        padded |= l > 1 && octet[0] == b'0';
        at += l;
    }
    if context::labelled_version(ctx, tok.start) {
        return;
    }
    let confidence = if padded { 0.6 } else { 0.85 };
    ctx.push(out, Kind::IpAddress, tok.start, tok.end(4), confidence);
}

/// Numeric dates. Only a date next to birth words is reported; any date is consumed so
/// that it is not read as something else.
fn date(
    ctx: &Ctx<'_>,
    tok: &Token,
    digits: &[u8],
    lens: &[usize],
    out: &mut Vec<Candidate>,
) -> bool {
    let sep = tok.sep(ctx, 0);
    if !matches!(sep, b"-" | b"/" | b".") || !tok.seps_all(ctx, 3, sep) {
        return false;
    }
    let (a, b, c) = (
        num(&digits[..lens[0]]),
        num(&digits[lens[0]..lens[0] + lens[1]]),
        num(&digits[lens[0] + lens[1]..]),
    );
    let valid = match (lens[0], lens[1], lens[2]) {
        (4, 1..=2, 1..=2) => validate::calendar_date(a, b, c),
        (1..=2, 1..=2, 4) => validate::calendar_date(c, b, a) || validate::calendar_date(c, a, b),
        (1..=2, 1..=2, 2) => {
            let year = if c > 30 { 1900 + c } else { 2000 + c };
            let ok = validate::calendar_date(year, b, a) || validate::calendar_date(year, a, b);
            ok && birth_context(ctx, tok.start, tok.end(3))
        }
        _ => return false,
    };
    if valid && birth_context(ctx, tok.start, tok.end(3)) {
        ctx.push(out, Kind::DateOfBirth, tok.start, tok.end(3), 0.8);
    }
    valid
}

fn birth_context(ctx: &Ctx<'_>, start: usize, end: usize) -> bool {
    ctx.on(&Kind::DateOfBirth) && context::near(ctx, start, end, 40, 24, BIRTH_WORDS)
}

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

/// "14 May 1990" and "May 14, 1990" next to birth words.
fn written_date(ctx: &Ctx<'_>, tok: &Token, day: &[u8], out: &mut Vec<Candidate>) -> Option<usize> {
    let day = num(day);
    if !(1..=31).contains(&day) {
        return None;
    }
    let end = tok.end(1);
    // Day first: "14 May 1990".
    if ctx.byte(end) == b' ' {
        let m = ctx.run(end + 1, 9, |b| b.is_ascii_alphabetic());
        if month(&ctx.text[end + 1..end + 1 + m]).is_some()
            && let Some(e) = year_after(ctx, end + 1 + m)
        {
            return push_date(ctx, tok.start, e, out);
        }
    }
    // Month first: "May 14, 1990".
    if ctx.before(tok.start, 1) == b' ' {
        let m = ctx.run_back(tok.start - 1, 9, |b| b.is_ascii_alphabetic());
        let word = &ctx.text[tok.start - 1 - m..tok.start - 1];
        if m > 0
            && month(word).is_some()
            && let Some(e) = year_after(ctx, end)
        {
            return push_date(ctx, tok.start - 1 - m, e, out);
        }
    }
    None
}

fn push_date(ctx: &Ctx<'_>, start: usize, end: usize, out: &mut Vec<Candidate>) -> Option<usize> {
    if !birth_context(ctx, start, end) {
        return Some(end);
    }
    ctx.push(out, Kind::DateOfBirth, start, end, 0.8);
    Some(end)
}

fn month(word: &[u8]) -> Option<usize> {
    MONTHS
        .iter()
        .position(|m| m.as_bytes().eq_ignore_ascii_case(word))
}

fn year_after(ctx: &Ctx<'_>, mut i: usize) -> Option<usize> {
    if ctx.byte(i) == b',' {
        i += 1;
    }
    if ctx.byte(i) != b' ' {
        return None;
    }
    let y = ctx.run(i + 1, 5, |b| b.is_ascii_digit());
    let year = num(&ctx.text[i + 1..i + 1 + y]);
    (y == 4 && (1900..=2099).contains(&year) && !is_word(ctx.byte(i + 1 + y))).then_some(i + 1 + y)
}

fn ssn_formatted(ctx: &Ctx<'_>, tok: &Token, digits: &[u8], sep: &[u8], out: &mut Vec<Candidate>) {
    if !validate::ssn(num(&digits[..3]), num(&digits[3..5]), num(&digits[5..])) {
        return;
    }
    let end = tok.end(3);
    let named = context::near(ctx, tok.start, end, 48, 16, SSN_WORDS);
    let mut confidence = if sep == b"-" { 0.85 } else { 0.6 };
    if named {
        confidence += 0.1;
    } else if context::labelled_other(ctx, tok.start) {
        confidence = 0.25;
    }
    ctx.push(out, Kind::Ssn, tok.start, end, confidence);
}

fn ssn_bare(ctx: &Ctx<'_>, tok: &Token, digits: &[u8], out: &mut Vec<Candidate>) {
    if !validate::ssn(num(&digits[..3]), num(&digits[3..5]), num(&digits[5..])) {
        return;
    }
    let end = tok.end(1);
    if context::near(ctx, tok.start, end, 48, 16, SSN_WORDS) {
        ctx.push(out, Kind::Ssn, tok.start, end, 0.7);
    } else if !context::labelled_other(ctx, tok.start) && ctx.before(tok.start, 1) != b'#' {
        ctx.push(out, Kind::Ssn, tok.start, end, 0.35);
    }
}

fn card_grouping(ctx: &Ctx<'_>, tok: &Token, k: usize, lens: &[usize]) -> bool {
    if k == 1 {
        return true;
    }
    let same_mark = [&b"-"[..], b"."]
        .iter()
        .any(|s| (0..k - 1).all(|i| tok.sep(ctx, i) == *s));
    if !(same_mark || tok.seps_spaces(ctx, k)) {
        return false;
    }
    let fours = k >= 3 && lens[..k - 1].iter().all(|&l| l == 4) && (1..=4).contains(&lens[k - 1]);
    fours || matches!(lens, [4, 6, 5] | [4, 6, 4] | [4, 4, 5])
}

fn card(ctx: &Ctx<'_>, tok: &Token, k: usize, digits: &[u8], out: &mut Vec<Candidate>) -> bool {
    if !validate::luhn(digits) || validate::card_network(digits).is_none() {
        return false;
    }
    let end = tok.end(k);
    let named = context::near(ctx, tok.start, end, 48, 0, CARD_WORDS);
    let confidence = if !named && context::labelled_other(ctx, tok.start) {
        0.3
    } else {
        0.95
    };
    ctx.push(out, Kind::CreditCard, tok.start, end, confidence);
    true
}

fn phone(
    ctx: &Ctx<'_>,
    tok: &Token,
    k: usize,
    digits: &[u8],
    lens: &[usize],
    out: &mut Vec<Candidate>,
) -> bool {
    let end = tok.end(k);
    let named = || context::near(ctx, tok.start, end, 48, 24, PHONE_WORDS);
    let other = || context::labelled_other(ctx, tok.start);
    if tok.plus {
        return e164(ctx, tok, k, digits, out);
    }
    let sep = |i: usize| tok.sep(ctx, i);
    let formatted = match lens {
        [3, 3, 4] if tok.paren => {
            let ok = matches!(sep(0), b")" | b") ") && matches!(sep(1), b"-" | b" " | b".");
            ok.then_some(0.85)
        }
        [3, 3, 4] => match (sep(0), sep(1)) {
            (b"-", b"-") => Some(0.85),
            (b".", b".") | (b" ", b" ") => Some(0.6),
            _ => None,
        },
        [1, 3, 3, 4] if digits[0] == b'1' && !tok.paren => {
            (tok.seps_all(ctx, 4, b"-") || tok.seps_all(ctx, 4, b" ") || matches!(sep(0), b" ("))
                .then_some(0.8)
        }
        _ => None,
    };
    if let Some(base) = formatted {
        let national = &digits[digits.len() - 10..];
        if !validate::nanp(national) {
            return false;
        }
        let confidence = if named() {
            base + 0.1
        } else if other() {
            0.3
        } else {
            base
        };
        ctx.push(out, Kind::Phone, tok.start, end, confidence);
        return true;
    }
    if k == 1 && tok.n == 1 && !tok.paren {
        let national = match digits.len() {
            10 => digits,
            11 if digits[0] == b'1' => &digits[1..],
            _ => return false,
        };
        if !validate::nanp(national) || other() || ctx.before(tok.start, 1) == b'#' {
            return false;
        }
        let confidence = if named() { 0.6 } else { 0.35 };
        ctx.push(out, Kind::Phone, tok.start, end, confidence);
        return true;
    }
    let national_format = k >= 2
        && (10..=11).contains(&digits.len())
        && digits[0] == b'0'
        && digits[1] != b'0'
        && (tok.seps_spaces(ctx, k) || (0..k - 1).all(|i| sep(i) == b"-"));
    if national_format && named() && !other() {
        ctx.push(out, Kind::Phone, tok.start, end, 0.55);
        return true;
    }
    false
}

fn e164(ctx: &Ctx<'_>, tok: &Token, k: usize, digits: &[u8], out: &mut Vec<Candidate>) -> bool {
    if !(8..=15).contains(&digits.len()) {
        return false;
    }
    let Some((cc, range)) = validate::e164_country(digits) else {
        return false;
    };
    let national = &digits[cc..];
    if !range.contains(&national.len()) {
        return false;
    }
    if cc == 1 && !validate::nanp(national) {
        return false;
    }
    let confidence = if cc < 3 { 0.9 } else { 0.8 };
    ctx.push(out, Kind::Phone, tok.start, tok.end(k), confidence);
    true
}

/// An IBAN whose country code starts at `s`, compact or in groups of four.
pub(crate) fn iban(ctx: &Ctx<'_>, s: usize, out: &mut Vec<Candidate>) -> Option<usize> {
    let country = [ctx.byte(s), ctx.byte(s + 1)];
    let want = validate::iban_length(country)?;
    let mut compact = [0u8; 34];
    let (mut n, mut i, mut since_space) = (0, s, 0);
    while n < want {
        let b = ctx.byte(i);
        if is_alnum(b) {
            compact[n] = b;
            n += 1;
            since_space += 1;
            i += 1;
        } else if b == b' ' && since_space == 4 && is_alnum(ctx.byte(i + 1)) {
            since_space = 0;
            i += 1;
        } else {
            return None;
        }
    }
    if is_word(ctx.byte(i)) || !validate::iban(&compact[..n]) {
        return None;
    }
    ctx.push(out, Kind::Iban, s, i, 0.95);
    Some(i)
}
