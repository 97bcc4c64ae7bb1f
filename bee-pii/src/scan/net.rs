//! Addresses: email, credentials in URLs, IPv6 and MAC addresses.

use std::net::Ipv6Addr;

use super::{Candidate, Ctx, MAX_LEFT, is_alnum, is_word};
use crate::kind::Kind;

/// File extensions that follow `@` in names such as `icon@2x.png` and are not domains.
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "css", "js", "mjs",
    "ts", "tsx", "jsx", "json", "txt", "md", "html", "htm", "php", "py", "rs", "go", "java", "kt",
    "rb", "exe", "dll", "so", "tar", "gz", "tgz", "bz2", "xz", "mp3", "mp4", "wav", "ogg", "csv",
    "xml", "yml", "yaml", "toml", "lock", "log", "ini", "cfg", "conf", "pdf", "doc", "docx", "xls",
    "xlsx", "ppt", "pptx", "bin", "dat", "tmp", "bak", "swp", "heic",
];

/// Handles `@`: user information in a URL, else an email address.
pub(crate) fn at_sign(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if let Some(next) = url_credentials(ctx, p, out) {
        return next;
    }
    email(ctx, p, out)
}

fn url_credentials(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> Option<usize> {
    let back = ctx.run_back(p, MAX_LEFT - 8, |b| {
        !b.is_ascii_whitespace() && !matches!(b, b'<' | b'>' | b'"' | b'\'' | b'`' | b'(' | b')')
    });
    let seg = &ctx.text[p - back..p];
    let scheme = seg.windows(3).rposition(|w| w == b"://")?;
    let info_start = p - back + scheme + 3;
    let info = &ctx.text[info_start..p];
    let colon = info.iter().position(|&b| b == b':')?;
    let clean = !info.iter().any(|&b| matches!(b, b'/' | b'?' | b'#' | b'@'));
    let has_scheme = scheme > 0 && seg[scheme - 1].is_ascii_alphabetic();
    if !clean || !has_scheme || colon + 1 >= info.len() || !is_alnum(ctx.byte(p + 1)) {
        return None;
    }
    ctx.push(out, Kind::UrlCredentials, info_start, p, 0.95);
    Some(p + 1)
}

fn local_byte(b: u8) -> bool {
    is_alnum(b) || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'\'') || b >= 0x80
}

fn domain_byte(b: u8) -> bool {
    is_alnum(b) || b == b'-' || b == b'.' || b >= 0x80
}

fn email(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    let m = ctx.run_back(p, 65, local_byte);
    if m == 0 || m > 64 {
        return p + 1;
    }
    let mut start = p - m;
    while start < p && matches!(ctx.text[start], b'.' | b'\'' | b'-') {
        start += 1;
    }
    let local = &ctx.text[start..p];
    if local.is_empty() || local.ends_with(b".") || local.windows(2).any(|w| w == b"..") {
        return p + 1;
    }
    let d = ctx.run(p + 1, 254, domain_byte);
    if d >= 254 {
        return p + 1 + d;
    }
    let mut end = p + 1 + d;
    while end > p + 1 && matches!(ctx.text[end - 1], b'.' | b'-') {
        end -= 1;
    }
    if !domain(&ctx.text[p + 1..end]) {
        return p + 1;
    }
    ctx.push(out, Kind::Email, start, end, 0.95);
    end
}

fn domain(domain: &[u8]) -> bool {
    let mut labels = 0;
    let mut tld: &[u8] = b"";
    for label in domain.split(|&b| b == b'.') {
        let bad = label.is_empty()
            || label.len() > 63
            || label[0] == b'-'
            || label[label.len() - 1] == b'-';
        if bad {
            return false;
        }
        labels += 1;
        tld = label;
    }
    let alpha = (2..=24).contains(&tld.len()) && tld.iter().all(u8::is_ascii_alphabetic);
    let puny = tld.len() > 4 && tld[..4].eq_ignore_ascii_case(b"xn--");
    let file = FILE_EXTENSIONS
        .iter()
        .any(|e| e.as_bytes().eq_ignore_ascii_case(tld));
    labels >= 2 && (alpha || puny) && !file
}

fn hex_colon(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// Handles `:`: an IPv6 or MAC address around it.
pub(crate) fn at_colon(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> usize {
    if !ctx.on(&Kind::IpAddress) && !ctx.on(&Kind::MacAddress) {
        return p + 1;
    }
    let left = ctx.run_back(p, 45, hex_colon);
    let start = p - left;
    if is_word(ctx.before(start, 1)) || left == 45 {
        return p + 1;
    }
    let right = ctx.run(p, 46, hex_colon);
    let mut end = p + right;
    if is_word(ctx.byte(end)) || right == 46 {
        return end;
    }
    while end > p && ctx.text[end - 1] == b'.' {
        end -= 1;
    }
    if end > p + 1 && ctx.text[end - 1] == b':' && ctx.text[end - 2] != b':' {
        end -= 1;
    }
    let span = &ctx.text[start..end];
    if let Some(e) = mac_at(ctx, start) {
        ctx.push(out, Kind::MacAddress, start, e, 0.85);
        return e;
    }
    if ipv6(span) {
        let compressed = span.windows(2).any(|w| w == b"::");
        ctx.push(
            out,
            Kind::IpAddress,
            start,
            end,
            if compressed { 0.8 } else { 0.9 },
        );
    }
    end.max(p + 1)
}

fn ipv6(span: &[u8]) -> bool {
    let colons = span.iter().filter(|&&b| b == b':').count();
    if colons < 2 || !span.iter().any(u8::is_ascii_digit) {
        return false;
    }
    std::str::from_utf8(span).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok())
}

/// A MAC address whose run of hex digits and separators contains `p`.
pub(crate) fn mac_around(ctx: &Ctx<'_>, p: usize, out: &mut Vec<Candidate>) -> Option<usize> {
    if !ctx.on(&Kind::MacAddress) {
        return None;
    }
    let back = ctx.run_back(p, 17, |b| {
        b.is_ascii_hexdigit() || matches!(b, b':' | b'-' | b'.')
    });
    let start = p - back;
    if back == 17 || is_word(ctx.before(start, 1)) || !ctx.text[start].is_ascii_hexdigit() {
        return None;
    }
    let end = mac_at(ctx, start)?;
    ctx.push(out, Kind::MacAddress, start, end, 0.85);
    Some(end)
}

/// `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff` or `aabb.ccdd.eeff` starting at `s`.
fn mac_at(ctx: &Ctx<'_>, s: usize) -> Option<usize> {
    let hex = |i: usize| ctx.byte(i).is_ascii_hexdigit();
    let sep = ctx.byte(s + 2);
    let end = if matches!(sep, b':' | b'-') {
        let ok = (0..6).all(|g| {
            hex(s + g * 3) && hex(s + g * 3 + 1) && (g == 5 || ctx.byte(s + g * 3 + 2) == sep)
        });
        ok.then_some(s + 17)?
    } else if ctx.byte(s + 4) == b'.' {
        let ok = (0..3).all(|g| {
            (0..4).all(|j| hex(s + g * 5 + j)) && (g == 2 || ctx.byte(s + g * 5 + 4) == b'.')
        });
        ok.then_some(s + 14)?
    } else {
        return None;
    };
    let after = ctx.byte(end);
    let continues = matches!(after, b':' | b'-' | b'.') && ctx.byte(end + 1).is_ascii_hexdigit();
    let digits = ctx.text[s..end].iter().any(u8::is_ascii_digit);
    (!is_word(after) && !continues && digits).then_some(end)
}
