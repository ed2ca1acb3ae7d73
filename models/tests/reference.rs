//! The candle BERT embedder against golden all-MiniLM-L6-v2 embeddings.
//!
//! `fixtures/minilm-reference.json` is a copy of `shared/fixtures/minilm-reference.json`
//! (computed with onnxruntime 1.31 in f32 from the same model.safetensors: mean pooling over the
//! attention mask, L2-normalised, truncation to 256 tokens). It is the golden file; do not
//! regenerate it from this crate.
//!
//! Every precision the CPU encoder runs at is checked (those this CPU lacks are skipped, said so):
//! f32 to cosine ≥ 0.9999, bf16 ≥ 0.999, int8 ≥ 0.99; the worst cosine of each is printed.
//!
//! `DOCFLEET_TEST_DEVICE` (`cpu`, the default; `cuda` or `cuda:N` with the `cuda` feature) picks
//! where the model runs; on a GPU both encoders are candle's. scripts/gpu-check runs it so.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use docfleet_models::{
    Backend, BertEmbedder, DeviceChoice, EmbedPrecision, Embedder, EmbedderOptions, Error,
    Precision,
};
use serde_json::Value;

// Compiled in, so the test binary can run on a machine without this checkout (a GPU box).
const REFERENCE: &str = include_str!("../../fixtures/minilm-reference.json");

struct Item {
    text: String,
    num_tokens: usize,
    embedding: Vec<f32>,
}

fn reference() -> Vec<Item> {
    let json: Value = serde_json::from_str(REFERENCE).expect("parse reference JSON");
    json["items"]
        .as_array()
        .expect("items array")
        .iter()
        .map(|item| Item {
            text: item["text"].as_str().expect("text").to_owned(),
            num_tokens: item["num_tokens"].as_u64().expect("num_tokens") as usize,
            embedding: item["embedding"]
                .as_array()
                .expect("embedding")
                .iter()
                .map(|x| x.as_f64().expect("float") as f32)
                .collect(),
        })
        .collect()
}

fn model_dir() -> PathBuf {
    let dir = docfleet_models::default_model_dir();
    assert!(
        dir.join("model.safetensors").is_file(),
        "the embedding model is not installed at {}: run ./scripts/setup (or set \
         DOCFLEET_MODEL_DIR to an all-MiniLM-L6-v2 folder)",
        dir.display()
    );
    dir
}

/// `DOCFLEET_TEST_DEVICE`: the CPU unless told otherwise; a GPU that is asked for and missing is
/// an error, never a silent fall-back to the CPU.
fn test_device() -> DeviceChoice {
    static DEVICE: OnceLock<DeviceChoice> = OnceLock::new();
    *DEVICE.get_or_init(|| {
        let choice = match std::env::var("DOCFLEET_TEST_DEVICE").as_deref() {
            Err(_) | Ok("" | "cpu") => DeviceChoice::Cpu,
            Ok("cuda") => DeviceChoice::Cuda(0),
            Ok(other) => match other.strip_prefix("cuda:").map(str::parse) {
                Some(Ok(n)) => DeviceChoice::Cuda(n),
                _ => panic!("DOCFLEET_TEST_DEVICE={other:?}: use cpu, cuda or cuda:N"),
            },
        };
        println!("reference tests on {choice:?}");
        choice
    })
}

fn load(backend: Backend, threads: usize, max_batch_tokens: usize) -> BertEmbedder {
    load_at(backend, threads, max_batch_tokens, EmbedPrecision::F32)
}

fn load_at(
    backend: Backend,
    threads: usize,
    max_batch_tokens: usize,
    precision: EmbedPrecision,
) -> BertEmbedder {
    let options = EmbedderOptions {
        device: test_device(),
        backend,
        threads,
        max_batch_tokens,
        precision,
    };
    let embedder = BertEmbedder::load(&model_dir(), options).expect("load the embedding model");
    assert_eq!(
        embedder.device().is_cpu(),
        test_device() == DeviceChoice::Cpu,
        "model on {:?}",
        embedder.device()
    );
    embedder
}

/// docfleet's CPU encoder in f32, two threads (so batches run in parallel): the exact one.
fn embedder() -> &'static BertEmbedder {
    static EMBEDDER: OnceLock<BertEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| load(Backend::Auto, 2, 4096))
}

/// candle's tensor encoder, the GPU's path, here on the CPU.
fn candle_embedder() -> &'static BertEmbedder {
    static EMBEDDER: OnceLock<BertEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| load(Backend::Candle, 0, 4096))
}

/// Both encoders, named.
fn encoders() -> [(&'static str, &'static BertEmbedder); 2] {
    [("docfleet cpu", embedder()), ("candle", candle_embedder())]
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn matches_reference_embeddings_batched_and_alone() {
    for (name, e) in encoders() {
        println!("{name} ({}):", e.encoder());
        matches_reference(e, 0.9999);
    }
}

/// The CPU encoder at each low precision, where this CPU has it (never on a GPU run: candle's
/// encoder is f32 only).
#[test]
fn low_precisions_stay_close_to_the_reference() {
    if test_device() != DeviceChoice::Cpu {
        println!(
            "skipped: low precisions are the CPU encoder's, the device is {:?}",
            test_device()
        );
        return;
    }
    for (asked, precision, min_cosine) in [
        (EmbedPrecision::Bf16, Precision::Bf16, 0.999),
        (EmbedPrecision::Int8, Precision::Int8, 0.99),
    ] {
        if !precision.supported() {
            println!(
                "{}: skipped, this CPU lacks its instructions",
                precision.name()
            );
            continue;
        }
        let e = load_at(Backend::Auto, 2, 4096, asked);
        assert_eq!(e.precision(), precision);
        println!("docfleet cpu {} ({}):", precision.name(), e.encoder());
        matches_reference(&e, min_cosine);
    }
}

fn matches_reference(e: &BertEmbedder, min_cosine: f64) {
    let items = reference();
    assert!(items.len() >= 8, "reference has {} items", items.len());
    assert_eq!(e.dims(), 384);
    assert_eq!(e.max_tokens(), 256);
    assert_eq!(e.model_id(), "all-MiniLM-L6-v2");

    let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    let batched = e.embed(&texts).expect("embed all");
    assert_eq!(batched.len(), items.len());

    let mut worst = (f64::INFINITY, String::new());
    let mut cosines = Vec::new();
    let mut worst_batch_diff = 0f32;
    let mut worst_ref_diff = 0f32;
    for (item, ours) in items.iter().zip(&batched) {
        let label: String = item.text.chars().take(40).collect();
        assert_eq!(
            e.input_ids(&item.text).expect("tokenize").len(),
            item.num_tokens,
            "token count for {label:?}"
        );
        assert_eq!(ours.len(), item.embedding.len());
        let alone = e.embed(&[item.text.as_str()]).expect("embed one");
        for (which, v) in [("batched", ours), ("alone", &alone[0])] {
            let c = cosine(v, &item.embedding);
            cosines.push(c);
            worst_ref_diff = worst_ref_diff.max(max_abs_diff(v, &item.embedding));
            assert!(c >= min_cosine, "{which} cosine {c} for {label:?}");
            if c < worst.0 {
                worst = (c, format!("{which} {label:?}"));
            }
        }
        let diff = max_abs_diff(ours, &alone[0]);
        worst_batch_diff = worst_batch_diff.max(diff);
        assert!(
            diff <= 1e-5,
            "batched vs alone differ by {diff} for {label:?}"
        );
    }
    let mean = cosines.iter().sum::<f64>() / cosines.len() as f64;
    println!(
        "worst cosine vs reference: {:.9} (1 - cos = {:.2e}, {}); mean {mean:.6}; max abs diff vs \
         reference: {worst_ref_diff:.2e}; batched vs alone: {worst_batch_diff:.2e}",
        worst.0,
        1.0 - worst.0,
        worst.1
    );
}

#[test]
fn long_text_is_truncated_to_max_tokens() {
    let e = embedder();
    let long = "word ".repeat(1000);
    assert!(e.count_tokens(&long).expect("count") > 1000);
    assert_eq!(e.input_ids(&long).expect("ids").len(), 256);
    let ours = e.embed(&[long.as_str()]).expect("embed long");
    assert_eq!(ours[0].len(), 384);
    let candle = candle_embedder()
        .embed(&[long.as_str()])
        .expect("embed long");
    assert!(cosine(&ours[0], &candle[0]) > 0.9999);
}

#[test]
fn load_tokenizer_neither_truncates_nor_pads() {
    let tokenizer = docfleet_models::load_tokenizer(&model_dir()).expect("tokenizer");
    let long = "word ".repeat(300);
    assert_eq!(
        tokenizer.encode(long.as_str(), true).expect("encode").len(),
        302
    );
    assert_eq!(tokenizer.encode("", true).expect("encode").len(), 2);
    assert_eq!(
        embedder()
            .tokenizer()
            .encode("a b", true)
            .expect("encode")
            .len(),
        4
    );
}

#[test]
fn unit_norms_and_input_order_with_mixed_lengths() {
    let e = embedder();
    let long = "the quick brown fox jumps over the lazy dog ".repeat(30);
    let texts = [
        "short",
        long.as_str(),
        "",
        "A medium length sentence about document search.",
        "short",
        "Vectors are stored with the model id.",
    ];
    // A small budget forces several batches (and, on candle, padding within each); one thread
    // runs them all in turn, three share them out.
    let small = [
        load(Backend::Auto, 1, 40),
        load(Backend::Auto, 3, 40),
        load(Backend::Candle, 0, 40),
    ];
    let together = e.embed(&texts).expect("embed");
    assert_eq!(together.len(), texts.len());
    let budgeted: Vec<Vec<Vec<f32>>> = small
        .iter()
        .map(|s| s.embed(&texts).expect("embed with small budget"))
        .collect();
    for (i, text) in texts.iter().enumerate() {
        let norm = together[i].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm} for text {i}");
        let alone = e.embed(&[text]).expect("embed one");
        assert!(
            max_abs_diff(&together[i], &alone[0]) <= 1e-5,
            "order or padding changed text {i}"
        );
        for (run, vectors) in budgeted.iter().enumerate() {
            assert!(
                max_abs_diff(&vectors[i], &alone[0]) <= 1e-5,
                "small batches (run {run}) changed text {i}"
            );
        }
    }
    assert_eq!(
        together[0], together[4],
        "identical texts, identical vectors"
    );
    assert!(cosine(&together[0], &together[3]) < 0.99);
}

#[test]
fn empty_input_gives_empty_output() {
    for (_, e) in encoders() {
        assert!(e.embed(&[]).expect("embed nothing").is_empty());
    }
}

#[test]
fn missing_model_folder_is_a_clear_error() {
    let missing = Path::new("/nonexistent/docfleet/models/all-MiniLM-L6-v2");
    let err = BertEmbedder::load(missing, EmbedderOptions::default()).expect_err("must fail");
    assert!(matches!(err, Error::ModelFiles { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let message = err.to_string();
    assert!(message.contains("scripts/setup"), "{message}");
    assert!(message.contains("DOCFLEET_MODEL_DIR"), "{message}");
}

#[test]
fn missing_model_file_names_the_file() {
    let dir = std::env::temp_dir().join(format!("docfleet-models-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(model_dir().join("config.json"), dir.join("config.json")).expect("copy");
    let err = BertEmbedder::load(&dir, EmbedderOptions::default()).expect_err("must fail");
    let message = err.to_string();
    std::fs::remove_dir_all(&dir).ok();
    assert!(message.contains("tokenizer.json is missing"), "{message}");
    assert!(message.contains("scripts/setup"), "{message}");
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_is_a_clear_error() {
    let err = DeviceChoice::Cuda(0).device().expect_err("no cuda feature");
    assert!(err.to_string().contains("cuda"), "{err}");
    assert!(DeviceChoice::Auto.device().expect("auto").is_cpu());
}
