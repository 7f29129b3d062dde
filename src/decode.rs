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
#[derive(Default)]
pub struct Decoder {
    out: Vec<u8>,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode `input` (gzip or plain) and return the JSON bytes. Plain input is
    /// returned as is (borrowed); gzip is inflated into the decoder's reused
    /// buffer.
    pub fn decode<'a>(
        &'a mut self,
        name: &str,
        input: &'a [u8],
        limit: u64,
    ) -> Result<&'a [u8], InputError> {
        if !is_gzip(input) {
            if input.len() as u64 > limit {
                return Err(InputError::TooLarge {
                    name: name.to_string(),
                    limit,
                });
            }
            return Ok(input);
        }
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
        let dec = flate2::read::MultiGzDecoder::new(input);
        // Read at most limit+1 bytes so that exceeding the limit is detected.
        let mut limited = dec.take(limit.saturating_add(1));
        match limited.read_to_end(&mut self.out) {
            Ok(_) => {}
            Err(e) => {
                return Err(InputError::Gzip {
                    name: name.to_string(),
                    reason: describe_gzip_error(&e),
                });
            }
        }
        if self.out.len() as u64 > limit {
            return Err(InputError::TooLarge {
                name: name.to_string(),
                limit,
            });
        }
        Ok(&self.out)
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
        assert_eq!(d.decode("x", b"{}", 100).unwrap(), b"{}");
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let mut both = gz(b"hello ");
        both.extend(gz(b"world"));
        let mut d = Decoder::new();
        assert_eq!(d.decode("x", &both, 100).unwrap(), b"hello world");
    }

    #[test]
    fn truncated_gzip_is_an_error_naming_the_file() {
        let full = gz(&vec![b'a'; 10_000]);
        let cut = &full[..full.len() / 2];
        let mut d = Decoder::new();
        let err = d.decode("logs/a.json.gz", cut, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("logs/a.json.gz"), "{err}");
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
