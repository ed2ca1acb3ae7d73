//! Record framing and body encoding, shared by the write-ahead log and snapshots.
//!
//! A file is a sequence of frames `[len u32 LE][crc32 u32 LE][body; len]`, the crc covering the
//! body. A body starts with a one-byte tag:
//! - `1` upsert: `[dims u32][count u32]` then per point
//!   `[id 16 bytes][payload_len u32][payload JSON][dims × f32 LE]` (vectors already L2-normalised);
//! - `2` delete-doc-except: four length-prefixed UTF-8 strings
//!   (tenant, doc_id, keep.content_sha256, keep.pipeline_version);
//! - `3` snapshot begin: `[format u32][dims u32]`;
//! - `4` snapshot end: `[points u64]`.

use std::io::{self, BufReader, Read};

use uuid::Uuid;

use crate::index::{ChunkPayload, VersionKey};

/// Bytes of a frame header.
pub(super) const FRAME_HEADER: u64 = 8;

const TAG_UPSERT: u8 = 1;
const TAG_DELETE: u8 = 2;
const TAG_SNAP_BEGIN: u8 = 3;
const TAG_SNAP_END: u8 = 4;

/// A point as stored: vector normalised, payload alongside.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StoredPoint {
    pub id: Uuid,
    pub vector: Vec<f32>,
    pub payload: ChunkPayload,
    /// Encoded size in an upsert body ([`point_bytes`]).
    pub bytes: u64,
}

/// One decoded record body.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Op {
    Upsert {
        dims: u32,
        points: Vec<StoredPoint>,
    },
    DeleteDocExcept {
        tenant: String,
        doc_id: String,
        keep: VersionKey,
    },
    SnapshotBegin {
        format: u32,
        dims: u32,
    },
    SnapshotEnd {
        points: u64,
    },
}

/// Bytes a point takes in an upsert body: what compaction accounting calls "live".
pub(super) fn point_bytes(payload_json_len: usize, dims: usize) -> u64 {
    (16 + 4 + payload_json_len + 4 * dims) as u64
}

/// Appends a framed upsert of `points` (each `(id, normalised vector, payload)`) to `out` and
/// returns the encoded size of each point.
pub(super) fn encode_upsert<'a>(
    out: &mut Vec<u8>,
    dims: usize,
    points: impl ExactSizeIterator<Item = (&'a Uuid, &'a [f32], &'a ChunkPayload)>,
) -> io::Result<Vec<u64>> {
    let start = begin_frame(out);
    out.push(TAG_UPSERT);
    put_u32(out, len_u32(dims)?);
    put_u32(out, len_u32(points.len())?);
    let mut sizes = Vec::with_capacity(points.len());
    for (id, vector, payload) in points {
        out.extend_from_slice(id.as_bytes());
        let json = serde_json::to_vec(payload).map_err(io::Error::other)?;
        put_u32(out, len_u32(json.len())?);
        out.extend_from_slice(&json);
        debug_assert_eq!(vector.len(), dims);
        for x in vector {
            out.extend_from_slice(&x.to_le_bytes());
        }
        sizes.push(point_bytes(json.len(), dims));
    }
    end_frame(out, start)?;
    Ok(sizes)
}

/// Appends a framed op without points (delete, snapshot begin/end) to `out`.
pub(super) fn encode_small(out: &mut Vec<u8>, op: &Op) -> io::Result<()> {
    let start = begin_frame(out);
    match op {
        Op::Upsert { .. } => return Err(io::Error::other("encode_small: use encode_upsert")),
        Op::DeleteDocExcept {
            tenant,
            doc_id,
            keep,
        } => {
            out.push(TAG_DELETE);
            for s in [tenant, doc_id, &keep.content_sha256, &keep.pipeline_version] {
                put_u32(out, len_u32(s.len())?);
                out.extend_from_slice(s.as_bytes());
            }
        }
        Op::SnapshotBegin { format, dims } => {
            out.push(TAG_SNAP_BEGIN);
            put_u32(out, *format);
            put_u32(out, *dims);
        }
        Op::SnapshotEnd { points } => {
            out.push(TAG_SNAP_END);
            out.extend_from_slice(&points.to_le_bytes());
        }
    }
    end_frame(out, start)
}

fn begin_frame(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER as usize]);
    start
}

fn end_frame(out: &mut [u8], start: usize) -> io::Result<()> {
    let body_start = start + FRAME_HEADER as usize;
    let len = len_u32(out.len() - body_start)?;
    let crc = crc32fast::hash(&out[body_start..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..body_start].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn len_u32(n: usize) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| io::Error::other(format!("record too large ({n})")))
}

/// Decodes a body whose checksum already matched. An error here means a bug or a format change,
/// never a torn write.
pub(super) fn decode(body: &[u8]) -> Result<Op, String> {
    let mut c = Cursor { buf: body, pos: 0 };
    let op = match c.u8()? {
        TAG_UPSERT => {
            let dims = c.u32()?;
            let count = c.u32()? as usize;
            // Bound the allocation by what the body can hold.
            let mut points = Vec::with_capacity(count.min(body.len() / 20));
            for _ in 0..count {
                let id = Uuid::from_bytes(c.take(16)?.try_into().map_err(|_| "uuid")?);
                let json_len = c.u32()? as usize;
                let payload = serde_json::from_slice(c.take(json_len)?)
                    .map_err(|e| format!("payload JSON: {e}"))?;
                let raw = c.take(4 * dims as usize)?;
                let vector = raw
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                let bytes = point_bytes(json_len, dims as usize);
                points.push(StoredPoint {
                    id,
                    vector,
                    payload,
                    bytes,
                });
            }
            Op::Upsert { dims, points }
        }
        TAG_DELETE => Op::DeleteDocExcept {
            tenant: c.string()?,
            doc_id: c.string()?,
            keep: VersionKey {
                content_sha256: c.string()?,
                pipeline_version: c.string()?,
            },
        },
        TAG_SNAP_BEGIN => Op::SnapshotBegin {
            format: c.u32()?,
            dims: c.u32()?,
        },
        TAG_SNAP_END => Op::SnapshotEnd { points: c.u64()? },
        tag => return Err(format!("unknown record tag {tag}")),
    };
    if c.pos != body.len() {
        return Err(format!("{} trailing bytes in record", body.len() - c.pos));
    }
    Ok(op)
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| format!("record ends early at byte {}", self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let mut a = [0; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self) -> Result<String, String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| format!("string: {e}"))
    }
}

/// What the next frame of a file is.
#[derive(Debug)]
pub(super) enum Frame {
    /// A frame whose checksum matched.
    Good(Vec<u8>),
    /// Clean end of file.
    End,
    /// A torn or corrupt frame starting at `FrameReader::offset`: nothing from here on is trusted.
    Bad(String),
}

/// Reads frames from a file of known length without trusting its lengths.
pub(super) struct FrameReader<R> {
    inner: BufReader<R>,
    /// Offset of the next frame: after `Bad`, where the good prefix ends.
    pub offset: u64,
    len: u64,
}

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R, len: u64) -> Self {
        Self {
            inner: BufReader::with_capacity(1 << 20, inner),
            offset: 0,
            len,
        }
    }

    pub fn next_frame(&mut self) -> io::Result<Frame> {
        let remaining = self.len.saturating_sub(self.offset);
        if remaining == 0 {
            return Ok(Frame::End);
        }
        if remaining < FRAME_HEADER {
            return Ok(Frame::Bad(format!("torn frame header ({remaining} bytes)")));
        }
        let mut header = [0u8; FRAME_HEADER as usize];
        self.inner.read_exact(&mut header)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as u64;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > remaining - FRAME_HEADER {
            return Ok(Frame::Bad(format!(
                "frame of {len} bytes runs past the end of the file ({} bytes left)",
                remaining - FRAME_HEADER
            )));
        }
        let mut body = vec![0u8; len as usize];
        self.inner.read_exact(&mut body)?;
        if crc32fast::hash(&body) != crc {
            return Ok(Frame::Bad("checksum mismatch".into()));
        }
        self.offset += FRAME_HEADER + len;
        Ok(Frame::Good(body))
    }
}
