//! Decoding of one input object into JSON bytes: gzip is sniffed by its magic
//! bytes (never by the file name), multi-member gzip is supported, and a
//! per-object size guard stops decompression bombs.

use std::io::Read;

use crate::error::InputError;

/// Default limit on the decompressed size of one object (4 GiB).
pub const DEFAULT_MAX_DECOMPRESSED: u64 = 4 << 30;

/// Is this buffer the start of a gzip stream?
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// Decoder state reused by one worker across many objects.
///
/// Gzip is inflated in one of two ways:
///
/// * fast path: libdeflate inflates the whole buffer in one call into a
///   buffer sized by the gzip trailer's ISIZE. libdeflate decodes only the
///   first member and does not say how much input it consumed, so its result
///   is kept only when it is proven to cover the whole input (see
///   `Decoder::try_whole_buffer`);
/// * the correct path for everything else (multi-member gzip, a lying or
///   wrapped ISIZE, damaged data, trailing bytes): flate2 member by member,
///   bounded by the limit.
pub struct Decoder {
    /// Output buffer. On the fast path its `len` stays at its high-water mark
    /// so that memory is never re-zeroed per object.
    out: Vec<u8>,
    inflater: libdeflater::Decompressor,
    /// Objects inflated by the fast path / by the streaming path.
    pub fast_inflates: u64,
    pub fallback_inflates: u64,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            out: Vec::new(),
            inflater: libdeflater::Decompressor::new(),
            fast_inflates: 0,
            fallback_inflates: 0,
        }
    }
}

/// The decoded bytes of one object, and what went wrong if the object could
/// only be decoded in part (a truncated gzip stream, trailing garbage): the
/// bytes before the problem are still returned, so their records are read.
#[derive(Debug)]
pub struct Decoded<'a> {
    pub bytes: &'a [u8],
    pub problem: Option<InputError>,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inflate a single-member gzip `input` whole with libdeflate, or return
    /// `None` when that cannot be proven correct (the caller then takes the
    /// streaming path, which handles every case).
    ///
    /// Proof that nothing was left undecoded: on success libdeflate has
    /// decoded the first member `input[..p]` into `n` bytes and checked that
    /// member's own trailer (CRC32 and ISIZE), so `input[p-4..p] == le32(n)`.
    /// If `p < len`, those four bytes occur at offset `p-4 <= len-5`, inside
    /// `input[..len-1]`. We require that `le32(n)` does *not* occur in
    /// `input[..len-1]`; hence `p == len` and the first member is the whole
    /// input. This covers two identical members (the first trailer would be
    /// found) and trailing bytes of any kind. A chance occurrence of the four
    /// bytes inside the compressed data only costs a fallback.
    fn try_whole_buffer(&mut self, input: &[u8], limit: u64) -> Option<usize> {
        let len = input.len();
        if len < 18 {
            return None;
        }
        let t = &input[len - 4..];
        let isize = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize;
        // ISIZE is mod 2^32 and may lie: too small fails with
        // InsufficientSpace, too large fails the proof; both fall back.
        if isize as u64 > limit || isize > (1 << 30) {
            return None;
        }
        if self.out.len() < isize {
            self.out.resize(isize, 0);
        }
        let n = self
            .inflater
            .gzip_decompress(input, &mut self.out[..isize])
            .ok()?;
        let needle = (n as u32).to_le_bytes();
        if n != isize || memchr::memmem::find(&input[..len - 1], &needle).is_some() {
            return None;
        }
        Some(n)
    }

    /// Decode `input` (gzip, detected by its magic bytes, possibly
    /// multi-member; or plain) into JSON bytes. Plain input is returned as is;
    /// gzip is inflated into the decoder's reused buffer. Exceeding `limit`
    /// is an error (nothing is returned); a damaged gzip stream returns what
    /// could be inflated before the damage, with the problem.
    pub fn decode<'a>(
        &'a mut self,
        name: &str,
        input: &'a [u8],
        limit: u64,
    ) -> Result<Decoded<'a>, InputError> {
        if !is_gzip(input) {
            if input.len() as u64 > limit {
                return Err(InputError::TooLarge {
                    name: name.to_string(),
                    limit,
                });
            }
            return Ok(Decoded {
                bytes: input,
                problem: None,
            });
        }
        if let Some(n) = self.try_whole_buffer(input, limit) {
            self.fast_inflates += 1;
            return Ok(Decoded {
                bytes: &self.out[..n],
                problem: None,
            });
        }
        self.fallback_inflates += 1;
        self.out.clear();
        // The gzip trailer's ISIZE is the size of the last member (mod 2^32):
        // a good first guess for the buffer size, capped by the limit.
        if input.len() >= 18 {
            let t = &input[input.len() - 4..];
            let isize = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as u64;
            let want = isize.min(limit).min(1 << 30) as usize;
            if self.out.capacity() < want {
                self.out.reserve(want);
            }
        }
        let mut problem = None;
        let mut rest: &[u8] = input;
        let mut members = 0usize;
        loop {
            members += 1;
            let mut dec = flate2::bufread::GzDecoder::new(rest);
            let room = limit
                .saturating_add(1)
                .saturating_sub(self.out.len() as u64);
            let res = (&mut dec).take(room).read_to_end(&mut self.out);
            if self.out.len() as u64 > limit {
                return Err(InputError::TooLarge {
                    name: name.to_string(),
                    limit,
                });
            }
            if let Err(e) = res {
                problem = Some(InputError::Gzip {
                    name: name.to_string(),
                    reason: describe_gzip_error(&e),
                });
                break;
            }
            rest = dec.into_inner();
            if rest.is_empty() {
                break;
            }
            if is_gzip(rest) {
                continue;
            }
            if rest.iter().all(|b| *b == 0) {
                // Zero padding after the last member (some copy tools add it).
                break;
            }
            problem = Some(InputError::Gzip {
                name: name.to_string(),
                reason: format!(
                    "{} byte(s) of trailing garbage after gzip member {members}",
                    rest.len()
                ),
            });
            break;
        }
        Ok(Decoded {
            bytes: &self.out,
            problem,
        })
    }
}

fn describe_gzip_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            "truncated gzip stream (unexpected end of file)".into()
        }
        _ => e.to_string(),
    }
}

/// Read a whole stream (stdin, an S3 body) into memory, bounded by `limit`
/// compressed bytes.
pub fn read_all_bounded(
    name: &str,
    mut r: impl Read,
    limit: u64,
    buf: &mut Vec<u8>,
) -> Result<(), InputError> {
    buf.clear();
    let mut limited = (&mut r).take(limit.saturating_add(1));
    limited.read_to_end(buf).map_err(|source| InputError::Io {
        name: name.to_string(),
        source,
    })?;
    if buf.len() as u64 > limit {
        return Err(InputError::TooLarge {
            name: name.to_string(),
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_passes_through() {
        let mut d = Decoder::new();
        assert_eq!(d.decode("x", b"{}", 100).unwrap().bytes, b"{}");
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let mut both = gz(b"hello ");
        both.extend(gz(b"world"));
        let mut d = Decoder::new();
        let r = d.decode("x", &both, 100).unwrap();
        assert_eq!(r.bytes, b"hello world");
        assert!(r.problem.is_none());
    }

    #[test]
    fn truncated_gzip_is_an_error_naming_the_file() {
        let full = gz(&vec![b'a'; 10_000]);
        let cut = &full[..full.len() / 2];
        let mut d = Decoder::new();
        let r = d.decode("logs/a.json.gz", cut, 1 << 20).unwrap();
        let err = r.problem.expect("a truncated stream is reported");
        assert!(err.to_string().contains("logs/a.json.gz"), "{err}");
        assert!(
            !r.bytes.is_empty() && r.bytes.iter().all(|b| *b == b'a'),
            "the part before the cut is kept"
        );
    }

    #[test]
    fn trailing_garbage_is_reported_after_the_data() {
        let mut v = gz(b"data");
        v.extend(b"GARBAGE");
        let mut d = Decoder::new();
        let r = d.decode("g.gz", &v, 100).unwrap();
        assert_eq!(r.bytes, b"data");
        assert!(r.problem.unwrap().to_string().contains("trailing garbage"));
        let mut v = gz(b"data");
        v.extend([0u8; 16]);
        let r = d.decode("z.gz", &v, 100).unwrap();
        assert!(r.problem.is_none(), "zero padding is not garbage");
    }

    #[test]
    fn single_member_takes_the_fast_path() {
        let data = b"{\"Records\":[]}".repeat(100);
        let mut d = Decoder::new();
        let z = gz(&data);
        let r = d.decode("x", &z, 1 << 20).unwrap();
        assert_eq!(r.bytes, &data[..]);
        assert_eq!((d.fast_inflates, d.fallback_inflates), (1, 0));
    }

    #[test]
    fn two_identical_members_are_read_whole() {
        // Same CRC and ISIZE in both trailers: the fast path must not stop
        // after the first member.
        let one = gz(b"same bytes in both members");
        let mut both = one.clone();
        both.extend(&one);
        let mut d = Decoder::new();
        let r = d.decode("x", &both, 1000).unwrap();
        assert_eq!(
            r.bytes,
            b"same bytes in both memberssame bytes in both members"
        );
        assert!(r.problem.is_none());
        assert_eq!(d.fallback_inflates, 1);
        // And a later single-member object still decodes correctly.
        let r = d.decode("y", &one, 1000).unwrap();
        assert_eq!(r.bytes, b"same bytes in both members");
    }

    #[test]
    fn fast_and_streaming_paths_agree_on_member_mixes() {
        let parts: [&[u8]; 3] = [b"alpha ", b"", b"gamma gamma gamma"];
        let mut d = Decoder::new();
        for k in 1..=3 {
            let mut v = Vec::new();
            let mut want = Vec::new();
            for p in parts.iter().take(k) {
                v.extend(gz(p));
                want.extend_from_slice(p);
            }
            let r = d.decode("m", &v, 1000).unwrap();
            assert_eq!(r.bytes, &want[..], "{k} member(s)");
            assert!(r.problem.is_none());
        }
    }

    #[test]
    fn lying_isize_falls_back() {
        let mut v = gz(&vec![b'x'; 5000]);
        let n = v.len();
        v[n - 4..].copy_from_slice(&10u32.to_le_bytes());
        let mut d = Decoder::new();
        let r = d.decode("lie", &v, 1 << 20).unwrap();
        // flate2 checks the trailer too: the stream is reported as damaged.
        assert!(r.problem.is_some());
        assert_eq!(d.fast_inflates, 0);
    }

    #[test]
    fn bomb_is_stopped_by_the_limit() {
        let bomb = gz(&vec![0u8; 1 << 20]);
        let mut d = Decoder::new();
        let err = d.decode("bomb.gz", &bomb, 1000).unwrap_err();
        assert!(matches!(err, InputError::TooLarge { .. }));
        assert!(err.to_string().contains("bomb.gz"));
    }
}
