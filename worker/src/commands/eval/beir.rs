//! A BEIR dataset folder: `corpus.jsonl` (`{"_id", "title", "text", ...}` per line),
//! `queries.jsonl` (`{"_id", "text", ...}`) and `qrels/test.tsv` (`query-id\tcorpus-id\tscore`,
//! with a header line). As in BEIR, only queries with test judgments are evaluated, and a score
//! above 0 marks a relevant document (the score is its grade for nDCG).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

use super::metrics::Judgments;

/// One corpus entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusDoc {
    pub id: String,
    pub title: String,
    pub text: String,
}

impl CorpusDoc {
    /// What is indexed: the title, a blank line, the text (just the text without a title).
    pub fn body(&self) -> String {
        if self.title.trim().is_empty() {
            self.text.clone()
        } else {
            format!("{}\n\n{}", self.title, self.text)
        }
    }
}

/// One evaluated query with its judgments (relevant documents only).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub id: String,
    pub text: String,
    pub relevant: Judgments,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    /// The folder's name, used in the documents' sources (`beir://<name>/<_id>`).
    pub name: String,
    pub corpus: Vec<CorpusDoc>,
    /// The queries with at least one relevant judgment, in queries.jsonl order.
    pub queries: Vec<Query>,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "_id")]
    id: Value,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

/// Ids are strings in BEIR files; a few datasets write numbers.
fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn read(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        if path.exists() {
            format!("reading {}", path.display())
        } else {
            format!("{} is missing (not a BEIR dataset folder?)", path.display())
        }
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// Non-blank lines with their 1-based numbers, without a trailing `\r`.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
}

/// The entries of a JSON-lines file, in order; ids must be unique.
fn read_jsonl(path: &Path) -> Result<Vec<CorpusDoc>> {
    let text = read(path)?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (n, line) in lines(&text) {
        let raw: RawEntry = serde_json::from_str(line)
            .with_context(|| format!("{} line {n}: not a BEIR entry", path.display()))?;
        let Some(id) = id_of(&raw.id) else {
            bail!(
                "{} line {n}: `_id` must be a string, not {}",
                path.display(),
                raw.id
            );
        };
        if !seen.insert(id.clone()) {
            bail!("{} line {n}: duplicate `_id` {id:?}", path.display());
        }
        out.push(CorpusDoc {
            id,
            title: raw.title.unwrap_or_default(),
            text: raw.text.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// qrels: per query id, its judgments (grade > 0 only). Every line must name a known query and
/// a known corpus document.
fn read_qrels(
    path: &Path,
    corpus: &[CorpusDoc],
    queries: &[CorpusDoc],
) -> Result<HashMap<String, Judgments>> {
    let docs: HashSet<&str> = corpus.iter().map(|d| d.id.as_str()).collect();
    let known_queries: HashSet<&str> = queries.iter().map(|q| q.id.as_str()).collect();
    let text = read(path)?;
    let mut by_query: HashMap<String, Judgments> = HashMap::new();
    for (n, line) in lines(&text) {
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        let [query, doc, score] = fields[..] else {
            bail!(
                "{} line {n}: expected 3 tab-separated fields (query-id, corpus-id, score), found {}",
                path.display(),
                fields.len()
            );
        };
        let score: i64 = match score.parse() {
            Ok(s) => s,
            Err(_) if n == 1 => continue, // the header
            Err(_) => bail!(
                "{} line {n}: the score {score:?} is not an integer",
                path.display()
            ),
        };
        if !known_queries.contains(query) {
            bail!(
                "{} line {n}: query id {query:?} is not in queries.jsonl",
                path.display()
            );
        }
        if !docs.contains(doc) {
            bail!(
                "{} line {n}: corpus id {doc:?} is not in corpus.jsonl",
                path.display()
            );
        }
        let judgments = by_query.entry(query.to_owned()).or_default();
        if score > 0 {
            let grade = u32::try_from(score).unwrap_or(u32::MAX);
            let g = judgments.entry(doc.to_owned()).or_insert(0);
            *g = (*g).max(grade);
        }
    }
    Ok(by_query)
}

/// Loads `dir`; `max_queries` > 0 keeps only the first that many evaluated queries.
pub fn load(dir: &Path, max_queries: usize) -> Result<Dataset> {
    let dir = std::fs::canonicalize(dir)
        .with_context(|| format!("the dataset folder {} does not exist", dir.display()))?;
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("dataset")
        .to_owned();
    let corpus_path = dir.join("corpus.jsonl");
    let queries_path = dir.join("queries.jsonl");
    let qrels_path: PathBuf = dir.join("qrels").join("test.tsv");
    let corpus = read_jsonl(&corpus_path)?;
    let raw_queries = read_jsonl(&queries_path)?;
    let qrels = read_qrels(&qrels_path, &corpus, &raw_queries)?;

    let mut queries: Vec<Query> = raw_queries
        .into_iter()
        .filter_map(|q| {
            let relevant = qrels.get(&q.id)?;
            // trec_eval skips queries without a relevant document.
            (!relevant.is_empty()).then(|| Query {
                relevant: relevant.clone(),
                id: q.id,
                text: q.text,
            })
        })
        .collect();
    if max_queries > 0 {
        queries.truncate(max_queries);
    }
    if queries.is_empty() {
        bail!("{}: no query has a relevant document", qrels_path.display());
    }
    Ok(Dataset {
        name,
        corpus,
        queries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn dataset(corpus: &str, queries: &str, qrels: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "corpus.jsonl", corpus);
        write(dir.path(), "queries.jsonl", queries);
        write(dir.path(), "qrels/test.tsv", qrels);
        dir
    }

    const CORPUS: &str = concat!(
        "{\"_id\": \"d1\", \"title\": \"Cats\", \"text\": \"Cats purr.\", \"metadata\": {}}\n",
        "{\"_id\": \"d2\", \"title\": \"\", \"text\": \"Dogs bark.\"}\n",
        "\n",
        "{\"_id\": 3, \"text\": \"Numbers.\"}\n",
    );
    const QUERIES: &str = concat!(
        "{\"_id\": \"q1\", \"text\": \"what purrs\"}\n",
        "{\"_id\": \"q2\", \"text\": \"unjudged\"}\n",
        "{\"_id\": \"q3\", \"text\": \"what barks\"}\n",
        "{\"_id\": \"q4\", \"text\": \"only zero scores\"}\n",
    );

    #[test]
    fn loads_a_dataset_with_crlf_qrels() {
        let qrels =
            "query-id\tcorpus-id\tscore\r\nq3\td2\t1\r\nq1\td1\t2\r\nq1\t3\t1\r\nq4\td1\t0\r\n";
        let dir = dataset(CORPUS, QUERIES, qrels);
        let ds = load(dir.path(), 0).unwrap();
        assert_eq!(ds.corpus.len(), 3);
        assert_eq!(ds.corpus[0].body(), "Cats\n\nCats purr.");
        assert_eq!(ds.corpus[1].body(), "Dogs bark.");
        assert_eq!(ds.corpus[2].id, "3");
        // Judged queries only, in queries.jsonl order; q4 has no relevant document.
        let ids: Vec<&str> = ds.queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["q1", "q3"]);
        assert_eq!(ds.queries[0].relevant.get("d1"), Some(&2));
        assert_eq!(ds.queries[0].relevant.get("3"), Some(&1));
        assert_eq!(ds.queries[1].relevant.len(), 1);
        assert_eq!(ds.name, dir.path().file_name().unwrap().to_str().unwrap());

        let first = load(dir.path(), 1).unwrap();
        assert_eq!(first.queries.len(), 1);
        assert_eq!(first.queries[0].id, "q1");
    }

    #[test]
    fn missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "corpus.jsonl", CORPUS);
        write(dir.path(), "queries.jsonl", QUERIES);
        let err = format!("{:#}", load(dir.path(), 0).unwrap_err());
        assert!(err.contains("test.tsv is missing"), "{err}");
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let bad_corpus = format!("{CORPUS}{{\"_id\": \"d9\", \"text\": \n");
        let dir = dataset(&bad_corpus, QUERIES, "q1\td1\t1\n");
        let err = format!("{:#}", load(dir.path(), 0).unwrap_err());
        assert!(err.contains("corpus.jsonl line 5"), "{err}");

        let dir = dataset(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\n");
        let err = format!("{:#}", load(dir.path(), 0).unwrap_err());
        assert!(
            err.contains("test.tsv line 2") && err.contains("3 tab-separated"),
            "{err}"
        );

        let dir = dataset(
            CORPUS,
            QUERIES,
            "query-id\tcorpus-id\tscore\nq1\td1\thigh\n",
        );
        let err = format!("{:#}", load(dir.path(), 0).unwrap_err());
        assert!(
            err.contains("test.tsv line 2") && err.contains("not an integer"),
            "{err}"
        );

        let dup = format!("{CORPUS}{{\"_id\": \"d1\", \"text\": \"again\"}}\n");
        let dir = dataset(&dup, QUERIES, "q1\td1\t1\n");
        let err = format!("{:#}", load(dir.path(), 0).unwrap_err());
        assert!(err.contains("line 5") && err.contains("duplicate"), "{err}");
    }

    #[test]
    fn qrels_with_unknown_ids_are_rejected() {
        let dir = dataset(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\tnope\t1\n");
        let err = format!("{:#}", load(dir.path(), 0).unwrap_err());
        assert!(
            err.contains("line 2") && err.contains("corpus id \"nope\""),
            "{err}"
        );

        let dir = dataset(
            CORPUS,
            QUERIES,
            "query-id\tcorpus-id\tscore\nq1\td1\t1\nq9\td1\t1\n",
        );
        let err = format!("{:#}", load(dir.path(), 0).unwrap_err());
        assert!(
            err.contains("line 3") && err.contains("query id \"q9\""),
            "{err}"
        );
    }

    #[test]
    fn no_evaluable_query_is_an_error() {
        let dir = dataset(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\t0\n");
        let err = format!("{:#}", load(dir.path(), 0).unwrap_err());
        assert!(err.contains("no query has a relevant document"), "{err}");
    }
}
