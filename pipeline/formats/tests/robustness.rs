//! Hostile and damaged input: truncated and bit-flipped fixtures must give Ok or Err, never a
//! panic or a hang; OLE2 containers are classified; MIME types round-trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Write};

use docfleet_formats::{Format, FormatError, Limits, detect, extract};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/formats/");

const GOOD: &[(&str, Format)] = &[
    ("report.docx", Format::Docx),
    ("deck.pptx", Format::Pptx),
    ("budget.xlsx", Format::Xlsx),
    ("budget.xls", Format::Xls),
    ("budget.ods", Format::Ods),
    ("notes.odt", Format::Odt),
    ("talk.odp", Format::Odp),
    ("book.epub", Format::Epub),
    ("memo.rtf", Format::Rtf),
    ("message.eml", Format::Eml),
];

/// A fixed-seed xorshift: deterministic "random" damage without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn truncated_and_garbled_fixtures_never_panic() {
    let limits = Limits {
        max_unpacked_bytes: 16 << 20,
        ..Limits::default()
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (name, format) in GOOD {
        let bytes = std::fs::read(format!("{DIR}{name}")).unwrap();
        let mut variants = Vec::new();
        for k in 1..=10 {
            variants.push(bytes[..bytes.len() * k / 11].to_vec());
        }
        for _ in 0..30 {
            let mut v = bytes.clone();
            for _ in 0..1 + rng.next() % 8 {
                let i = (rng.next() as usize) % v.len();
                v[i] ^= 1 << (rng.next() % 8);
            }
            variants.push(v);
        }
        for v in &variants {
            let _ = detect(v);
            let _ = extract(*format, v, &limits);
        }
    }
}

#[test]
fn every_format_rejects_garbage_cleanly() {
    for format in Format::all() {
        for input in [
            &b""[..],
            b"\x00\x01\x02garbage",
            b"PK\x03\x04\x00\x00",
            b"{\\rtf1",
        ] {
            let _ = extract(*format, input, &Limits::default());
        }
    }
    assert_eq!(detect(b"just some text"), Ok(None));
    assert_eq!(
        detect(b"Subject: my essay\n\nIt was a dark night."),
        Ok(None)
    );
    assert_eq!(detect(b"  {\\rtf1 hi}"), Ok(Some(Format::Rtf)));
}

#[test]
fn plain_zip_is_not_ours() {
    let mut buf = Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    z.start_file("readme.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(b"hello").unwrap();
    z.finish().unwrap();
    assert_eq!(detect(buf.get_ref()), Ok(None));
}

fn ole(streams: &[&str]) -> Vec<u8> {
    let mut cf = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
    for s in streams {
        cf.create_stream(format!("/{s}"))
            .unwrap()
            .write_all(&[0u8; 64])
            .unwrap();
    }
    cf.flush().unwrap();
    cf.into_inner().into_inner()
}

#[test]
fn ole2_containers() {
    assert!(matches!(
        detect(&ole(&["EncryptionInfo", "EncryptedPackage"])),
        Err(FormatError::Encrypted { .. })
    ));
    let doc = detect(&ole(&["WordDocument"])).unwrap_err();
    assert_eq!(
        doc,
        FormatError::Unsupported {
            media_type: "application/msword".into(),
            hint: "save it as DOCX".into()
        }
    );
    assert!(matches!(
        detect(&ole(&["PowerPoint Document"])),
        Err(FormatError::Unsupported { .. })
    ));
    assert_eq!(detect(&ole(&["Workbook"])), Ok(Some(Format::Xls)));
    assert_eq!(detect(&ole(&["Something"])), Ok(None));
}

#[test]
fn mime_round_trip() {
    for f in Format::all() {
        assert_eq!(Format::from_mime(f.mime()), Some(*f));
    }
    assert_eq!(Format::from_mime("text/rtf"), Some(Format::Rtf));
    assert_eq!(
        Format::from_mime("Message/RFC822; charset=utf-8"),
        Some(Format::Eml)
    );
    assert_eq!(Format::from_mime("application/pdf"), None);
    assert_eq!(Format::all().len(), 10);
}

#[test]
fn unsafe_xml_and_depth() {
    let deep = format!(
        "<w:document><w:body>{}</w:body></w:document>",
        "<w:p>".repeat(1000)
    );
    let mut buf = Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    z.start_file(
        "[Content_Types].xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    z.write_all(b"<Types/>").unwrap();
    z.start_file(
        "word/document.xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    z.write_all(deep.as_bytes()).unwrap();
    z.finish().unwrap();
    let err = extract(Format::Docx, buf.get_ref(), &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, FormatError::UnsafeXml { message } if message.contains("deeper")),
        "{err}"
    );
}

/// Writes fixtures/formats/bad/encrypted.docx: the OLE2 wrapper Office (and LibreOffice) put
/// around a password-protected OOXML package. Run by generate.sh:
/// `cargo test -p docfleet-formats --test robustness -- --ignored write_encrypted_fixture`.
#[test]
#[ignore]
fn write_encrypted_fixture() {
    let mut cf = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
    let mut info = vec![4u8, 0, 4, 0, 0x40, 0, 0, 0];
    info.extend_from_slice(
        br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><encryption xmlns="http://schemas.microsoft.com/office/2006/encryption"><keyData saltSize="16" blockSize="16" keyBits="256" hashSize="64" cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512" saltValue="AAAAAAAAAAAAAAAAAAAAAA=="/></encryption>"#,
    );
    cf.create_stream("/EncryptionInfo")
        .unwrap()
        .write_all(&info)
        .unwrap();
    let mut rng = Rng(42);
    let mut package = 4096u64.to_le_bytes().to_vec();
    package.extend((0..4096).map(|_| rng.next() as u8));
    cf.create_stream("/EncryptedPackage")
        .unwrap()
        .write_all(&package)
        .unwrap();
    cf.flush().unwrap();
    std::fs::write(
        format!("{DIR}bad/encrypted.docx"),
        cf.into_inner().into_inner(),
    )
    .unwrap();
}

fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    for (name, data) in entries {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(data.as_bytes()).unwrap();
    }
    z.finish().unwrap();
    buf.into_inner()
}

#[test]
fn ods_repeat_bomb_refused() {
    let content = r#"<office:document-content xmlns:office="o" xmlns:table="t" xmlns:text="x"><office:body><office:spreadsheet>
        <table:table table:name="Big"><table:table-row table:number-rows-repeated="1000000">
        <table:table-cell table:number-columns-repeated="1000" office:value-type="float" office:value="1"/>
        </table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#;
    let bytes = zip_of(&[
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
        ("content.xml", content),
    ]);
    assert_eq!(detect(&bytes), Ok(Some(Format::Ods)));
    let err = extract(Format::Ods, &bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, FormatError::ArchiveLimit { message } if message.contains("sheet Big")),
        "{err}"
    );
}

#[test]
fn encrypted_odf_refused() {
    let manifest = r#"<manifest:manifest xmlns:manifest="m"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>
        <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"><manifest:encryption-data manifest:checksum="x"/></manifest:file-entry></manifest:manifest>"#;
    let bytes = zip_of(&[
        ("META-INF/manifest.xml", manifest),
        ("content.xml", "\u{1}\u{2}"),
    ]);
    assert!(
        matches!(detect(&bytes), Err(FormatError::Encrypted { ref format_name }) if format_name == "ODT")
    );
    assert!(matches!(
        extract(Format::Odt, &bytes, &Limits::default()),
        Err(FormatError::Encrypted { .. })
    ));
}

/// budget.xls with its OLE2 container intact (still detected as XLS) but the Workbook stream
/// garbled after the BOF record, or cut short: always an error, never a panic or a hang.
#[test]
fn garbled_xls_workbook_stream_is_an_error() {
    let good = std::fs::read(format!("{DIR}budget.xls")).unwrap();
    let workbook = {
        let mut cf = cfb::CompoundFile::open(Cursor::new(&good[..])).unwrap();
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut cf.open_stream("/Workbook").unwrap(), &mut v).unwrap();
        v
    };
    let bof = 4 + usize::from(u16::from_le_bytes([workbook[2], workbook[3]]));
    let mut rng = Rng(0xB1FF_0008);
    let mut streams = Vec::new();
    for _ in 0..20 {
        let mut v = workbook.clone();
        for b in &mut v[bof..] {
            *b = rng.next() as u8;
        }
        streams.push(v);
    }
    for cut in [bof, bof + 1, workbook.len() / 3, workbook.len() / 2] {
        streams.push(workbook[..cut].to_vec());
    }
    for stream in &streams {
        let mut cf = cfb::CompoundFile::open(Cursor::new(good.clone())).unwrap();
        cf.remove_stream("/Workbook").unwrap();
        cf.create_stream("/Workbook")
            .unwrap()
            .write_all(stream)
            .unwrap();
        cf.flush().unwrap();
        let bytes = cf.into_inner().into_inner();
        assert_eq!(detect(&bytes), Ok(Some(Format::Xls)));
        match extract(Format::Xls, &bytes, &Limits::default()) {
            Err(FormatError::Corrupt {
                format: Format::Xls,
                ..
            }) => {}
            other => panic!(
                "stream of {} bytes: expected Corrupt XLS, got {other:?}",
                stream.len()
            ),
        }
    }
}
