//! Against the real Tesseract and fixtures/ocr/ (written by fixtures/ocr/generate.py).
//!
//! These tests need Tesseract 5 with English (`apt-get install tesseract-ocr tesseract-ocr-eng`)
//! and fail, saying so, when it is missing: a silent skip would hide a broken CI image.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use docfleet_ocr::{
    GrayImage, ImageFormat, ImageLimits, Ocr, OcrConfig, OcrError, char_error_rate, check,
    decode_image,
};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ocr")
}

fn read(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run fixtures/ocr/generate.py)", path.display()))
}

fn truth(name: &str) -> Vec<String> {
    let text = String::from_utf8(read(name)).unwrap();
    text.split('\u{c}').map(|p| p.trim().to_owned()).collect()
}

fn engine() -> Ocr {
    match Ocr::new(&OcrConfig::default()) {
        Ok(ocr) => ocr,
        Err(e) => panic!(
            "these tests need Tesseract 5 with English: `apt-get install tesseract-ocr \
             tesseract-ocr-eng` ({e})"
        ),
    }
}

fn decode(name: &str) -> Vec<GrayImage> {
    let bytes = read(name);
    let format = ImageFormat::detect(&bytes).unwrap_or_else(|| panic!("{name}: not detected"));
    decode_image(&bytes, format, &ImageLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn check_finds_english() {
    let info = check(&OcrConfig::default()).unwrap_or_else(|e| panic!("Tesseract is needed: {e}"));
    assert!(
        info.version.starts_with('5') || info.version.starts_with('4'),
        "{}",
        info.version
    );
    assert_eq!(info.languages, vec!["eng".to_owned()]);
    assert!(info.tessdata_dir.join("eng.traineddata").is_file());
}

#[test]
fn missing_language_names_the_package() {
    let config = OcrConfig {
        languages: "eng+zzz".into(),
        ..OcrConfig::default()
    };
    let err = check(&config).unwrap_err();
    match &err {
        OcrError::MissingLanguage {
            language, package, ..
        } => {
            assert_eq!(language, "zzz");
            assert_eq!(package, "tesseract-ocr-zzz");
        }
        other => panic!("expected MissingLanguage, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("zzz.traineddata not found in /") && msg.contains("`tesseract-ocr-zzz`"),
        "{msg}"
    );
    assert!(!err.is_retryable());
    // Ocr::new checks first, so it fails the same way (no engine is initialised).
    assert!(matches!(
        Ocr::new(&config),
        Err(OcrError::MissingLanguage { .. })
    ));
}

#[test]
fn tessdata_dir_override() {
    let config = OcrConfig {
        tessdata_dir: Some("/nonexistent/tessdata".into()),
        ..OcrConfig::default()
    };
    let err = check(&config).unwrap_err();
    assert!(err.to_string().contains("`tesseract-ocr-eng`"), "{err}");
}

#[test]
fn missing_library_says_what_to_install() {
    let config = OcrConfig {
        lib_path: Some("/nonexistent/libtesseract.so.5".into()),
        ..OcrConfig::default()
    };
    let err = check(&config).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, OcrError::Unavailable(_)), "{err:?}");
    assert!(
        msg.starts_with("Tesseract not found (/nonexistent/libtesseract.so.5): install it with `apt-get install tesseract-ocr` (Debian/Ubuntu) or pass --ocr off"),
        "{msg}"
    );
    // A library that is not Tesseract: a missing symbol, also Unavailable.
    let config = OcrConfig {
        lib_path: Some("libz.so.1".into()),
        ..OcrConfig::default()
    };
    let err = check(&config).unwrap_err();
    assert!(err.to_string().contains("TessVersion"), "{err}");
}

/// (file, format, frames as (width, height), ppi)
type Expected = (
    &'static str,
    ImageFormat,
    &'static [(u32, u32)],
    Option<u32>,
);

#[test]
fn decodes_every_image_fixture() {
    let cases: [Expected; 5] = [
        ("receipt.png", ImageFormat::Png, &[(760, 1060)], Some(200)),
        ("sign.jpg", ImageFormat::Jpeg, &[(1180, 560)], Some(200)),
        (
            "fax.tiff",
            ImageFormat::Tiff,
            &[(1700, 1100), (1700, 1100)],
            Some(200),
        ),
        ("note.bmp", ImageFormat::Bmp, &[(600, 440)], Some(200)),
        ("poster.webp", ImageFormat::Webp, &[(1100, 760)], None),
    ];
    for (name, format, sizes, ppi) in cases {
        let bytes = read(name);
        assert_eq!(ImageFormat::detect(&bytes), Some(format), "{name}");
        let frames = decode_image(&bytes, format, &ImageLimits::default()).unwrap();
        let got: Vec<_> = frames.iter().map(|f| (f.width, f.height)).collect();
        assert_eq!(got, sizes, "{name}");
        for f in &frames {
            assert_eq!(f.pixels.len(), (f.width * f.height) as usize);
            assert_eq!(f.ppi, ppi, "{name}");
            // Paper is light, ink is dark: catches an inverted fax or a lost alpha.
            let mean = f.pixels.iter().map(|&p| u64::from(p)).sum::<u64>() / f.pixels.len() as u64;
            assert!(mean > 150, "{name}: mean gray {mean}");
            assert!(f.pixels.iter().any(|&p| p < 60), "{name}: no ink");
        }
    }
}

#[test]
fn frames_one_at_a_time() {
    let mut seen = Vec::new();
    let n = docfleet_ocr::decode_image_frames(
        &read("fax.tiff"),
        ImageFormat::Tiff,
        &ImageLimits::default(),
        |i, f| {
            seen.push((i, f.width));
            // Stopping after the first page: the error comes back as is.
            Err(OcrError::Failed("stop".into()))
        },
    );
    assert!(matches!(n, Err(OcrError::Failed(_))));
    assert_eq!(seen, vec![(0, 1700)]);
    let n = docfleet_ocr::decode_image_frames(
        &read("fax.tiff"),
        ImageFormat::Tiff,
        &ImageLimits::default(),
        |_, _| Ok(()),
    );
    assert_eq!(n.unwrap(), 2);
}

#[test]
fn frame_limit() {
    let limits = ImageLimits {
        max_frames: 1,
        ..ImageLimits::default()
    };
    let err = decode_image(&read("fax.tiff"), ImageFormat::Tiff, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            OcrError::TooManyFrames {
                frames: 2,
                limit: 1
            }
        ),
        "{err:?}"
    );
    let limits = ImageLimits {
        max_pixels: 1_000_000,
        ..ImageLimits::default()
    };
    let err = decode_image(&read("fax.tiff"), ImageFormat::Tiff, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            OcrError::TooManyPixels {
                width: 1700,
                height: 1100,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A tiny file whose header claims `width`x`height` is refused as too many pixels: from the
/// header alone, since decoding it would need gigabytes (the test would run out of memory).
fn assert_refused_from_header(rel: &str, format: ImageFormat, width: u32, height: u32) {
    let bytes = read(rel);
    assert!(bytes.len() < 1000);
    assert_eq!(ImageFormat::detect(&bytes), Some(format));
    let err = decode_image(&bytes, format, &ImageLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            OcrError::TooManyPixels { width: w, height: h, limit: 40_000_000 } if w == width && h == height
        ),
        "{rel}: {err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "image is {width}x{height} = {} pixels, over the limit of 40000000 (ocr_max_pixels)",
            u64::from(width) * u64::from(height)
        )
    );
}

#[test]
fn pixel_bomb_is_refused_from_the_header() {
    // 60000x60000 gray would be 3.6 GB.
    assert_refused_from_header("bad/pixel-bomb.png", ImageFormat::Png, 60000, 60000);
}

#[test]
fn tiff_bomb_is_refused_from_the_header() {
    // 50000x50000 gray would be 2.5 GB: refused from the IFD before any strip is read.
    assert_refused_from_header("bad/tiff-bomb.tiff", ImageFormat::Tiff, 50000, 50000);
}

/// Everything in bad/ fails to decode, except blank.png (it decodes; OCR finds no text).
#[test]
fn every_bad_fixture_fails_to_decode() {
    let mut names: Vec<String> = std::fs::read_dir(dir().join("bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for name in names.iter().filter(|n| *n != "blank.png") {
        let bytes = read(&format!("bad/{name}"));
        let format = ImageFormat::detect(&bytes).unwrap_or_else(|| panic!("{name}: not detected"));
        let err = decode_image(&bytes, format, &ImageLimits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                OcrError::CorruptImage { .. } | OcrError::TooManyPixels { .. }
            ),
            "{name}: {err:?}"
        );
        assert!(!err.is_retryable(), "{name}");
    }
}

#[test]
fn corrupt_files() {
    // (file, format, name in the message, what the message must say)
    for (name, format, label, says) in [
        ("bad/truncated.png", ImageFormat::Png, "PNG", "truncated"),
        (
            "bad/not-really.jpg",
            ImageFormat::Jpeg,
            "JPEG",
            "decoding Jpeg",
        ),
        ("bad/truncated.tiff", ImageFormat::Tiff, "TIFF", "truncated"),
        ("bad/truncated.bmp", ImageFormat::Bmp, "BMP", "truncated"),
        (
            "bad/truncated.webp",
            ImageFormat::Webp,
            "WebP",
            "Corrupt bitstream",
        ),
    ] {
        let bytes = read(name);
        assert_eq!(ImageFormat::detect(&bytes), Some(format), "{name}");
        let err = decode_image(&bytes, format, &ImageLimits::default()).unwrap_err();
        match &err {
            OcrError::CorruptImage { format, message } => {
                assert_eq!(*format, label);
                assert!(message.contains(says), "{name}: {message}");
            }
            other => panic!("{name}: expected CorruptImage, got {other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with(&format!("corrupt {label} image: ")),
            "{name}: {err}"
        );
    }
    // The wrong decoder for the bytes, and garbage TIFF / WebP / BMP.
    for (bytes, format) in [
        (read("receipt.png"), ImageFormat::Jpeg),
        (b"II*\0\xff\xff\xff\x7f".to_vec(), ImageFormat::Tiff),
        (
            b"RIFF\x10\0\0\0WEBPVP8 \x04\0\0\0abcd".to_vec(),
            ImageFormat::Webp,
        ),
        (
            b"BM\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
            ImageFormat::Bmp,
        ),
        (Vec::new(), ImageFormat::Png),
    ] {
        let err = decode_image(&bytes, format, &ImageLimits::default()).unwrap_err();
        assert!(
            matches!(err, OcrError::CorruptImage { .. }),
            "{format:?}: {err:?}"
        );
    }
}

/// Per-fixture CER bounds: about 1.5x what Tesseract 5.3.0 measured (see README), at least
/// 0.01 so that a one-character change in Tesseract does not fail CI.
fn recognise_and_report(ocr: &mut Ocr, cases: &[(&str, GrayImage, String, u32, f64)]) {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (name, image, truth, ppi, bound) in cases {
        let started = Instant::now();
        let r = ocr
            .recognize(image, *ppi, Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ms = started.elapsed().as_millis();
        let cer = char_error_rate(truth, &r.text);
        rows.push(format!(
            "{name:<28} {cer:>7.4} {:>5} {ms:>7}",
            r.mean_confidence
        ));
        if cer > *bound {
            failures.push(format!(
                "{name}: CER {cer:.4} > {bound}\n--- got:\n{}\n--- want:\n{truth}",
                r.text
            ));
        }
    }
    eprintln!(
        "{:<28} {:>7} {:>5} {:>7}\n{}",
        "fixture",
        "CER",
        "conf",
        "ms",
        rows.join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn recognises_image_fixtures() {
    let mut ocr = engine();
    let mut cases = Vec::new();
    for (name, bound) in [
        ("receipt.png", 0.02),
        ("sign.jpg", 0.01),
        ("fax.tiff", 0.042),
        ("note.bmp", 0.01),
        ("poster.webp", 0.01),
    ] {
        let stem = name.split('.').next().unwrap();
        let truths = truth(&format!("{stem}.txt"));
        let frames = decode(name);
        assert_eq!(frames.len(), truths.len(), "{name}: pages vs ground truth");
        for (i, (frame, t)) in frames.into_iter().zip(truths).enumerate() {
            let label = if i == 0 && !name.ends_with(".tiff") {
                name.to_owned()
            } else {
                format!("{name} p{}", i + 1)
            };
            cases.push((label, frame, t, 0, bound));
        }
    }
    let cases: Vec<_> = cases
        .iter()
        .map(|(l, f, t, p, b)| (l.as_str(), f.clone(), t.clone(), *p, *b))
        .collect();
    recognise_and_report(&mut ocr, &cases);
}

/// The image XObjects of a fixture PDF written by generate.py (8-bit DeviceGray, FlateDecode),
/// in page order: what PDFium would render at 200 ppi, without PDFium.
fn pdf_images(name: &str) -> Vec<GrayImage> {
    let bytes = read(name);
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    while let Some(at) = find(rest, b"/Subtype /Image /Width ") {
        let dict = &rest[at..];
        let header = std::str::from_utf8(&dict[..find(dict, b">>").unwrap()]).unwrap();
        let num = |key: &str| -> usize {
            let after = &header[header.find(key).unwrap() + key.len()..];
            after.split_whitespace().next().unwrap().parse().unwrap()
        };
        let (w, h, len) = (num("/Width "), num("/Height "), num("/Length "));
        let start = find(dict, b"stream\n").unwrap() + 7;
        let mut pixels = Vec::new();
        flate2::read::ZlibDecoder::new(&dict[start..start + len])
            .read_to_end(&mut pixels)
            .unwrap();
        assert_eq!(pixels.len(), w * h);
        out.push(GrayImage {
            width: w as u32,
            height: h as u32,
            pixels,
            ppi: None,
        });
        rest = &dict[start + len..];
    }
    out
}

#[test]
fn recognises_pdf_scans() {
    let mut ocr = engine();
    let letter = pdf_images("scanned-letter.pdf");
    let truths = truth("scanned-letter.txt");
    assert_eq!((letter.len(), truths.len()), (2, 2));
    let mixed = pdf_images("mixed.pdf");
    assert_eq!(mixed.len(), 1, "mixed.pdf: only page 2 is a scan");
    let mixed_truth = truth("mixed.txt");
    assert!(mixed_truth[0].contains("matcha whisked in a chawan"));
    let cases = [
        (
            "scanned-letter.pdf p1",
            letter[0].clone(),
            truths[0].clone(),
            200,
            0.01,
        ),
        (
            "scanned-letter.pdf p2",
            letter[1].clone(),
            truths[1].clone(),
            200,
            0.02,
        ),
        (
            "mixed.pdf p2",
            mixed[0].clone(),
            mixed_truth[1].clone(),
            200,
            0.01,
        ),
    ];
    recognise_and_report(&mut ocr, &cases);
}

#[test]
fn blank_and_tiny_images_have_no_text() {
    let mut ocr = engine();
    let blank = decode("bad/blank.png").remove(0);
    let r = ocr.recognize(&blank, 0, Duration::from_secs(30)).unwrap();
    assert_eq!(r.text, "");
    let tiny = GrayImage {
        width: 3,
        height: 2,
        pixels: vec![0; 6],
        ppi: None,
    };
    assert_eq!(ocr.recognize(&tiny, 300, Duration::ZERO).unwrap().text, "");
    let wrong = GrayImage {
        width: 30,
        height: 20,
        pixels: vec![0; 6],
        ppi: None,
    };
    assert!(matches!(
        ocr.recognize(&wrong, 300, Duration::ZERO),
        Err(OcrError::Failed(_))
    ));
}

#[test]
fn deadline_gives_timeout_and_the_engine_survives() {
    let mut ocr = engine();
    // Two fax pages side by side, twice: a dense 3400x2200 page.
    let pages = decode("fax.tiff");
    let (w, h) = (pages[0].width as usize, pages[0].height as usize);
    let mut pixels = Vec::with_capacity(4 * w * h);
    for _ in 0..2 {
        for y in 0..h {
            pixels.extend_from_slice(&pages[0].pixels[y * w..(y + 1) * w]);
            pixels.extend_from_slice(&pages[1].pixels[y * w..(y + 1) * w]);
        }
    }
    let big = GrayImage {
        width: 2 * w as u32,
        height: 2 * h as u32,
        pixels,
        ppi: Some(200),
    };
    let started = Instant::now();
    let err = ocr
        .recognize(&big, 0, Duration::from_millis(1))
        .unwrap_err();
    let took = started.elapsed();
    eprintln!(
        "1 ms deadline on {}x{}: {err} after {took:?}",
        big.width, big.height
    );
    assert!(matches!(err, OcrError::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("OCR of one page took longer than 0.001 s"),
        "{err}"
    );
    // The same engine still works afterwards.
    let r = ocr
        .recognize(&pages[1], 200, Duration::from_secs(60))
        .unwrap();
    assert!(r.text.contains("QUARTERLY INVENTORY"), "{}", r.text);
}

#[test]
fn engine_is_send() {
    fn send<T: Send>() {}
    send::<Ocr>();
}
